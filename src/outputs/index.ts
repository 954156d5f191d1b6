// The outputs (artifact targets) Kestrel ships: one file under <category>/<name>.ts and one line here.
import localFile from "./local/file.ts";
import type { Output } from "../plugins/types.ts";

export const outputs: readonly Output[] = [localFile as Output];
