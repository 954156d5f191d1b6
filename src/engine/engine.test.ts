// Talon's execution semantics with fake actionners and a recording notifier: a rule's actions run in order; a
// failure stops the rule's later actions unless ignore_errors; an action's `continue` (or its actionner's
// default) decides whether the next one runs; a rule with `continue: false` stops the later matched rules;
// a dry run runs and notifies nothing. Rules are built directly so that only the engine is under test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { z } from "zod";
import { createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import { parseEvent } from "../events/parse.ts";
import { podNameOf } from "../events/target.ts";
import { Metrics } from "../observability/metrics.ts";
import { Observer } from "../observability/observer.ts";
import { Registry } from "../plugins/registry.ts";
import type { Actionner, ContextProvider, Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule, RuleSet } from "../rules/types.ts";
import { compileParams } from "../template/template.ts";
import { recordingNotifications, testAction, testActionner, testRule } from "./__fixtures__/compiled.ts";
import { MemoryDedup } from "./dedup.ts";
import { Engine, targetKey } from "./engine.ts";

const calls: string[] = [];

function fake(
  name: string,
  continueByDefault: boolean,
  behaviour: "ok" | "fail" | "ignored" | "hang" | "preflight-fail" = "ok",
): Actionner {
  return testActionner(name, {
    continueByDefault,
    params: z.object({ value: z.string().default("") }),
    async preflight() {
      if (behaviour === "preflight-fail") throw new KestrelError("ERR_PREFLIGHT", "the pod is gone");
    },
    async run({ params, signal }) {
      calls.push(`${name}:${params.value}`);
      if (behaviour === "fail") throw new KestrelError("ERR_ACTION", `${name} failed`);
      if (behaviour === "hang") await new Promise((r) => signal.addEventListener("abort", r));
      return behaviour === "ignored" ? { status: "ignored", summary: "skipped a DaemonSet pod" } : { summary: `${name} done` };
    },
  });
}

function action(actionner: Actionner, options: { continue?: boolean; ignoreErrors?: boolean; value?: string } = {}): CompiledAction {
  return testAction(actionner, {
    params: compileParams({ value: options.value ?? "" }),
    continueAfter: options.continue ?? actionner.continueByDefault,
    ignoreErrors: options.ignoreErrors ?? false,
    staticContext: { "falco-talon.rule": "r" },
  });
}

const rule = testRule;

function build(rules: CompiledRule[], timeoutMs: number, sent: Notification[], stallMs?: number) {
  const log = pino({ level: "silent" });
  const metrics = new Metrics({ defaultMetrics: false });
  const observer = new Observer({ log, metrics, printAllEvents: false });
  const ruleSet: RuleSet = { rules, match: () => rules, notifierNames: new Set(["recorder"]), categories: new Set(["test"]) };
  const notifications = recordingNotifications(observer, sent);
  const engine = new Engine({
    ruleSet,
    dedup: new MemoryDedup(0),
    notifications,
    observer,
    clients: createClients(),
    contexts: new Registry<ContextProvider>("contexts", []),
    log,
    queueSize: 10,
    workers: 2,
    actionTimeoutMs: timeoutMs,
    ...(stallMs === undefined ? {} : { stallMs }),
  });
  return { engine, notifications, observer };
}

async function run(rules: CompiledRule[], timeoutMs = 5000): Promise<Notification[]> {
  calls.length = 0;
  const sent: Notification[] = [];
  const { engine, notifications } = build(rules, timeoutMs, sent);
  const { event } = parseEvent(
    '{"rule":"Terminal shell in container","priority":"Notice","output":"x","output_fields":{"k8s.pod.name":"p"}}',
  );
  assert.equal(engine.submit(event, "trace-1"), "queued");
  assert.equal(await engine.drain(10_000), true);
  await notifications.close(1000);
  return sent;
}

describe("engine execution semantics", () => {
  it("case 1: label, terminate, exec with continue unset stops after terminate (its default is false)", async () => {
    await run([rule("R", [action(fake("label", true)), action(fake("terminate", false)), action(fake("exec", true))])]);
    assert.deepEqual(calls, ["label:", "terminate:"]);
  });

  it("case 2: continue: true on terminate lets all three run", async () => {
    await run([rule("R", [action(fake("label", true)), action(fake("terminate", false), { continue: true }), action(fake("exec", true))])]);
    assert.deepEqual(calls, ["label:", "terminate:", "exec:"]);
  });

  it("case 3: a failing action stops the rule unless ignore_errors", async () => {
    const sent = await run([rule("R", [action(fake("label", true, "fail")), action(fake("terminate", false))])]);
    assert.deepEqual(calls, ["label:"]);
    assert.equal(sent[0]?.status, "failure");
    assert.equal(sent[0]?.error, "label failed");
    await run([rule("R", [action(fake("label", true, "fail"), { ignoreErrors: true }), action(fake("terminate", false))])]);
    assert.deepEqual(calls, ["label:", "terminate:"]);
  });

  it("case 3 bis: a failed preflight is a failure that is notified", async () => {
    const sent = await run([rule("R", [action(fake("label", true, "preflight-fail")), action(fake("exec", true))])]);
    assert.deepEqual(calls, []);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.status, "failure");
    assert.equal(sent[0]?.error, "the pod is gone");
  });

  it("case 4: continue: false on the first matched rule skips the later ones", async () => {
    await run([rule("A", [action(fake("a", true))], { stop: true }), rule("B", [action(fake("b", true))])]);
    assert.deepEqual(calls, ["a:"]);
    await run([rule("A", [action(fake("a", true))]), rule("B", [action(fake("b", true))])]);
    assert.deepEqual(calls, ["a:", "b:"]);
  });

  it("case 5: dry_run runs nothing and notifies nothing", async () => {
    const sent = await run([rule("R", [action(fake("label", true))], { dryRun: true })]);
    assert.deepEqual(calls, []);
    assert.equal(sent.length, 0);
  });

  it("keeps rules order and `continue` across dry runs, notify-only rules and actions that really run", async () => {
    // Dry runs and rules without actions are reported synchronously; from the first real action on, the
    // rest runs asynchronously: the order and the stops must not depend on which is which.
    const sent = await run([
      rule("Dry", [action(fake("d1", true)), action(fake("d2", true))], { dryRun: true }),
      { ...rule("Route", []), notifiers: ["recorder"] },
      rule("Real", [
        action(fake("a", true)),
        action(fake("b", true, "fail"), { ignoreErrors: true }),
        action(fake("c", false)),
        action(fake("never", true)),
      ]),
      rule("Dry, then stop", [action(fake("d3", true))], { dryRun: true, stop: true }),
      rule("After the stop", [action(fake("z", true))]),
    ]);
    assert.deepEqual(calls, ["a:", "b:", "c:"]);
    assert.deepEqual(
      sent.map((n) => `${n.rule}/${n.kind}/${n.status}`),
      ["Route/event/success", "Real/action/success", "Real/action/failure", "Real/action/success"],
    );
  });

  it("process() (the cluster's shared queue) settles once the event's actions are done, whatever happened", async () => {
    const { event } = parseEvent(
      '{"rule":"Terminal shell in container","priority":"Notice","output":"x","output_fields":{"k8s.pod.name":"p"}}',
    );
    calls.length = 0;
    const real = build([rule("Real", [action(fake("a", true))])], 5000, []);
    assert.equal(await real.engine.process(event, "t1", performance.now()), true);
    assert.deepEqual(calls, ["a:"]);
    const dry = build([rule("Dry", [action(fake("d", true))], { dryRun: true })], 5000, []);
    assert.equal(await dry.engine.process(event, "t2", performance.now()), true);
    // A failure in the synchronous part (here the observer) must not leave the event unacknowledged forever.
    const broken = build([rule("Dry", [action(fake("d", true))], { dryRun: true })], 5000, []);
    broken.observer.actionDispatched = () => {
      throw new Error("observer failure");
    };
    const settled = await Promise.race([
      broken.engine.process(event, "t3", performance.now()),
      new Promise((r) => setTimeout(() => r("hung"), 2000)),
    ]);
    assert.equal(settled, true);
  });

  it("reports an ignored action as ignored, not success", async () => {
    const sent = await run([rule("R", [action(fake("terminate", true, "ignored"))])]);
    assert.equal(sent[0]?.status, "ignored");
    assert.equal(sent[0]?.summary, "skipped a DaemonSet pod");
  });

  it("times out an action that does not finish and moves on", async () => {
    const sent = await run([rule("R", [action(fake("slow", true, "hang"), { ignoreErrors: true }), action(fake("next", true))])], 100);
    assert.deepEqual(calls, ["slow:", "next:"]);
    assert.equal(sent[0]?.status, "failure");
    assert.match(sent[0]?.error ?? "", /did not finish within 0.1 s/);
  });
});

