// `npm run bench:match`: micro-benchmark of event parsing and rule matching, in process, no HTTP.
// Loads K generated rules (default 1000) with the project's rules loader, parses generated Falco events
// with the intake's parser, then times `ruleSet.match(event)` over all events for a fixed number of passes
// after a warm-up. Then the whole path of an event after HTTP, through a real app (createApp, the
// benchmark's Kestrel configuration): parse, engine.submit (counters, matching, queueing) and the dispatch
// of the dry-run actions, yielding to the event loop every 100 events as the intake does between requests.
// It moves far less from run to run than `npm run bench`, so it is the one to compare two versions of the
// engine with. Prints events/s and ns/event and writes bench/results/match-latest.json.
//
// Environment: BENCH_MATCH_RULES (comma-separated rule counts, default "1000"), BENCH_MATCH_EVENTS
// (distinct events, default 5000), BENCH_MATCH_PASSES (timed passes over all events, default 40),
// BENCH_MATCH_WARMUP (untimed passes first, default 5), BENCH_SEED (default 42).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/load.ts";
import type { Submission } from "../src/engine/engine.ts";
import type { FalcoEvent } from "../src/events/event.ts";
import { parseEvent } from "../src/events/parse.ts";
import { newTraceId } from "../src/observability/trace-context.ts";
import { createRegistries } from "../src/registries.ts";
import { loadRules } from "../src/rules/index.ts";
import type { RuleSet } from "../src/rules/types.ts";
import { defaultSeed, generateEvents, loadCorpus } from "./events.ts";
import { benchKestrelConfig } from "./lib.ts";
import { generateRules } from "./rules.ts";

function envInt(name: string, fallback: number, min = 1): number {
  const v = Number(process.env[name] ?? fallback);
  return Number.isInteger(v) && v >= min ? v : fallback;
}

const seed = defaultSeed();
const ruleCounts = (process.env["BENCH_MATCH_RULES"] ?? "1000")
  .split(",")
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
const eventCount = envInt("BENCH_MATCH_EVENTS", 5000);
const passes = envInt("BENCH_MATCH_PASSES", 40);
const warmup = envInt("BENCH_MATCH_WARMUP", 5, 0);

interface Timing {
  passes: number;
  operations: number;
  seconds: number;
  opsPerSecond: number;
  nsPerOp: number;
}

