// `npm run bench:soak`: Kestrel under a sustained load for a bounded time, with a slow notifier.
//  1. Kestrel in a child process (`node bin/kestrel.js server`, 100 generated dry-run rules, dedup off, log
//     level warn) with a `webhook` notifier in `default_notifiers` pointing at a receiver in this process
//     that answers after BENCH_SOAK_NOTIFIER_DELAY_MS. Dry runs notify nothing, so one more rule, first in
//     the file, routes every event to that notifier: its bounded queue is full for the whole run.
//  2. A warm-up and the maximum rate (full speed, BENCH_SOAK_MAX_SECONDS); then 80 % of it, evenly paced,
//     for BENCH_SOAK_SECONDS (default 60), with Kestrel's VmRSS sampled every second.
//  3. Every request is accounted for: which body was sent, its answer (status, result word). Each phase
//     stops sending at its end and waits for the answers in flight. Once Kestrel has settled (queue empty,
//     counters still), the checks: zero lost events (Kestrel counted exactly the events it accepted, and ran
//     exactly the actions the accepted bodies must produce — computed here with the same rules compiled
//     in-process), every notification delivered or counted as failed, flat RSS, and the receipt→dispatch p99
//     of the sustained phase.
// Prints a table, writes bench/results/soak-latest.json. Exit code 1 when the benchmark could not run or an
// event or notification was lost (correctness); 0 otherwise, whatever the rate, latency and RSS (measurements).
//
// Environment: BENCH_SOAK_SECONDS (sustained phase, default 60), BENCH_SOAK_MAX_SECONDS (max-rate phase,
// default 5), BENCH_SOAK_WARMUP_SECONDS (default 5), BENCH_SOAK_NOTIFIER_DELAY_MS (default 200),
// BENCH_CONNECTIONS (default 50), BENCH_RULES (default 100), BENCH_EVENTS (distinct bodies, default 1000),
// BENCH_SEED (default 42), BENCH_PACING (smooth | autocannon, default smooth; as in bench/run.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join } from "node:path";
import autocannon, { type AutocannonRequest, type AutocannonResult } from "autocannon";
import { parseEvent } from "../src/events/parse.ts";
import { createRegistries } from "../src/registries.ts";
import { loadRules } from "../src/rules/index.ts";
import type { RuleSet } from "../src/rules/types.ts";
import { defaultSeed, generateEventRecords, loadCorpus } from "./events.ts";
import {
  addTmpDir,
  benchKestrelConfig,
  CONNECTIONS,
  E2A,
  EVENTS,
  envNumber,
  freePort,
  histogram,
  histogramDelta,
  latencySummary,
  log,
  machineJiffies,
  metrics,
  n0,
  n2,
  PACING,
  pacer,
  pinning,
  procCpuSeconds,
  procStatus,
  RULES,
  removeTmpDir,
  type Samples,
  sleep,
  startKestrel,
  startWatchdog,
  stopAllChildren,
  stopChild,
  sum,
  waitSettled,
  writeResults,
} from "./lib.ts";
import { generateRules } from "./rules.ts";

// ---- settings -------------------------------------------------------------------------------------------

const SECONDS = envNumber("BENCH_SOAK_SECONDS", 60, 5, 3600);
const MAX_SECONDS = envNumber("BENCH_SOAK_MAX_SECONDS", 5, 1, 60);
const WARMUP_SECONDS = envNumber("BENCH_SOAK_WARMUP_SECONDS", 5, 0, 60);
const NOTIFIER_DELAY_MS = envNumber("BENCH_SOAK_NOTIFIER_DELAY_MS", 200, 0, 10_000);
const SEED = defaultSeed();
const LOAD_SHARE = 0.8;
/** RSS is flat when the last window's average is at most this much above the first window's. */
const RSS_GROWTH_LIMIT = 0.2;
/** The sustained phase held its rate when it reached this share of the target (reported, not a gate). */
const RATE_HELD = 0.95;
/** After a phase stops sending: the longest wait for the answers in flight (autocannon times out at 10 s). */
const IN_FLIGHT_WAIT_MS = 5000;
/** After the load: the longest wait for Kestrel's queue to empty and its counters to stop. */
const SETTLE_MS = 30_000;
/** Kestrel's per-notifier delivery queue and concurrency (src/engine/notify.ts, not configurable). */
const NOTIFIER_QUEUE = 1000;
const NOTIFIER_CONCURRENCY = 4;
/** Longest wait for the slow notifier's full queue to drain after the load: twice its nominal time + 15 s. */
const NOTIFIER_DRAIN_MS = (2 * NOTIFIER_QUEUE * NOTIFIER_DELAY_MS) / NOTIFIER_CONCURRENCY + 15_000;
const NOTIFIER = "webhook";
const BUDGET_MS =
  (WARMUP_SECONDS + MAX_SECONDS + SECONDS + 3 * (IN_FLIGHT_WAIT_MS / 1000 + 2) + 3 * (SETTLE_MS / 1000) + 60 + 30 + 60) * 1000 +
  NOTIFIER_DRAIN_MS;

