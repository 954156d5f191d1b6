// A Notification as the engine hands it to notifiers, built from a realistic Falco event, for the unit
// tests of notifiers (payload shaping without a running server).
import { parseEvent } from "../../src/events/parse.ts";
import type { Notification } from "../../src/plugins/types.ts";
import { type EventOverrides, falcoEvent } from "./events.ts";

export function makeNotification(o: Partial<Omit<Notification, "event">> & { event?: EventOverrides } = {}): Notification {
  const { event, ...rest } = o;
  return {
    kind: "action",
    status: "success",
    rule: "Terminal shell in container",
    action: "Label the pod",
    actionner: "kubernetes:label",
    summary: 'the pod "nginx" in the namespace "default" has been labelled',
    objects: { pod: "nginx", namespace: "default" },
    event: parseEvent(falcoEvent(event)).event,
    traceId: "0b5e1f0c-3a4e-4c1e-9a43-4a7d9d6c2f11",
    time: new Date("2024-12-30T14:37:28.123Z"),
    ...rest,
  };
}
