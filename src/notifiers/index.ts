// The notifiers Kestrel ships, named bare as in Talon (`notifiers: [webhook]`): one file each.

import type { Notifier } from "../plugins/types.ts";
import alertmanager from "./alertmanager.ts";
import elasticsearch from "./elasticsearch.ts";
import file from "./file.ts";
import k8sevents from "./k8sevents.ts";
import loki from "./loki.ts";
import pagerduty from "./pagerduty.ts";
import program from "./program.ts";
import slack from "./slack.ts";
import smtp from "./smtp.ts";
import stdout from "./stdout.ts";
import syslog from "./syslog.ts";
import webhook from "./webhook.ts";

export const notifiers: readonly Notifier[] = [
  stdout,
  webhook,
  k8sevents,
  smtp,
  loki,
  elasticsearch,
  file,
  syslog,
  program,
  slack,
  alertmanager,
  pagerduty,
];