// ---- what each body must produce -------------------------------------------------------------------------

interface Expectation {
  /** Kestrel answers "queued" (some rule matched) or "unmatched". */
  readonly matched: boolean;
  /** Actions dispatched and finished (dry runs: never failing, each counted once with status dry_run). */
  readonly actions: number;
  /** Notifications sent to the slow notifier (rules without actions route the event to their notifiers). */
  readonly notifications: number;
}

/**
 * What one event produces with these rules, as the engine runs them (src/engine/engine.ts #runRules): the
 * matched rules in order; a rule without actions routes the event to its notifiers (each once); a rule's
 * actions run until one whose `continue` is false (a dry run never fails, so `ignore_errors` plays no role);
 * `continue: false` on the rule stops the later rules. Dry-run actions send no notification.
 */
function expectationOf(ruleSet: RuleSet, body: string): Expectation {
  const rules = ruleSet.match(parseEvent(body).event);
  let actions = 0;
  let notifications = 0;
  for (const rule of rules) {
    if (rule.actions.length === 0) notifications += new Set(rule.notifiers).has(NOTIFIER) ? 1 : 0;
    for (const action of rule.actions) {
      if (!rule.dryRun) throw new Error(`rule "${rule.name}" is not a dry run: its actions' outcome cannot be predicted`);
      actions++;
      if (!action.continueAfter) break;
    }
    if (rule.stopAfter) break;
  }
  return { matched: rules.length > 0, actions, notifications };
}

// ---- exact accounting of a load phase -------------------------------------------------------------------------

interface Tally {
  /** Requests built and sent, in all and by body index. */
  sent: number;
  readonly sentByBody: Uint32Array;
  /** Answers received, in all, by body index and by status. */
  answered: number;
  readonly answeredByBody: Uint32Array;
  readonly statuses: Record<string, number>;
  /** 2xx answers by body index: the events Kestrel accepted. */
  readonly acceptedByBody: Uint32Array;
  /** Result words of the 2xx answers. */
  readonly words: { queued: number; unmatched: number; duplicate: number; other: number };
  /** 2xx answers whose result word is not what the in-process matching predicts. */
  disagreements: number;
  firstAnswerAt: number;
  lastAnswerAt: number;
}