/** Runs `pass` warm-up times untimed, then `passes` times timed; each pass does `perPass` operations. */
async function time(perPass: number, pass: () => number | Promise<number>): Promise<Timing & { sink: number }> {
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += await pass();
  const start = process.hrtime.bigint();
  for (let i = 0; i < passes; i++) sink += await pass();
  const ns = Number(process.hrtime.bigint() - start);
  const operations = perPass * passes;
  return { passes, operations, seconds: ns / 1e9, opsPerSecond: (operations * 1e9) / ns, nsPerOp: ns / operations, sink };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Parse + submit + dispatch of every body through a real app with `ruleSet`; resolves once all were dispatched. */
async function timeEngine(bodies: readonly string[], ruleSet: RuleSet, dir: string) {
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(benchKestrelConfig()));
  const registries = createRegistries();
  const { config, diagnostics } = await loadConfig({ file: configFile, env: {}, registries, requireFile: true });
  if (config === undefined) throw new Error(`the benchmark configuration does not load: ${JSON.stringify(diagnostics)}`);
  const app = await createApp({ config, ruleSet, registries, log: pino({ level: "warn" }), defaultMetrics: false });
  try {
    return await time(bodies.length, async () => {
      // As the intake does: the events of one turn (at most 16, ingest/turn-batch.ts) go to submitAll together.
      let queued = 0;
      let batch: Submission[] = [];
      const flush = (): void => {
        for (const result of app.engine.submitAll(batch)) if (result === "queued") queued++;
        batch = [];
      };
      for (let i = 0; i < bodies.length; i++) {
        batch.push({ event: parseEvent(bodies[i]!).event, traceId: newTraceId(), receivedAt: performance.now() });
        if (batch.length === 16) flush();
        if (i % 100 === 99) await turn();
      }
      flush();
      await turn();
      return queued;
    });
  } finally {
    await app.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function loadRuleSet(count: number, dir: string): Promise<{ ruleSet: RuleSet; unnamed: number; loadMs: number; warnings: number }> {
  const generated = generateRules(count, { seed });
  const file = join(dir, `rules-${count}.yaml`);
  writeFileSync(file, generated.yaml);
  const started = performance.now();
  const { ruleSet, diagnostics } = await loadRules([file], createRegistries(), { strict: true });
  const loadMs = performance.now() - started;
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (ruleSet === undefined || errors.length > 0) {
    throw new Error(
      `the generated rules do not load:\n${diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join("\n")}`,
    );
  }
  return { ruleSet, unnamed: generated.unnamed, loadMs, warnings: diagnostics.length - errors.length };
}

async function main(): Promise<void> {
  const corpus = loadCorpus();
  const bodies = generateEvents(eventCount, { seed, corpus });
  const bytes = bodies.reduce((s, b) => s + Buffer.byteLength(b), 0);
  console.log(`Kestrel match benchmark: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"})`);
  console.log(
    `${eventCount} events from ${corpus.length} corpus rules (avg ${fmt(bytes / eventCount)} bytes), seed ${seed}, ${warmup} warm-up + ${passes} timed passes\n`,
  );

  // Parsing alone (what the intake does for every request before matching).
  const parse = await time(bodies.length, () => {
    let n = 0;
    for (const body of bodies) n += parseEvent(body).event.tags.length;
    return n;
  });
  const events: FalcoEvent[] = bodies.map((b) => parseEvent(b).event);
  console.log(`parseEvent                 ${fmt(parse.opsPerSecond).padStart(12)} events/s  ${fmt(parse.nsPerOp).padStart(8)} ns/event`);

  const dir = mkdtempSync(join(os.tmpdir(), "kestrel-bench-match-"));
  const results = [];
  try {
    for (const count of ruleCounts) {
      const { ruleSet, unnamed, loadMs, warnings } = await loadRuleSet(count, dir);
      let matchedEvents = 0;
      let matchedRules = 0;
      for (const e of events) {
        const m = ruleSet.match(e);
        if (m.length > 0) matchedEvents++;
        matchedRules += m.length;
      }
      const match = await time(events.length, () => {
        let n = 0;
        for (const e of events) n += ruleSet.match(e).length;
        return n;
      });
      const both = await time(bodies.length, () => {
        let n = 0;
        for (const body of bodies) n += ruleSet.match(parseEvent(body).event).length;
        return n;
      });
      const engine = await timeEngine(bodies, ruleSet, dir);
      const label = `${count} rules`;
      console.log(
        `match, ${label.padEnd(19)} ${fmt(match.opsPerSecond).padStart(12)} events/s  ${fmt(match.nsPerOp).padStart(8)} ns/event`,
      );
      console.log(
        `parse+match, ${label.padEnd(13)} ${fmt(both.opsPerSecond).padStart(12)} events/s  ${fmt(both.nsPerOp).padStart(8)} ns/event`,
      );
      console.log(
        `parse+engine, ${label.padEnd(12)} ${fmt(engine.opsPerSecond).padStart(12)} events/s  ${fmt(engine.nsPerOp).padStart(8)} ns/event`,
      );
      console.log(
        `  ${ruleSet.rules.length} rules loaded in ${fmt(loadMs)} ms (${unnamed} without match.rules, ${warnings} warnings); ` +
          `${fmt((100 * matchedEvents) / events.length, 1)} % of events match, ${fmt(matchedRules / events.length, 2)} rules/event`,
      );
      results.push({
        rules: ruleSet.rules.length,
        rulesWithoutFalcoRuleNames: unnamed,
        loadMs,
        matchedEventFraction: matchedEvents / events.length,
        matchedRulesPerEvent: matchedRules / events.length,
        match: { ...match, sink: undefined },
        parseAndMatch: { ...both, sink: undefined },
        parseSubmitDispatch: { ...engine, sink: undefined },
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const out = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "",
    config: { seed, events: eventCount, averageEventBytes: bytes / eventCount, warmupPasses: warmup, passes, ruleCounts },
    parse: { ...parse, sink: undefined },
    results,
  };
  const resultsDir = new URL("./results/", import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL("match-latest.json", resultsDir);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwritten ${file.pathname}`);
}

await main();
