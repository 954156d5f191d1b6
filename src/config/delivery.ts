// Which notifications a notifier takes, set next to its own settings in config.yaml and common to every
// notifier (Kestrel additions): `min_priority` drops notifications about events less severe than that
// priority; `on_status` keeps only results with these statuses (e.g. [failure]). Events that a rule routes
// to a notifier on purpose (kind "event") are filtered by priority only.
import { z } from "zod";
import { PRIORITIES, priorityLevel } from "../events/priority.ts";
import type { Notification } from "../plugins/types.ts";
import { stringList } from "./schema.ts";

const STATUSES = ["success", "failure", "ignored"] as const;

export const deliverySettings = z.strictObject({
  min_priority: z
    .string()
    .refine((p) => priorityLevel(p) >= 0, { error: `must be a Falco priority (${PRIORITIES.join(", ")})` })
    .optional()
    .describe("only notifications about events of this priority or more severe"),
  on_status: stringList
    .pipe(z.array(z.enum(STATUSES, { error: `must be ${STATUSES.join(", ")}` })))
    .optional()
    .describe("only results with these statuses (success, failure, ignored)"),
});

/** The keys every notifier accepts besides its own settings. */
export const DELIVERY_KEYS: readonly string[] = Object.keys(deliverySettings.shape);

export type DeliverySettings = z.output<typeof deliverySettings>;

export interface NotificationFilter {
  /** Levels above this (less severe) are dropped; 7 (Debug) keeps everything. */
  readonly maxLevel: number;
  readonly statuses: ReadonlySet<string> | undefined;
}

export const PASS_ALL: NotificationFilter = { maxLevel: 7, statuses: undefined };

export function notificationFilter(settings: DeliverySettings): NotificationFilter {
  return {
    maxLevel: settings.min_priority === undefined ? 7 : priorityLevel(settings.min_priority),
    statuses: settings.on_status === undefined ? undefined : new Set(settings.on_status),
  };
}

export function passes(filter: NotificationFilter, n: Notification): boolean {
  if (n.event.priorityLevel > filter.maxLevel) return false;
  return n.kind === "event" || filter.statuses === undefined || filter.statuses.has(n.status);
}