interface PhaseResult {
  name: string;
  /** The target rate, undefined at full speed. */
  targetRate: number | undefined;
  /** From the first answer to the last one. */
  seconds: number;
  eventsPerSecond: number;
  sent: number;
  answered: number;
  /** sent − answered: requests whose answer never came (lost connection, timeout). */
  unanswered: number;
  /** Bodies whose answers do not add up to the times they were sent (0 when every request is answered). */
  bodiesUnaccounted: number;
  statuses: Record<string, number>;
  accepted: number;
  /** 503 (queue full) and 429 (rate limited) answers: refused, never accepted. */
  refused: number;
  /** Other non-2xx answers. */
  otherNon2xx: number;
  errors: number;
  timeouts: number;
  words: Tally["words"];
  disagreements: number;
  expected: { events: number; actions: number; notifications: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  kestrelCpuPercent: number;
  loadGeneratorCpuPercent: number;
  machineCpuPercent: number;
}

/**
 * Drives Kestrel for `seconds`, at `rate` requests/s evenly paced or at full speed, sending the bodies in
 * turn (one global round-robin) and recording every request and every answer. Stops sending after
 * `seconds`, then waits (≤ IN_FLIGHT_WAIT_MS) for the answers in flight before ending autocannon.
 */
async function drive(
  name: string,
  url: string,
  bodies: readonly string[],
  expect: readonly Expectation[],
  kestrelPid: number,
  seconds: number,
  rate?: number,
  onStart?: () => void,
): Promise<PhaseResult> {
  const t: Tally = {
    sent: 0,
    sentByBody: new Uint32Array(bodies.length),
    answered: 0,
    answeredByBody: new Uint32Array(bodies.length),
    statuses: {},
    acceptedByBody: new Uint32Array(bodies.length),
    words: { queued: 0, unmatched: 0, duplicate: 0, other: 0 },
    disagreements: 0,
    firstAnswerAt: 0,
    lastAnswerAt: 0,
  };
  let next = 0;
  let cpu0 = { kestrel: 0, self: process.cpuUsage(), machine: machineJiffies() };
  const request: AutocannonRequest = {
    method: "POST",
    path: "/",
    headers: { "content-type": "application/json" },
    body: bodies[0]!,
    // Called once per request actually written (and once per connection at its creation, for its first
    // request): the body index goes into the connection's context, which onResponse gets back.
    setupRequest: (req, context) => {
      const i = next++ % bodies.length;
      t.sent++;
      t.sentByBody[i]!++;
      context["body"] = i;
      req.body = bodies[i]!;
      return req;
    },
    onResponse: (status, body, context) => {
      const now = performance.now();
      if (t.answered++ === 0) {
        t.firstAnswerAt = now;
        cpu0 = { kestrel: procCpuSeconds(kestrelPid), self: process.cpuUsage(), machine: machineJiffies() };
      }
      t.lastAnswerAt = now;
      t.statuses[status] = (t.statuses[status] ?? 0) + 1;
      const i = context["body"] as number;
      t.answeredByBody[i]!++;
      if (status < 200 || status >= 300) return;
      t.acceptedByBody[i]!++;
      const at = body.indexOf('"result":"');
      const c = at < 0 ? "" : body[at + 10];
      const word = c === "q" ? "queued" : c === "u" ? "unmatched" : c === "d" ? "duplicate" : "other";
      t.words[word]++;
      if (word !== (expect[i]!.matched ? "queued" : "unmatched")) t.disagreements++;
    },
  };
  const connections = rate === undefined ? CONNECTIONS : Math.max(1, Math.min(CONNECTIONS, Math.floor(rate)));
  // autocannon's overallRate (bursts at the start of every second, for comparison) or the even pacing.
  const bursts = rate !== undefined && PACING === "autocannon";
  // A connection delayed by a slow answer catches up on up to 1 s of its schedule: the rate is held unless
  // Kestrel cannot answer that fast.
  const pace = pacer({ rate: bursts ? undefined : rate, connections, sendSeconds: seconds, maxLagMs: 1000 });
  let lost = 0; // errors and timeouts: requests whose answer will not come
  const instance = autocannon({
    url,
    connections,
    // A cap only: the phase ends when the pacer closed and nothing is in flight any more.
    duration: seconds + IN_FLIGHT_WAIT_MS / 1000 + 5,
    timeout: 10,
    requests: [request],
    setupClient: pace.setupClient,
    ...(bursts ? { overallRate: Math.floor(rate) } : {}),
  });
  instance.on("reqError", () => {
    lost++;
  });
  let startReported = false;
  const poll = setInterval(() => {
    if (!startReported && pace.startedAt() !== undefined) {
      startReported = true;
      onStart?.();
    }
    if (pace.closed() && (t.sent - t.answered - lost <= 0 || performance.now() > pace.startedAt()! + seconds * 1000 + IN_FLIGHT_WAIT_MS)) {
      clearInterval(poll);
      instance.stop();
    }
  }, 20);
  let r: AutocannonResult;
  try {
    r = await instance;
  } finally {
    clearInterval(poll);
  }
  const wall = (t.lastAnswerAt - t.firstAnswerAt) / 1000;
  const self = process.cpuUsage(cpu0.self);
  const machine = machineJiffies();
  let accepted = 0;
  let refused = 0;
  let otherNon2xx = 0;
  for (const [code, count] of Object.entries(t.statuses)) {
    const s = Number(code);
    if (s >= 200 && s < 300) accepted += count;
    else if (s === 503 || s === 429) refused += count;
    else otherNon2xx += count;
  }
  const expected = { events: (t.statuses["503"] ?? 0) + accepted, actions: 0, notifications: 0 };
  t.acceptedByBody.forEach((n, i) => {
    expected.actions += n * expect[i]!.actions;
    expected.notifications += n * expect[i]!.notifications;
  });
  return {
    name,
    targetRate: rate === undefined ? undefined : Math.floor(rate),
    seconds: wall,
    eventsPerSecond: t.answered > 1 && wall > 0 ? (t.answered - 1) / wall : 0,
    sent: t.sent,
    answered: t.answered,
    unanswered: t.sent - t.answered,
    bodiesUnaccounted: t.sentByBody.reduce((a, n, i) => a + (n === t.answeredByBody[i] ? 0 : 1), 0),
    statuses: t.statuses,
    accepted,
    refused,
    otherNon2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    words: t.words,
    disagreements: t.disagreements,
    expected,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    kestrelCpuPercent: wall > 0 ? (100 * (procCpuSeconds(kestrelPid) - cpu0.kestrel)) / wall : Number.NaN,
    loadGeneratorCpuPercent: wall > 0 ? (100 * (self.user + self.system)) / 1e6 / wall : Number.NaN,
    machineCpuPercent: (100 * os.cpus().length * (machine.busy - cpu0.machine.busy)) / (machine.total - cpu0.machine.total),
  };
}

/** Adds up phases (the warm-up and the max-rate phase are checked together). */
function combine(name: string, phases: readonly PhaseResult[]): PhaseResult {
  const add = (f: (p: PhaseResult) => number): number => phases.reduce((a, p) => a + f(p), 0);
  const statuses: Record<string, number> = {};
  for (const p of phases) for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const last = phases.at(-1)!;
  return {
    ...last,
    name,
    sent: add((p) => p.sent),
    answered: add((p) => p.answered),
    unanswered: add((p) => p.unanswered),
    bodiesUnaccounted: add((p) => p.bodiesUnaccounted),
    statuses,
    accepted: add((p) => p.accepted),
    refused: add((p) => p.refused),
    otherNon2xx: add((p) => p.otherNon2xx),
    errors: add((p) => p.errors),
    timeouts: add((p) => p.timeouts),
    words: {
      queued: add((p) => p.words.queued),
      unmatched: add((p) => p.words.unmatched),
      duplicate: add((p) => p.words.duplicate),
      other: add((p) => p.words.other),
    },
    disagreements: add((p) => p.disagreements),
    expected: {
      events: add((p) => p.expected.events),
      actions: add((p) => p.expected.actions),
      notifications: add((p) => p.expected.notifications),
    },
  };
}

// ---- what Kestrel counted -------------------------------------------------------------------------------------

interface Counted {
  events: number;
  rejected: number;
  duplicates: number;
  matches: number;
  /** kestrel_actions_total, all statuses. */
  actions: number;
  actionsByStatus: Record<string, number>;
  /** kestrel_event_to_action_seconds_count: actions dispatched. */
  dispatched: number;
  notificationsDelivered: number;
  notificationsFailed: number;
}

function counted(after: Samples, before: Samples): Counted {
  const d = (name: string, filter?: string): number => sum(after, name, filter) - sum(before, name, filter);
  const actionsByStatus: Record<string, number> = {};
  for (const s of after.get("kestrel_actions_total") ?? []) {
    const status = /status="([^"]*)"/.exec(s.labels)?.[1] ?? "";
    actionsByStatus[status] = (actionsByStatus[status] ?? 0) + s.value;
  }
  for (const s of before.get("kestrel_actions_total") ?? []) {
    const status = /status="([^"]*)"/.exec(s.labels)?.[1] ?? "";
    actionsByStatus[status] = (actionsByStatus[status] ?? 0) - s.value;
  }
  return {
    events: d("kestrel_events_total"),
    rejected: d("kestrel_rejected_total"),
    duplicates: d("kestrel_duplicates_total"),
    matches: d("kestrel_matches_total"),
    actions: d("kestrel_actions_total"),
    actionsByStatus,
    dispatched: d(`${E2A}_count`),
    notificationsDelivered: d("kestrel_notifications_total", `notifier="${NOTIFIER}",status="success"`),
    notificationsFailed: d("kestrel_notifications_total", `notifier="${NOTIFIER}",status="failure"`),
  };
}

