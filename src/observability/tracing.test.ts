// The spans of the tracing observer, through a real Engine (fake actionners, a fake context provider, a
// fake output and a recording notifier) and the OpenTelemetry SDK with an in-memory exporter: their names,
// parents, trace ids, statuses and (bounded) attributes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace";
import pino from "pino";
import { z } from "zod";
import { createClients } from "../clients/index.ts";
import { recordingNotifications, testAction, testActionner, testRule } from "../engine/__fixtures__/compiled.ts";
import { MemoryDedup } from "../engine/dedup.ts";
import { Engine } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { KestrelError } from "../errors.ts";
import { parseEvent } from "../events/parse.ts";
import { defineContext, defineOutput } from "../plugins/define.ts";
import { Registry } from "../plugins/registry.ts";
import type { Actionner, ContextProvider, Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule, RuleSet } from "../rules/types.ts";
import { compileParams } from "../template/template.ts";
import { FanOutObserver } from "./fanout.ts";
import { Metrics } from "./metrics.ts";
import { Observer } from "./observer.ts";
import { ATTR, Tracing } from "./tracing.ts";

const POD = "secret-pod-name-42";
const OUTPUT = "A shell was spawned in a container with an attached terminal (user=root)";

function actionner(name: string, behaviour: "ok" | "fail" | "artifact" | "hang"): Actionner {
  return testActionner(name, {
    artifact: behaviour === "artifact" ? "optional" : "none",
    params: z.object({}),
    async run({ signal }) {
      if (behaviour === "fail") throw new KestrelError("ERR_TARGET_GONE", `the pod ${POD} is gone`);
      if (behaviour === "hang") await new Promise((r) => signal.addEventListener("abort", r));
      if (behaviour === "artifact")
        return { summary: `captured ${POD}`, artifact: { name: "capture.txt", data: "bytes" }, objects: { pod: POD } };
      return { summary: `${name} done on ${POD}`, objects: { pod: POD } };
    },
  });
}

const output = defineOutput({
  category: "test",
  name: "store",
  needs: [],
  description: "store",
  params: z.object({}),
  example: "",
  async write() {
    return { summary: "stored", location: `file:///tmp/${POD}.txt` };
  },
});

function contextProvider(fails: boolean): ContextProvider {
  return defineContext({
    category: "test",
    name: fails ? "broken" : "node",
    needs: [],
    description: "a context",
    params: z.object({}),
    example: "",
    async gather() {
      if (fails) throw new Error("the metadata service did not answer");
      return { "node.name": "node-1" };
    },
  });
}

function action(name: string, a: Actionner, options: { contexts?: string[]; stored?: boolean } = {}): CompiledAction {
  return testAction(a, {
    name,
    output: options.stored ? { target: "test:store", plugin: output, params: compileParams({}) } : undefined,
    additionalContexts: options.contexts ?? [],
  });
}

function rule(name: string, actions: CompiledAction[]): CompiledRule {
  return testRule(name, actions);
}

/** Keeps every exported span, shutdown included (the SDK's in-memory exporter forgets them then). */
class RecordingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

function setup(rules: CompiledRule[], options: { dedupSeconds?: number; maxOpenEvents?: number } = {}) {
  const exporter = new RecordingExporter();
  const tracing = new Tracing({
    resource: resourceFromAttributes({ "service.name": "kestrel-test" }),
    version: "0.0.0",
    exporter,
    processor: new SimpleSpanProcessor({ exporter }),
    ...(options.maxOpenEvents === undefined ? {} : { maxOpenEvents: options.maxOpenEvents }),
  });
  const log = pino({ level: "silent" });
  const main = new Observer({ log, metrics: new Metrics({ defaultMetrics: false }), printAllEvents: false });
  const tracingErrors: unknown[] = [];
  const observer = new FanOutObserver(main, tracing, (err) => tracingErrors.push(err));
  const sent: Notification[] = [];
  const ruleSet: RuleSet = {
    rules,
    match: (e) => (e.rule === "Unmatched" ? [] : rules),
    notifierNames: new Set(["recorder"]),
    categories: new Set(["test"]),
  };
  const notifications = recordingNotifications(observer, sent);
  const engine = new Engine({
    ruleSet,
    dedup: new MemoryDedup(options.dedupSeconds ?? 0),
    notifications,
    observer,
    clients: createClients(),
    contexts: new Registry<ContextProvider>("contexts", [contextProvider(false), contextProvider(true)]),
    log,
    queueSize: 10,
    workers: 2,
    actionTimeoutMs: 5000,
  });
  const finish = async (): Promise<ReadableSpan[]> => {
    await engine.drain(5000);
    await notifications.close(1000);
    await tracing.shutdown();
    return exporter.spans;
  };
  return { engine, tracing, exporter, finish, sent, tracingErrors };
}

