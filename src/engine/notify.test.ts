import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeNotification } from "../../test/support/notification.ts";
import type { Notification, NotifierInstance } from "../plugins/types.ts";
import { type DeliveryPolicy, defaultDeliveryPolicy, Notifications } from "./notify.ts";
import type { EngineObserver } from "./observer.ts";

interface Finished {
  status: string;
  error: string | undefined;
  quiet: boolean;
}

function recordingObserver(finished: Finished[]): EngineObserver {
  const none = () => {};
  return {
    eventReceived: none,
    eventRejected: none,
    eventDuplicate: none,
    ruleMatched: none,
    actionDispatched: none,
    actionFinished: none,
    outputFinished: none,
    queueDepth: none,
    problem: none,
    notificationFinished(_notifier, _n, status, error, quiet) {
      finished.push({ status, error: error === undefined ? undefined : (error as Error).message, quiet: quiet === true });
    },
  };
}

describe("notification delivery queues", () => {
  it("counts every notification a full queue refuses, and logs them once a second with how many came before", async () => {
    const finished: Finished[] = [];
    const hanging: NotifierInstance = { send: () => new Promise<void>(() => {}) };
    const policy: DeliveryPolicy = { ...defaultDeliveryPolicy, concurrency: 1, queueSize: 2, timeoutMs: 60_000 };
    const notifications = new Notifications({ instances: new Map([["slow", hanging]]), defaults: ["slow"], observer: recordingObserver(finished), policy });
    const n: Notification = makeNotification();
    for (let i = 0; i < 10; i++) notifications.notify([], n); // 1 sending, 2 waiting, 7 refused
    assert.equal(finished.length, 7);
    assert.ok(finished.every((f) => f.status === "failure"));
    assert.deepEqual(
      finished.map((f) => f.quiet),
      [false, true, true, true, true, true, true],
    );
    assert.match(finished[0]!.error!, /notifier "slow" has 2 notifications waiting$/);
    await new Promise((r) => setTimeout(r, 1050));
    notifications.notify([], n);
    assert.equal(finished.length, 8);
    assert.equal(finished[7]!.quiet, false);
    assert.match(finished[7]!.error!, /\(6 more refused since the last report\)$/);
  });
});