/** The zero-loss verdict of a phase: what was sent, answered and accepted against what Kestrel counted. */
function lossCheck(p: PhaseResult, k: Counted, settled: boolean) {
  const problems: string[] = [];
  if (!settled) problems.push("Kestrel did not settle (queue not empty or counters still moving)");
  if (p.unanswered !== 0 || p.bodiesUnaccounted !== 0)
    problems.push(`${p.unanswered} requests without an answer (${p.bodiesUnaccounted} bodies sent more often than answered)`);
  if (p.errors !== 0 || p.timeouts !== 0) problems.push(`${p.errors} errors (${p.timeouts} timeouts)`);
  if (p.otherNon2xx !== 0) problems.push(`${p.otherNon2xx} non-2xx answers other than 503/429`);
  if (p.disagreements !== 0) problems.push(`${p.disagreements} answers disagree with the in-process match`);
  if (k.events !== p.expected.events)
    problems.push(`kestrel_events_total +${k.events}, expected ${p.expected.events} (accepted + refused as overloaded)`);
  if (k.rejected !== p.refused) problems.push(`kestrel_rejected_total +${k.rejected}, but ${p.refused} refusals answered`);
  if (k.actions !== p.expected.actions) problems.push(`kestrel_actions_total +${k.actions}, expected ${p.expected.actions}`);
  if (k.dispatched !== k.actions) problems.push(`${k.dispatched} actions dispatched but ${k.actions} finished`);
  return { pass: problems.length === 0, problems };
}

