// The notifiers Kestrel ships, named bare as in Talon (`notifiers: [webhook]`): one file each.
import k8sevents from "./k8sevents.ts";
import stdout from "./stdout.ts";
import webhook from "./webhook.ts";
import type { Notifier } from "../plugins/types.ts";

export const notifiers: readonly Notifier[] = [stdout as Notifier, webhook as Notifier, k8sevents as Notifier];
