// SIGTERM under load, as a process: the intake stops taking events, every event already accepted has its
// actions run to the end within the shutdown deadline, the summary counts them all, and the exit code is 0.
// The deadline is one for everything: a backlog of actions or of notifications to a slow notifier is cut
// at shutdown_timeout_seconds, what is left is dropped and logged once, and the process exits 0 within the
// deadline plus 1 s.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { type KestrelProcess, startKestrelProcess, tempFiles } from "../support/process.ts";
import { startReceiver } from "../support/receiver.ts";

/** Log records whose message matches `re`. */
function records(kestrel: KestrelProcess, re: RegExp): Record<string, unknown>[] {
  return kestrel.logs.filter((l) => re.test(String(l["msg"])));
}

describe("kestrel server stopped under load", () => {
  it("drains once when the signal comes twice (Ctrl-C under npm start: from the terminal and from npm)", async () => {
    const dir = await tempFiles("kestrel-e2e-shutdown-", {
      "config.yaml":
        "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nworkers: 1\nshutdown_timeout_seconds: 30\nwatch_rules: false\n",
      "rules.yaml": `- rule: Slow\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Take a while\n      actionner: local:command\n      parameters: { command: ["/bin/sleep", "0.3"] }\n`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    try {
      const answers = await Promise.all(Array.from({ length: 3 }, () => kestrel.post(falcoEvent())));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      const exited = kestrel.stop("SIGINT");
      await kestrel.waitForLine("no new events, draining queued actions", 5000, "the drain to start");
      kestrel.child.kill("SIGINT"); // the second one, while it drains
      assert.equal(await exited, 0);
      assert.match(kestrel.lines.join("\n"), /Actions by status:\s+success: 3\b/, "the queued actions ran to the end");
    } finally {
      kestrel.kill();
    }
  });

  it("finishes every accepted event's actions before exiting 0", async () => {
    const dir = await tempFiles("kestrel-e2e-shutdown-", {
      "config.yaml":
        "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nworkers: 4\nshutdown_timeout_seconds: 30\nwatch_rules: false\n",
      "rules.yaml": `- rule: Slow\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Take a while\n      actionner: local:command\n      parameters: { command: ["/bin/sleep", "0.3"] }\n`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    try {
      const post = (i: number) => kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": `pod-${i}` } }));
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(i)));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      const stoppedAt = Date.now();
      const exited = kestrel.stop();
      // Events sent during the drain are refused (503 or a closed connection), never accepted and dropped.
      await kestrel.waitForLine("no new events, draining queued actions", 5000, "the drain to start");
      const late = await post(99).then(
        (r) => r.status,
        () => "refused",
      );
      assert.ok(late === 503 || late === "refused", `late event: ${late}`);
      assert.equal(await exited, 0);
      assert.ok(Date.now() - stoppedAt >= 1000, "it waited for the queued actions (40 × 0.3 s on 4 workers)");
      const out = kestrel.lines.join("\n");
      assert.match(out, /Events received: 40\b/);
      assert.match(out, /Actions by status:\s+success: 40\b/);
    } finally {
      kestrel.kill();
    }
  });

  it("drops a slow notifier's backlog at the deadline: exit 0 within shutdown_timeout_seconds + 1 s, one log line", async () => {
    const receiver = await startReceiver();
    // Every answer takes 2 s: 40 notifications, 4 at a time, are 20 s of backlog for a 3 s deadline.
    receiver.script(...Array.from({ length: 100 }, () => ({ status: 200, delayMs: 2000 })));
    const dir = await tempFiles("kestrel-e2e-shutdown-", {
      "config.yaml": `listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nworkers: 4\nshutdown_timeout_seconds: 3\nwatch_rules: false\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}\n`,
      "rules.yaml": `- rule: Quick\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Done at once\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, () => kestrel.post(falcoEvent())));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      await kestrel.waitFor(
        () => records(kestrel, /^action success$/).length === 40 && receiver.requests.length >= 4,
        10_000,
        "the actions and the first deliveries",
      );
      const stoppedAt = Date.now();
      const code = await kestrel.stop("SIGTERM", 15_000);
      const took = Date.now() - stoppedAt;
      assert.equal(code, 0);
      assert.ok(took < 4000, `exited ${took} ms after SIGTERM (deadline 3 s + 1 s)`);
      assert.ok(took >= 2500, `it delivered until the deadline (${took} ms)`);
      const dropped = records(kestrel, /notifications? dropped/);
      assert.equal(dropped.length, 1, "logged once");
      const n = Number(/(\d+) notifications? dropped/.exec(String(dropped[0]!["msg"]))![1]);
      assert.ok(n >= 20 && n <= 40 - 4, `${n} dropped (4 at a time × 2 s in 3 s delivers 4 to 8)`);
      assert.match(String(dropped[0]!["msg"]), new RegExp(`\\(webhook: ${n}\\)`));
      assert.equal(records(kestrel, /^notification failed$/).length, 0, "no line per dropped notification");
      assert.match(kestrel.lines.join("\n"), /Actions by status:\s+success: 40\b/);
    } finally {
      kestrel.kill();
      await receiver.close();
    }
  });

  it("drops the queued actions at the deadline: the running ones are cancelled, the rest never start", async () => {
    const dir = await tempFiles("kestrel-e2e-shutdown-", {
      "config.yaml":
        "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nworkers: 2\nshutdown_timeout_seconds: 2\nwatch_rules: false\n",
      "rules.yaml": `- rule: Slow\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Take a while\n      actionner: local:command\n      parameters: { command: ["/bin/sleep", "1"] }\n`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    try {
      // 30 events × 1 s on 2 workers: 15 s of work for a 2 s deadline.
      const answers = await Promise.all(Array.from({ length: 30 }, () => kestrel.post(falcoEvent())));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      const stoppedAt = Date.now();
      const code = await kestrel.stop("SIGTERM", 15_000);
      const took = Date.now() - stoppedAt;
      assert.equal(code, 0);
      assert.ok(took < 3000, `exited ${took} ms after SIGTERM (deadline 2 s + 1 s)`);
      const dropped = records(kestrel, /queued events? dropped/);
      assert.equal(dropped.length, 1, "logged once");
      const events = Number(/(\d+) queued events? dropped, (\d+) actions? not run/.exec(String(dropped[0]!["msg"]))![1]);
      const out = kestrel.lines.join("\n");
      const success = Number(/success: (\d+)/.exec(out)?.[1] ?? 0);
      const failure = Number(/failure: (\d+)/.exec(out)?.[1] ?? 0);
      assert.ok(failure <= 2, `only the running actions were cancelled (${failure})`);
      assert.equal(success + failure + events, 30, "each event ran, was cancelled or was dropped");
      assert.ok(events >= 20, `${events} dropped`);
      assert.match(out, new RegExp(`Events dropped at the shutdown deadline: ${events}\n`), "counted in the exit summary");
    } finally {
      kestrel.kill();
    }
  });
});
