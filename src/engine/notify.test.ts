import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { laterBy } from "../../test/support/clock.ts";
import { makeNotification } from "../../test/support/notification.ts";
import type { Notification, NotifierInstance } from "../plugins/types.ts";
import { type DeliveryPolicy, defaultDeliveryPolicy, Notifications } from "./notify.ts";
import type { EngineObserver } from "./observer.ts";

interface Finished {
  status: string;
  error: string | undefined;
  quiet: boolean;
}

function recordingObserver(finished: Finished[], problems: string[] = []): EngineObserver {
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
    problem: (message) => problems.push(message),
    notificationFinished(_notifier, _n, status, error, quiet) {
      finished.push({ status, error: error === undefined ? undefined : (error as Error).message, quiet: quiet === true });
    },
  };
}

describe("notification delivery queues", () => {
  it("counts every notification a full queue refuses, and logs them once a second with how many came before", (t) => {
    const finished: Finished[] = [];
    const hanging: NotifierInstance = { send: () => new Promise<void>(() => {}) };
    const policy: DeliveryPolicy = { ...defaultDeliveryPolicy, concurrency: 1, queueSize: 2, timeoutMs: 60_000 };
    const notifications = new Notifications({
      instances: new Map([["slow", hanging]]),
      defaults: ["slow"],
      observer: recordingObserver(finished),
      policy,
    });
    const n: Notification = makeNotification();
    for (let i = 0; i < 10; i++) notifications.notify([], n); // 1 sending, 2 waiting, 7 refused
    assert.equal(finished.length, 7);
    assert.ok(finished.every((f) => f.status === "failure"));
    assert.deepEqual(
      finished.map((f) => f.quiet),
      [false, true, true, true, true, true, true],
    );
    assert.match(finished[0]!.error!, /notifier "slow" has 2 notifications waiting$/);
    laterBy(t, 1050); // past the second: the next refusal is logged
    notifications.notify([], n);
    assert.equal(finished.length, 8);
    assert.equal(finished[7]!.quiet, false);
    assert.match(finished[7]!.error!, /\(6 more refused since the last report\)$/);
  });

  it("at close, delivers until the deadline, then cancels the sends in progress and drops the rest: counted, logged once", async () => {
    const finished: Finished[] = [];
    const problems: string[] = [];
    let cancelled = 0;
    // A notifier that answers in 200 ms, and stops when its signal aborts (as an HTTP request does).
    const slow: NotifierInstance = {
      send: (_n, signal) =>
        new Promise<void>((resolve, reject) => {
          let done = false;
          const timer = setTimeout(() => {
            done = true;
            resolve();
          }, 200);
          signal.addEventListener("abort", () => {
            if (done) return;
            cancelled++;
            clearTimeout(timer);
            reject(new Error("aborted"));
          });
        }),
    };
    let closedAt = 0;
    const flushing: NotifierInstance = {
      send: async () => {},
      close: async () => {
        closedAt = performance.now();
      },
    };
    const policy: DeliveryPolicy = { ...defaultDeliveryPolicy, concurrency: 2 };
    const notifications = new Notifications({
      instances: new Map([
        ["slow", slow],
        ["fast", flushing],
      ]),
      defaults: ["slow", "fast"],
      observer: recordingObserver(finished, problems),
      policy,
    });
    for (let i = 0; i < 20; i++) notifications.notify([], makeNotification());
    const started = performance.now();
    const dropped = await notifications.close(500);
    const took = performance.now() - started;
    assert.ok(took >= 480 && took < 1000, `closed in ${Math.round(took)} ms`);
    // 2 at a time × 200 ms in 500 ms: 4 delivered (fewer on a busy machine), 2 cut mid-send, the rest never sent.
    const slowSuccesses = finished.filter((f) => f.status === "success").length - 20; // the fast notifier delivered its 20
    assert.ok(slowSuccesses >= 2 && slowSuccesses <= 4, String(slowSuccesses));
    assert.equal(dropped, 20 - slowSuccesses);
    assert.equal(cancelled, 2, "the sends in progress were cancelled");
    const failures = finished.filter((f) => f.status === "failure");
    assert.equal(failures.length, dropped, "each dropped notification is counted as a failure");
    assert.ok(
      failures.every((f) => f.quiet),
      "not logged one by one",
    );
    assert.deepEqual(problems, [`the shutdown deadline passed: ${dropped} notifications dropped, not delivered (slow: ${dropped})`]);
    assert.ok(closedAt > 0, "the notifiers are closed (flushed)");
    notifications.notify([], makeNotification());
    assert.equal(
      finished.filter((f) => f.status === "failure").length,
      dropped + 2,
      "a notification after the deadline is dropped by both",
    );
  });
});