function event(rule = "Terminal shell in container") {
  return parseEvent(
    JSON.stringify({
      rule,
      priority: "Critical",
      source: "syscall",
      output: OUTPUT,
      output_fields: { "k8s.pod.name": POD, "proc.name": "bash" },
    }),
  ).event;
}

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

function one(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = byName(spans, name);
  assert.equal(found.length, 1, `one ${name} span (got ${found.length})`);
  return found[0]!;
}

function isChild(child: ReadableSpan, parent: ReadableSpan): boolean {
  return child.parentSpanContext?.spanId === parent.spanContext().spanId && child.spanContext().traceId === parent.spanContext().traceId;
}

describe("tracing spans", () => {
  it("builds event → match → action → output/notification, all in the event's trace, with bounded attributes", async () => {
    const rules = [
      rule("Capture", [
        action("Capture it", actionner("capture", "artifact"), { stored: true }),
        action("Label it", actionner("label", "ok")),
      ]),
    ];
    const t = setup(rules);
    assert.equal(t.engine.submit(event(), TRACE_ID), "queued");
    const spans = await t.finish();

    const ev = one(spans, "event");
    const match = one(spans, "match");
    const actions = byName(spans, "action");
    const out = one(spans, "output");
    const notes = byName(spans, "notification");
    assert.ok(
      spans.every((s) => s.spanContext().traceId === TRACE_ID),
      "every span has the event's Kestrel trace id",
    );
    assert.equal(ev.parentSpanContext, undefined, "without a traceparent the event span is a root");
    assert.equal(ev.kind, SpanKind.SERVER);
    assert.ok(isChild(match, ev));
    assert.equal(actions.length, 2);
    for (const a of actions) assert.ok(isChild(a, match), "actions are children of match");
    const capture = actions.find((a) => a.attributes[ATTR.action] === "Capture it")!;
    assert.ok(isChild(out, capture), "the output span belongs to the action that made the artifact");
    // One notification per action result plus one for the stored artifact, each under its action.
    assert.equal(notes.length, 3);
    assert.equal(notes.filter((n) => isChild(n, capture)).length, 2);
    assert.equal(notes.filter((n) => n.attributes[ATTR.notificationKind] === "output").length, 1);

    assert.deepEqual(ev.attributes, {
      [ATTR.falcoRule]: "Terminal shell in container",
      [ATTR.falcoPriority]: "Critical",
      [ATTR.falcoSource]: "syscall",
      [ATTR.outcome]: "handled",
    });
    assert.deepEqual(match.attributes, { [ATTR.rules]: ["Capture"], [ATTR.rulesCount]: 1 });
    assert.equal(capture.attributes[ATTR.rule], "Capture");
    assert.equal(capture.attributes[ATTR.actionner], "test:capture");
    assert.equal(capture.attributes[ATTR.status], "success");
    assert.equal(typeof capture.attributes[ATTR.waitMs], "number");
    assert.deepEqual(out.attributes, { [ATTR.outputTarget]: "test:store", [ATTR.status]: "success" });
    assert.equal(notes[0]!.attributes[ATTR.notifier], "recorder");
    assert.equal(notes[0]!.attributes[ATTR.status], "success");

    // The event's own values (output text, pod name, fields) appear in no attribute of any span.
    for (const s of spans) {
      for (const [k, v] of Object.entries(s.attributes)) {
        const text = JSON.stringify(v);
        assert.ok(!text.includes(POD) && !text.includes("shell was spawned") && !text.includes("bash"), `${s.name} ${k} = ${text}`);
      }
    }
    // Children start no earlier than their parent and the event span encloses its actions.
    const ns = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
    for (const a of actions) {
      assert.ok(ns(a.startTime) >= ns(ev.startTime) && ns(a.endTime) <= ns(ev.endTime));
    }
    assert.deepEqual(t.tracingErrors, []);
  });

  it("continues the caller's trace: the event span's parent is the traceparent's span", async () => {
    const t = setup([rule("R", [action("A", actionner("a", "ok"))])]);
    const traceparent = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
    t.engine.submit(event(), TRACE_ID, undefined, traceparent);
    const spans = await t.finish();
    const ev = one(spans, "event");
    assert.equal(ev.parentSpanContext?.spanId, "00f067aa0ba902b7");
    assert.equal(ev.parentSpanContext?.isRemote, true);
    assert.ok(spans.every((s) => s.spanContext().traceId === TRACE_ID));
  });

  it("starts the event span when the event was received, not when the engine took it", async () => {
    const t = setup([rule("R", [action("A", actionner("a", "ok"))])]);
    const receivedAt = performance.now() - 7; // the body was complete 7 ms ago (waiting for its batch)
    t.engine.submit(event(), TRACE_ID, receivedAt);
    const spans = await t.finish();
    const ev = one(spans, "event");
    const startMs = ev.startTime[0] * 1000 + ev.startTime[1] / 1e6;
    assert.ok(
      Math.abs(startMs - (performance.timeOrigin + receivedAt)) < 0.01,
      `starts at receipt (off by ${startMs - (performance.timeOrigin + receivedAt)} ms)`,
    );
    const match = one(spans, "match");
    const matchMs = match.startTime[0] * 1000 + match.startTime[1] / 1e6;
    assert.ok(matchMs - startMs >= 6.9, "the match began after the wait");
  });

  it("records nothing for a caller that did not sample its trace (flags 00)", async () => {
    const t = setup([rule("R", [action("A", actionner("a", "ok"))])]);
    t.engine.submit(event(), TRACE_ID, undefined, `00-${TRACE_ID}-00f067aa0ba902b7-00`);
    assert.deepEqual(await t.finish(), []);
  });

  it("ignores a traceparent whose trace id is not the event's (the intake found it invalid)", async () => {
    const t = setup([rule("R", [action("A", actionner("a", "ok"))])]);
    t.engine.submit(event(), TRACE_ID, undefined, "00-ffffffffffffffffffffffffffffffff-00f067aa0ba902b7-01");
    const ev = one(await t.finish(), "event");
    assert.equal(ev.spanContext().traceId, TRACE_ID);
    assert.equal(ev.parentSpanContext, undefined);
  });

  it("marks a failed action with an error status, its message and code", async () => {
    const t = setup([rule("R", [action("Terminate", actionner("terminate", "fail")), action("Never", actionner("never", "ok"))])]);
    t.engine.submit(event(), TRACE_ID);
    const spans = await t.finish();
    const failed = one(spans, "action"); // the rule stopped at the failure: the second action never ran
    assert.equal(failed.attributes[ATTR.status], "failure");
    assert.equal(failed.attributes[ATTR.errorType], "ERR_TARGET_GONE");
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.match(failed.status.message ?? "", /is gone/);
    assert.equal(one(spans, "notification").attributes[ATTR.status], "success"); // the failure was notified
  });

  it("adds a context span per additional context, in error when it fails", async () => {
    const t = setup([
      rule("R", [
        action("With node", actionner("a", "ok"), { contexts: ["test:node"] }),
        action("With broken", actionner("b", "ok"), { contexts: ["test:broken"] }),
      ]),
    ]);
    t.engine.submit(event(), TRACE_ID);
    const spans = await t.finish();
    const contexts = byName(spans, "context");
    assert.equal(contexts.length, 2);
    const [ok, broken] = [
      contexts.find((c) => c.attributes[ATTR.context] === "test:node")!,
      contexts.find((c) => c.attributes[ATTR.context] === "test:broken")!,
    ];
    assert.ok(isChild(ok, byName(spans, "action").find((a) => a.attributes[ATTR.action] === "With node")!));
    assert.equal(ok.status.code, SpanStatusCode.UNSET);
    assert.equal(broken.status.code, SpanStatusCode.ERROR);
    assert.equal(broken.attributes[ATTR.errorType], "ERR_CONTEXT");
    assert.equal(byName(spans, "action").find((a) => a.attributes[ATTR.action] === "With broken")!.attributes[ATTR.status], "failure");
  });

  it("ends the event span at once for unmatched and duplicate events, with the outcome", async () => {
    const t = setup([rule("R", [action("A", actionner("a", "ok"))])], { dedupSeconds: 60 });
    assert.equal(t.engine.submit(event("Unmatched"), "11111111111111111111111111111111"), "unmatched");
    const e = event();
    assert.equal(t.engine.submit(e, "22222222222222222222222222222222"), "queued");
    assert.equal(t.engine.submit(event(), "33333333333333333333333333333333"), "duplicate");
    const spans = await t.finish();
    const events = byName(spans, "event");
    const outcome = (id: string) => events.find((s) => s.spanContext().traceId === id)?.attributes[ATTR.outcome];
    assert.equal(outcome("11111111111111111111111111111111"), "unmatched");
    assert.equal(outcome("22222222222222222222222222222222"), "handled");
    assert.equal(outcome("33333333333333333333333333333333"), "duplicate");
    assert.equal(byName(spans, "match").length, 1, "only the matched event has a match span");
  });

  it("ends the event span of an event refused for a full queue in error", async () => {
    const t = setup([rule("R", [action("Hang", actionner("hang", "hang"))])]);
    // A queue of 10 and actions that never end: the queue fills within the turn.
    const id = (i: number) => i.toString(16).padStart(32, "0");
    let refusedId = "";
    for (let i = 1; i <= 20 && refusedId === ""; i++) {
      try {
        t.engine.submit(event(), id(i));
      } catch (err) {
        assert.ok(err instanceof KestrelError && err.code === "ERR_OVERLOADED");
        refusedId = id(i);
      }
    }
    await t.tracing.forceFlush();
    const refused = byName(t.exporter.spans, "event").find((s) => s.spanContext().traceId === refusedId);
    assert.equal(refused?.attributes[ATTR.outcome], "overloaded");
    assert.equal(refused?.status.code, SpanStatusCode.ERROR);
    await t.engine.drain(10);
    await t.tracing.shutdown();
  });

  it("cuts long Falco rule names and lists at most 16 rule names on match", async () => {
    const many = Array.from({ length: 20 }, (_, i) => rule(`Rule ${i}`, []));
    const t = setup(many);
    t.engine.submit(event("x".repeat(5000)), TRACE_ID);
    const spans = await t.finish();
    assert.equal((one(spans, "event").attributes[ATTR.falcoRule] as string).length, 128);
    const match = one(spans, "match");
    assert.equal(match.attributes[ATTR.rulesCount], 20);
    assert.equal((match.attributes[ATTR.rules] as string[]).length, 16);
    // Rules without actions route the event to their notifiers: those spans hang off match.
    const notes = byName(spans, "notification");
    assert.equal(notes.length, 20);
    assert.ok(notes.every((n) => isChild(n, match) && n.attributes[ATTR.notificationKind] === "event"));
  });

  it("ends the spans of events cut short by a shutdown, marked unfinished", async () => {
    const t = setup([rule("R", [action("Hang", actionner("hang", "hang"))])]);
    t.engine.submit(event(), TRACE_ID);
    await new Promise((r) => setTimeout(r, 50)); // the action is running
    await t.tracing.shutdown(); // before the engine is drained: the process is going away
    const spans = t.exporter.spans;
    assert.equal(one(spans, "event").attributes[ATTR.outcome], "unfinished");
    assert.equal(one(spans, "action").ended, true);
    await t.engine.drain(10);
  });
});

