// Deduplication in Engine.submit: only matched events are recorded (a flood of unique events no rule wants
// leaves the store empty), and an event refused for a full queue is not recorded, so its retry is not a duplicate.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import { parseEvent } from "../events/parse.ts";
import { Metrics } from "../observability/metrics.ts";
import { Observer } from "../observability/observer.ts";
import { Registry } from "../plugins/registry.ts";
import type { ContextProvider } from "../plugins/types.ts";
import type { CompiledRule, RuleSet } from "../rules/types.ts";
import { MemoryDedup } from "./dedup.ts";
import { Engine } from "./engine.ts";
import { Notifications } from "./notify.ts";

const WANTED: CompiledRule = {
  spec: {} as CompiledRule["spec"],
  name: "Wanted",
  index: 0,
  stopAfter: false,
  dryRun: false,
  notifiers: [],
  actions: [],
  matches: (e) => e.rule === "Wanted",
};

function build(queueSize: number) {
  const log = pino({ level: "silent" });
  const observer = new Observer({ log, metrics: new Metrics({ defaultMetrics: false }), printAllEvents: false });
  const ruleSet: RuleSet = {
    rules: [WANTED],
    match: (e) => (WANTED.matches(e) ? [WANTED] : []),
    notifierNames: new Set(),
    categories: new Set(),
  };
  const dedup = new MemoryDedup(60);
  const engine = new Engine({
    ruleSet,
    dedup,
    notifications: new Notifications({ instances: new Map(), defaults: [], observer }),
    observer,
    clients: createClients(),
    contexts: new Registry<ContextProvider>("contexts", []),
    log,
    queueSize,
    workers: 1,
    actionTimeoutMs: 1000,
  });
  return { engine, dedup };
}

const event = (rule: string, output: string) => parseEvent(JSON.stringify({ rule, priority: "Notice", output })).event;
const submission = (rule: string, output: string, traceId: string) => ({ event: event(rule, output), traceId, receivedAt: 0 });
const turn = () => new Promise((r) => setImmediate(r));

describe("Engine.submit deduplication", () => {
  it("records matched events only", async () => {
    const { engine, dedup } = build(100);
    for (let i = 0; i < 50; i++) assert.equal(engine.submit(event("Unwanted", `unique ${i} ${"x".repeat(10_000)}`), `t${i}`), "unmatched");
    assert.equal(engine.submit(event("Unwanted", "same"), "u1"), "unmatched");
    assert.equal(engine.submit(event("Unwanted", "same"), "u2"), "unmatched", "an unmatched repeat is not a duplicate either");
    assert.equal(dedup.size, 0);
    assert.equal(engine.submit(event("Wanted", "shell"), "w1"), "queued");
    assert.equal(engine.submit(event("Wanted", "shell"), "w2"), "duplicate");
    assert.equal(dedup.size, 1);
    await engine.drain(1000);
    dedup.close();
  });

  it("does not record an event refused for a full queue: its retry is taken", async () => {
    const { engine, dedup } = build(1);
    // One batch: the first event counts against the capacity until the batch is handed to the workers.
    const [first, second] = engine.submitAll([submission("Wanted", "first", "a"), submission("Wanted", "second", "b")]);
    assert.equal(first, "queued");
    assert.ok(typeof second === "object" && second.error instanceof KestrelError && second.error.code === "ERR_OVERLOADED");
    await turn(); // the first is dispatched (and done: its rule runs nothing)
    assert.equal(engine.submit(event("Wanted", "second"), "b2"), "queued");
    await engine.drain(1000);
    dedup.close();
  });
});