describe("engine readiness", () => {
  it("reports a queue that stops moving as stalled", async () => {
    const { engine } = build([rule("R", [action(fake("slow", true, "hang"))])], 10_000, [], 50);
    const ev = (pod: string) =>
      parseEvent(`{"rule":"x","priority":"Notice","output":"${pod}","output_fields":{"k8s.pod.name":"${pod}"}}`).event;
    assert.deepEqual(engine.readiness(), { ok: true });
    engine.submit(ev("a"), "t1"); // runs (and hangs)
    engine.submit(ev("a"), "t2"); // waits behind it: same pod
    await new Promise((r) => setTimeout(r, 80));
    const r = engine.readiness();
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.reason, /queue stalled: 1 events waiting/);
    await engine.drain(10);
  });

  it("counts events not yet handed to the scheduler against the capacity", async () => {
    const { engine } = build([rule("R", [action(fake("slow", true, "hang"))])], 10_000, []);
    const ev = (i: number) =>
      parseEvent(`{"rule":"x","priority":"Notice","output":"e${i}","output_fields":{"k8s.pod.name":"p${i}"}}`).event;
    // queueSize 10, workers 2, actions that never finish: 2 run, 10 wait, the 13th is refused, all in one turn.
    let accepted = 0;
    for (let i = 0; i < 20; i++) {
      try {
        engine.submit(ev(i), `t${i}`);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof KestrelError && e.code === "ERR_OVERLOADED");
      }
    }
    assert.equal(accepted, 12);
    const r = engine.readiness();
    assert.match(r.ok ? "" : r.reason, /queue full/);
    await engine.drain(10);
  });
});

