// The actionners Kestrel ships. Adding one = one file under <category>/<name>.ts and one line here;
// a test fails when this list and the folder disagree.
import localCommand from "./local/command.ts";
import type { Actionner } from "../plugins/types.ts";

export const actionners: readonly Actionner[] = [localCommand as Actionner];