// ---- the slow notifier's receiver -------------------------------------------------------------------------------

async function startReceiver(delayMs: number): Promise<{ server: Server; url: string; received: () => number; answered: () => number }> {
  let received = 0;
  let answered = 0;
  const server = createServer((req, res) => {
    received++;
    req.resume();
    req.on("end", () =>
      setTimeout(() => {
        answered++;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      }, delayMs),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/falco`, received: () => received, answered: () => answered };
}

// ---- main -------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const watchdog = startWatchdog("bench:soak", BUDGET_MS);
  const corpus = loadCorpus();
  const bodies = generateEventRecords(EVENTS, { seed: SEED, corpus }).map((r) => r.body);
  const rules = generateRules(RULES, { seed: SEED, corpus });
  const dir = mkdtempSync(join(os.tmpdir(), "kestrel-soak-"));
  addTmpDir(dir);
  const rulesFile = join(dir, "rules.yaml");
  const configFile = join(dir, "config.yaml");
  // The routing rule comes first, so that every event reaches it whatever `continue: false` later rules say.
  const routing = `- rule: "Soak: every event to the slow notifier"\n  description: Rules without actions route their events to their notifiers\n  match: {}\n  notifiers: [${NOTIFIER}]\n\n`;
  writeFileSync(rulesFile, `${routing}${rules.yaml}`);

  const loaded = await loadRules([rulesFile], createRegistries(), { strict: true });
  if (loaded.ruleSet === undefined)
    throw new Error(`the generated rules do not compile:\n${loaded.diagnostics.map((d) => d.message).join("\n")}`);
  const ruleSet = loaded.ruleSet;
  const expect = bodies.map((b) => expectationOf(ruleSet, b));

  const receiver = await startReceiver(NOTIFIER_DELAY_MS);
  const kestrelConfig = {
    ...benchKestrelConfig(),
    default_notifiers: [NOTIFIER],
    notifiers: { [NOTIFIER]: { url: receiver.url, timeout_seconds: 10 } },
  };

  const loadAverage = os.loadavg();
  log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), loopback, ${CONNECTIONS} connections, ${pinning()}; load average ${loadAverage.map((v) => v.toFixed(2)).join(" ")}`,
  );
  log(
    `${EVENTS} distinct events, ${RULES} dry-run rules + 1 routing rule (seed ${SEED}): per event ${(expect.reduce((a, e) => a + e.actions, 0) / EVENTS).toFixed(2)} actions, ${(expect.reduce((a, e) => a + e.notifications, 0) / EVENTS).toFixed(2)} notifications, ${((100 * expect.filter((e) => e.matched).length) / EVENTS).toFixed(0)} % matched`,
  );
  log(
    `slow notifier: ${NOTIFIER} at ${receiver.url}, answering after ${NOTIFIER_DELAY_MS} ms (Kestrel: ${NOTIFIER_QUEUE} queued, ${NOTIFIER_CONCURRENCY} at a time)`,
  );
  log(
    `phases: ${WARMUP_SECONDS} s warm-up + ${MAX_SECONDS} s at full speed, then ${LOAD_SHARE * 100} % of that rate for ${SECONDS} s; budget ${Math.round(BUDGET_MS / 1000)} s`,
  );

  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "",
    loadAverageBefore: loadAverage,
    config: {
      rules: RULES,
      routingRules: 1,
      events: EVENTS,
      connections: CONNECTIONS,
      seconds: SECONDS,
      maxSeconds: MAX_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      loadShare: LOAD_SHARE,
      notifierDelayMs: NOTIFIER_DELAY_MS,
      seed: SEED,
      pacing: PACING,
      pinning: pinning(),
      loadGenerator: "autocannon 9 (in the benchmark process)",
      kestrel: kestrelConfig,
    },
  };
  let exitCode = 0;
  let failure: string | undefined;
  let sustained: PhaseResult | undefined;
  let before: PhaseResult | undefined;
  let maxRate = Number.NaN;
  const rss: { t: number; bytes: number }[] = [];
  let checks: Record<string, { pass: boolean; gate: boolean; detail: string; problems?: string[] }> = {};
  let beforeCounted: Counted | undefined;
  let sustainedCounted: Counted | undefined;
  let latency: ReturnType<typeof latencySummary> | undefined;
  let notifications: Record<string, number | boolean> | undefined;
  let rssSummary: { windowSeconds: number; first: number; last: number; peak: number; growth: number; vmHwm: number } | undefined;

  try {
    kestrelConfig.listen_port = await freePort();
    const { child: kestrel, base, startupMs } = await startKestrel(kestrelConfig, configFile, rulesFile);
    log(`Kestrel (pid ${kestrel.pid}) ready at ${base} in ${Math.round(startupMs)} ms`);
    (report["config"] as Record<string, unknown>)["kestrelStartupMs"] = startupMs;
    const counters = ["kestrel_events_total", "kestrel_actions_total", `${E2A}_count`];
    const m0 = await metrics(base);

    // ---- 1. warm-up and max rate ----
    const phases: PhaseResult[] = [];
    if (WARMUP_SECONDS > 0) {
      log(`warm-up, ${WARMUP_SECONDS} s at full speed`);
      phases.push(await drive("warm-up", base, bodies, expect, kestrel.pid, WARMUP_SECONDS));
    }
    log(`max rate, ${MAX_SECONDS} s at full speed`);
    const max = await drive("max", base, bodies, expect, kestrel.pid, MAX_SECONDS);
    phases.push(max);
    maxRate = max.eventsPerSecond;
    before = combine("warm-up + max rate", phases);
    const s1 = await waitSettled(base, { maxMs: SETTLE_MS, counters });
    beforeCounted = counted(s1.samples, m0);
    const check1 = lossCheck(before, beforeCounted, s1.settled);
    log(
      `max rate ${n0(maxRate)} events/s; settled in ${n2(s1.waitedMs / 1000)} s; zero loss so far: ${check1.pass ? "yes" : `NO (${check1.problems.join("; ")})`}`,
    );

    // ---- 2. sustained phase at 80 % ----
    const rate = maxRate * LOAD_SHARE;
    if (!(rate >= 1)) throw new Error(`the max-rate phase reached ${n0(maxRate)} events/s: nothing to sustain`);
    log(`sustained phase: ${n0(rate)} events/s (${PACING === "smooth" ? "evenly paced" : "autocannon's overallRate"}) for ${SECONDS} s`);
    let sampler: NodeJS.Timeout | undefined;
    const startSampling = (): void => {
      const t0 = performance.now();
      const sample = (): void => {
        const bytes = procStatus(kestrel.pid)?.vmRss ?? 0;
        if (bytes > 0) rss.push({ t: (performance.now() - t0) / 1000, bytes });
      };
      sample();
      sampler = setInterval(sample, 1000);
    };
    try {
      sustained = await drive("sustained", base, bodies, expect, kestrel.pid, SECONDS, rate, startSampling);
    } finally {
      clearInterval(sampler);
    }
    const s2 = await waitSettled(base, { maxMs: SETTLE_MS, counters });
    sustainedCounted = counted(s2.samples, s1.samples);
    latency = latencySummary(histogramDelta(histogram(s2.samples, E2A), histogram(s1.samples, E2A)));
    const check2 = lossCheck(sustained, sustainedCounted, s2.settled);
    log(
      `sustained: ${n0(sustained.eventsPerSecond)} events/s over ${n2(sustained.seconds)} s; settled in ${n2(s2.waitedMs / 1000)} s; receipt→dispatch p99 ${n2(latency.p99Ms)} ms`,
    );

    // ---- 3. the slow notifier drains its queue: every notification delivered or counted as failed ----
    const routed = before.expected.notifications + sustained.expected.notifications;
    log(`waiting (≤ ${Math.round(NOTIFIER_DRAIN_MS / 1000)} s) for the slow notifier's queue to drain`);
    const drainStart = performance.now();
    let m3 = await metrics(base);
    // Delivered or failed since Kestrel started: the notifier's queue is empty once they add up to `routed`.
    const finished = (): number =>
      sum(m3, "kestrel_notifications_total", `notifier="${NOTIFIER}"`) - sum(m0, "kestrel_notifications_total", `notifier="${NOTIFIER}"`);
    while (finished() < routed && performance.now() - drainStart < NOTIFIER_DRAIN_MS) {
      await sleep(500);
      m3 = await metrics(base);
    }
    const whole = counted(m3, m0);
    await sleep(NOTIFIER_DELAY_MS + 100); // the receiver counts an answer when it sends it
    notifications = {
      routed,
      delivered: whole.notificationsDelivered,
      failed: whole.notificationsFailed,
      pending: routed - finished(),
      receiverReceived: receiver.received(),
      receiverAnswered: receiver.answered(),
      drainSeconds: (performance.now() - drainStart) / 1000,
      deliveredDuringSustained: sustainedCounted.notificationsDelivered,
      failedDuringSustained: sustainedCounted.notificationsFailed,
    };
    const notificationsOk = finished() === routed && whole.notificationsDelivered === receiver.answered();
    log(
      `slow notifier: ${n0(whole.notificationsDelivered)} delivered, ${n0(whole.notificationsFailed)} failed (queue full) of ${n0(routed)} routed; drained in ${n2(notifications["drainSeconds"] as number)} s`,
    );

    // ---- RSS ----
    const windowSeconds = Math.max(1, Math.min(10, Math.floor(rss.length / 2)));
    const avg = (xs: { bytes: number }[]): number => xs.reduce((a, x) => a + x.bytes, 0) / Math.max(1, xs.length);
    const first = avg(rss.slice(0, windowSeconds));
    const last = avg(rss.slice(-windowSeconds));
    rssSummary = {
      windowSeconds,
      first,
      last,
      peak: Math.max(...rss.map((x) => x.bytes)),
      growth: last / first - 1,
      vmHwm: procStatus(kestrel.pid)?.vmHwm ?? 0,
    };

    checks = {
      zeroLossSustained: { pass: check2.pass, gate: true, detail: `sustained phase`, problems: check2.problems },
      zeroLossWarmupAndMax: { pass: check1.pass, gate: true, detail: `warm-up + max-rate phases`, problems: check1.problems },
      notificationsAccounted: {
        pass: notificationsOk,
        gate: true,
        detail: `delivered + failed = routed (${n0(finished())} / ${n0(routed)}); delivered = answered by the receiver (${n0(whole.notificationsDelivered)} / ${n0(receiver.answered())})`,
      },
      flatRss: {
        pass: rssSummary.growth <= RSS_GROWTH_LIMIT,
        gate: false,
        detail: `last ${windowSeconds} s average ≤ first ${windowSeconds} s average + ${RSS_GROWTH_LIMIT * 100} %`,
      },
      rateHeld: {
        pass: sustained.eventsPerSecond >= RATE_HELD * rate,
        gate: false,
        detail: `sustained rate ≥ ${RATE_HELD * 100} % of the target (${n0(sustained.eventsPerSecond)} / ${n0(rate)})`,
      },
    };
    if (!check1.pass || !check2.pass || !notificationsOk) exitCode = 1;

    const how = await stopChild(kestrel, 15_000);
    report["kestrelExit"] = { how, output: kestrel.output().slice(-4000) };
  } catch (err) {
    exitCode = 1;
    failure = (err as Error).message;
    process.stderr.write(`\nbench:soak: ${(err as Error).stack ?? failure}\n`);
  } finally {
    await stopAllChildren(5000);
    receiver.server.closeAllConnections();
    receiver.server.close();
    removeTmpDir(dir);
    clearTimeout(watchdog);
  }

  // ---- report ----
  Object.assign(report, {
    error: failure,
    maxRate,
    targetRate: maxRate * LOAD_SHARE,
    phases: { warmupAndMax: before, sustained },
    kestrelCounted: { warmupAndMax: beforeCounted, sustained: sustainedCounted },
    receiptToDispatchSustained: latency,
    notifications,
    rss: rssSummary === undefined ? undefined : { ...rssSummary, samples: rss },
    checks,
    exitCode,
  });

  const verdict = (c: { pass: boolean } | undefined): string => (c === undefined ? "NOT MEASURED" : c.pass ? "PASS" : "FAIL");
  const row = (label: string, ...cells: string[]): string => `${label.padEnd(44)}${cells.map((c) => c.padStart(22)).join("")}`;
  const cols = (f: (p: PhaseResult, k: Counted) => string): string[] => [
    before !== undefined && beforeCounted !== undefined ? f(before, beforeCounted) : "-",
    sustained !== undefined && sustainedCounted !== undefined ? f(sustained, sustainedCounted) : "-",
  ];
  const mbs = (b: number | undefined): string => (b === undefined || !Number.isFinite(b) ? "-" : (b / 1048576).toFixed(0));
  const lines = [
    "",
    row("", "warm-up + max rate", `sustained, ${LOAD_SHARE * 100} %`),
    row(
      "events/s (target)",
      ...cols((p) =>
        p.targetRate === undefined ? `${n0(p.eventsPerSecond)} (full speed)` : `${n0(p.eventsPerSecond)} (${n0(p.targetRate)})`,
      ),
    ),
    row("seconds (first to last answer)", ...cols((p) => n2(p.seconds))),
    row("sent / answered", ...cols((p) => `${n0(p.sent)} / ${n0(p.answered)}`)),
    row("accepted / refused 503,429 / other", ...cols((p) => `${n0(p.accepted)} / ${n0(p.refused)} / ${n0(p.otherNon2xx)}`)),
    row("errors / timeouts", ...cols((p) => `${p.errors} / ${p.timeouts}`)),
    row(
      "answers queued / unmatched / disagreeing",
      ...cols((p) => `${n0(p.words.queued)} / ${n0(p.words.unmatched)} / ${p.disagreements}`),
    ),
    row("events counted by Kestrel / expected", ...cols((p, k) => `${n0(k.events)} / ${n0(p.expected.events)}`)),
    row("actions run (all statuses) / expected", ...cols((p, k) => `${n0(k.actions)} / ${n0(p.expected.actions)}`)),
    row("actions dispatched (histogram count)", ...cols((_p, k) => n0(k.dispatched))),
    row("zero lost events", verdict(checks["zeroLossWarmupAndMax"]), verdict(checks["zeroLossSustained"])),
    row("HTTP latency p50 / p99 (ms)", ...cols((p) => `${p.latencyMs.p50} / ${p.latencyMs.p99}`)),
    row(
      "CPU %: Kestrel / load generator / machine",
      ...cols((p) => `${n0(p.kestrelCpuPercent)} / ${n0(p.loadGeneratorCpuPercent)} / ${n0(p.machineCpuPercent)}`),
    ),
    row("receipt→dispatch p50 / p99 (ms)", "", latency === undefined ? "-" : `${n2(latency.p50Ms)} / ${n2(latency.p99Ms)}`),
    row(
      "slow notifier delivered / failed (queue full)",
      ...cols((_p, k) => `${n0(k.notificationsDelivered)} / ${n0(k.notificationsFailed)}`),
    ),
    "",
    `slow notifier (${NOTIFIER_DELAY_MS} ms a request), whole run after draining: routed ${n0(notifications?.["routed"] as number)}, delivered ${n0(notifications?.["delivered"] as number)}, failed ${n0(notifications?.["failed"] as number)}, pending ${n0(notifications?.["pending"] as number)}; receiver answered ${n0(notifications?.["receiverAnswered"] as number)}   ${verdict(checks["notificationsAccounted"])}`,
    `RSS, sustained phase (MB): first ${rssSummary?.windowSeconds ?? "-"} s avg ${mbs(rssSummary?.first)}, last ${rssSummary?.windowSeconds ?? "-"} s avg ${mbs(rssSummary?.last)} (${rssSummary === undefined ? "-" : `${rssSummary.growth >= 0 ? "+" : ""}${(rssSummary.growth * 100).toFixed(1)} %`}), peak ${mbs(rssSummary?.peak)}   flat (≤ +${RSS_GROWTH_LIMIT * 100} %): ${verdict(checks["flatRss"])}`,
    `sustained rate held (≥ ${RATE_HELD * 100} % of ${n0(maxRate * LOAD_SHARE)} events/s): ${verdict(checks["rateHeld"])}`,
    `receipt→dispatch p99, sustained phase: ${n2(latency?.p99Ms)} ms (${n0(latency?.dispatched)} actions)`,
  ];
  for (const [name, c] of Object.entries(checks))
    if (c.problems !== undefined && c.problems.length > 0) lines.push(`  ${name}: ${c.problems.join("; ")}`);
  if (failure !== undefined) lines.push(`the benchmark could not run: ${failure}`);
  lines.push(
    "",
    `exit code ${exitCode}: 1 when an event or a notification was lost (zero loss, notifications accounted) or the run failed; flat RSS and the rate are reported, not gated`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  log(`written ${writeResults("soak-latest.json", report)}`);
  return exitCode;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench:soak: ${(err as Error).stack ?? String(err)}\n`);
  return 1; // the exit handler stops the children and removes the temporary folder
});