describe("tracing memory", () => {
  it("ends the oldest open event as unfinished beyond maxOpenEvents (a caller that never reports the end)", async () => {
    const t = setup([], { maxOpenEvents: 2 });
    const ids = ["a", "b", "c"].map((c) => c.repeat(32));
    for (const id of ids) t.tracing.eventReceived(event(), id); // no eventFinished
    await t.tracing.forceFlush();
    const ended = byName(t.exporter.spans, "event");
    assert.deepEqual(
      ended.map((s) => [s.spanContext().traceId, s.attributes[ATTR.outcome]]),
      [[ids[0], "unfinished"]],
    );
    await t.tracing.shutdown();
    assert.equal(byName(t.exporter.spans, "event").length, 3);
  });
});

describe("FanOutObserver", () => {
  it("keeps the main observer and the engine going when the tracer throws", async () => {
    const seen: string[] = [];
    const main = { eventReceived: () => seen.push("main") } as unknown as EngineObserver;
    const broken = {
      eventReceived: () => {
        throw new Error("tracer bug");
      },
    } as unknown as EngineObserver;
    const errors: unknown[] = [];
    const fan = new FanOutObserver(main, broken, (err) => errors.push(err));
    fan.eventReceived(event(), TRACE_ID);
    assert.deepEqual(seen, ["main"]);
    assert.equal((errors[0] as Error).message, "tracer bug");
  });
});