describe("engine batches (submitAll)", () => {
  const ev = (i: number, pod = `p${i}`) =>
    parseEvent(`{"rule":"x","priority":"Notice","output":"e${i}","output_fields":{"k8s.pod.name":"${pod}"}}`).event;
  const batch = (from: number, n: number, pod?: string) =>
    Array.from({ length: n }, (_, k) => ({ event: ev(from + k, pod), traceId: `t${from + k}`, receivedAt: performance.now() }));
  const overloaded = (r: unknown) =>
    typeof r === "object" && r !== null && "error" in r && (r.error as KestrelError).code === "ERR_OVERLOADED";

  it("counts a batch's events against the capacity before they are handed to the scheduler", async () => {
    const { engine } = build([rule("R", [action(fake("slow", true, "hang"))])], 10_000, []);
    // queueSize 10, workers 2, actions that never finish: the batch's first 10 are taken, then 2 start.
    const results = engine.submitAll(batch(0, 20));
    assert.deepEqual(results.slice(0, 10), Array(10).fill("queued"));
    assert.ok(results.slice(10).every(overloaded), "the rest of the batch is refused, each with its own result");
    assert.deepEqual(engine.readiness(), { ok: true }, "8 wait once the batch is handed over");
    const more = engine.submitAll(batch(20, 3));
    assert.deepEqual(more.slice(0, 2), ["queued", "queued"]);
    assert.ok(overloaded(more[2]));
    const r = engine.readiness();
    assert.match(r.ok ? "" : r.reason, /queue full/);
    await engine.drain(10);
  });

  it("reports an unexpected failure as that event's result, and takes the others of its batch", async () => {
    const { engine, observer } = build([rule("R", [])], 5000, []);
    const broken = ev(1);
    observer.eventReceived = (e) => {
      if (e === broken) throw new TypeError("an unexpected bug");
    };
    const results = engine.submitAll([...batch(0, 1), { event: broken, traceId: "t1", receivedAt: 0 }, ...batch(2, 1)]);
    assert.equal(results[0], "queued");
    assert.ok(typeof results[1] === "object" && results[1].error instanceof TypeError);
    assert.equal(results[2], "queued");
    assert.equal(await engine.drain(1000), true);
  });

  it("keeps the order of a batch's events for the same pod", async () => {
    calls.length = 0;
    const { engine } = build([rule("R", [action(fake("record", true), { value: "${OUTPUT}" })])], 5000, []);
    engine.submitAll(batch(0, 4, "same"));
    assert.equal(await engine.drain(1000), true);
    assert.deepEqual(calls, ["record:e0", "record:e1", "record:e2", "record:e3"]);
  });

  it("refuses every event of a batch after drain() started", async () => {
    const { engine } = build([rule("R", [])], 5000, []);
    await engine.drain(10);
    const results = engine.submitAll(batch(0, 2));
    assert.ok(results.every((r) => typeof r === "object" && (r.error as KestrelError).code === "ERR_SHUTTING_DOWN"));
  });
});

describe("per-target ordering key", () => {
  const event = (fields: Record<string, string>) =>
    parseEvent(JSON.stringify({ rule: "r", priority: "Warning", output: "o", time: "2026-01-01T00:00:00Z", output_fields: fields })).event;

  it("is the pod the actionners act on: namespace/name", () => {
    assert.equal(targetKey(event({ "k8s.pod.name": "web", "k8s.ns.name": "prod" }), "t1"), "prod/web");
    assert.equal(
      targetKey(event({ "ka.target.name": "web", "ka.target.namespace": "prod", "ka.target.resource": "pods" }), "t1"),
      "prod/web",
    );
  });

  it("does not take an audit event's ConfigMap for a pod, as events/target.ts does not", () => {
    const configMap = event({ "ka.target.name": "web", "ka.target.namespace": "prod", "ka.target.resource": "configmaps" });
    assert.equal(podNameOf(configMap), undefined);
    assert.equal(targetKey(configMap, "t1"), "t1");
  });
});
