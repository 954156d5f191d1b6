// The stand-in for a notifier that a rule names but the configuration leaves unusable (Talon's chart ships
// `slack` with an empty webhookUrl; Talon logs it and never sends). Every send is refused with
// NotificationSkipped, which the observer counts as kestrel_notifications_total{status="skipped"} and does
// not log as a failure: the warning was given once, at start (rules/setup-check.ts).
import { KestrelError } from "../errors.ts";
import type { NotifierInstance } from "../plugins/types.ts";

export class NotificationSkipped extends KestrelError {
  constructor(notifier: string, reason: string) {
    super("ERR_NOTIFY", `notifier "${notifier}" is not configured (${reason}): notification skipped`, { retryable: false });
  }
}

export function unconfiguredNotifier(name: string, reason: string): NotifierInstance {
  const skipped = new NotificationSkipped(name, reason);
  return {
    send() {
      return Promise.reject(skipped);
    },
  };
}
