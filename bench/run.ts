// `npm run bench`: the load benchmark, in one run.
//  1. A bare node:http server (bench/bare-server.ts: read body, JSON.parse, 200) in a child process, driven
//     at full speed by autocannon: the baseline events/s of HTTP + JSON on this machine.
//  2. Kestrel (`node bin/kestrel.js server`, 100 generated dry-run rules, dedup off, log level warn) in a
//     child process, driven with the same load: its max events/s and the ratio to the baseline.
//  3. Kestrel again at HALF its max rate, evenly paced; /metrics read before and after gives the
//     receipt→dispatch latency (kestrel_event_to_action_seconds) p50/p99 for that phase only.
//  4. Peak RSS of both servers (VmHWM, plus VmRSS sampled every 250 ms), errors and non-2xx answers.
// Prints a table, writes bench/results/latest.json. Targets print PASS/FAIL; the exit code is 0 either way
// (it is a measurement, not a gate), 1 only when the benchmark itself could not run.
//
// Environment: BENCH_SECONDS (per measured phase, default 10), BENCH_WARMUP_SECONDS (default 2),
// BENCH_CONNECTIONS (default 50), BENCH_RULES (default 100), BENCH_EVENTS (distinct bodies, default 1000),
// BENCH_SEED (default 42), BENCH_PACING (smooth | autocannon, default smooth; see bench/README.md).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon, { type AutocannonClient, type AutocannonOptions, type AutocannonRequest, type AutocannonResult } from "autocannon";
import { defaultSeed, generateEventRecords, loadCorpus } from "./events.ts";
import { generateRules } from "./rules.ts";

// ---- settings -------------------------------------------------------------------------------------------

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}=${raw}: expected a number in [${min}, ${max}]`);
  return v;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECONDS = envNumber("BENCH_SECONDS", 10, 1, 300);
const WARMUP_SECONDS = envNumber("BENCH_WARMUP_SECONDS", 2, 0, 60);
const CONNECTIONS = Math.round(envNumber("BENCH_CONNECTIONS", 50, 1, 1000));
const RULES = Math.round(envNumber("BENCH_RULES", 100, 1, 100_000));
const EVENTS = Math.round(envNumber("BENCH_EVENTS", 1000, 1, 100_000));
const SEED = defaultSeed();
const PACING = process.env["BENCH_PACING"] === "autocannon" ? "autocannon" : "smooth";
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 5;
/** The whole run must end within this; a watchdog kills the children and exits otherwise. */
const BUDGET_MS = (4 * (SECONDS + WARMUP_SECONDS) + 180) * 1000;

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 2000 }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---- child processes ------------------------------------------------------------------------------------

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The last 64 KiB of stdout + stderr. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  /** Highest VmRSS seen by the 250 ms sampler, in bytes. */
  peakSampledRss(): number;
}

const children = new Set<Child>();

function startChild(name: string, args: string[]): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  if (proc.pid === undefined) throw new Error(`${name}: could not start`);
  const pid = proc.pid;
  let out = "";
  const keep = (chunk: Buffer): void => {
    out += chunk.toString("utf8");
    if (out.length > 65_536) out = out.slice(-65_536);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  const exited = new Promise<string>((resolve) => {
    proc.on("exit", (code, signal) => resolve(signal ?? String(code)));
    proc.on("error", (err) => resolve(`error: ${err.message}`));
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, procStatus(pid)?.vmRss ?? 0);
  }, 250);
  sampler.unref();
  void exited.then(() => clearInterval(sampler));
  const child: Child = { name, proc, pid, output: () => out, exited, peakSampledRss: () => peak };
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; by PID only. */
async function stopChild(child: Child, graceMs = 10_000): Promise<string> {
  if (!children.has(child)) return child.exited;
  children.delete(child);
  if (child.proc.exitCode === null && child.proc.signalCode === null) {
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, graceMs);
    const how = await child.exited;
    clearTimeout(timer);
    return how;
  }
  return child.exited;
}

/** Temporary folders to remove at exit, whatever the way out. */
const tmpDirs = new Set<string>();

/** Last resort, synchronous (process exit): SIGKILL every child still known, remove the temporary files. */
function killChildrenNow(): void {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  tmpDirs.clear();
  for (const child of children) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

process.on("exit", killChildrenNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`);
    killChildrenNow();
    process.exit(130);
  });
}

// ---- /proc ------------------------------------------------------------------------------------------------

function procStatus(pid: number): { vmRss: number; vmHwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
    return { vmRss: kb("VmRSS"), vmHwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process. */
function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15)
  } catch {
    return Number.NaN;
  }
}

/** Busy and total jiffies of the whole machine (all CPUs), from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - v[3]! - v[4]!, total }; // minus idle and iowait
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

// ---- HTTP helpers -----------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Polls `url` until it answers 200; bounded by `timeoutMs` and by the child's exit. */
async function waitReady(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  void child.exited.then((how) => {
    exited = how;
  });
  let last = "no answer";
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${child.name} exited (${exited}) before it was ready:\n${child.output().trim()}`);
    try {
      const r = await get(url, 1000);
      if (r.status === 200) return;
      last = `${r.status} ${r.body}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs / 1000} s (${url}: ${last}):\n${child.output().trim()}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- load -------------------------------------------------------------------------------------------------

interface Counts {
  queued: number;
  duplicate: number;
  unmatched: number;
  other: number;
}

/** What the responses tell, measured from the first response to the last one. autocannon's own duration
 * also counts the time it spends building its clients (about 1 s for 50 connections × 1000 bodies), when
 * nothing is sent; rates and CPU shares are computed over this window instead. */
interface Window {
  responses: number;
  first: number;
  last: number;
  serverCpu0: number;
  selfCpu0: NodeJS.CpuUsage | undefined;
  machine0: { busy: number; total: number };
  counts: Counts;
}

interface LoadResult {
  /** From the first to the last response. */
  seconds: number;
  responses: number;
  eventsPerSecond: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  results: Counts;
  serverCpuPercent: number;
  loadGeneratorCpuPercent: number;
  /** Busy CPU of the whole machine, % of one core (200 = both cores of a 2-core machine): what is left
   * after the server and the load generator is the kernel's loopback work and any other process. */
  machineCpuPercent: number;
  targetEventsPerSecond?: number;
  pacing?: string;
}

function requestsFor(bodies: readonly string[], w: Window, serverPid: number): AutocannonRequest[] {
  const counts = w.counts;
  const onResponse = (_status: number, body: string): void => {
    const now = performance.now();
    if (w.responses++ === 0) {
      w.first = now;
      w.serverCpu0 = procCpuSeconds(serverPid);
      w.selfCpu0 = process.cpuUsage();
      w.machine0 = machineJiffies();
    }
    w.last = now;
    // The result word of Kestrel's answer ({"result":"queued",…}); the bare server always says "unmatched".
    const i = body.indexOf('"result":"');
    const c = i < 0 ? "" : body[i + 10];
    if (c === "q") counts.queued++;
    else if (c === "u") counts.unmatched++;
    else if (c === "d") counts.duplicate++;
    else counts.other++;
  };
  return bodies.map((body) => ({ method: "POST", path: "/", headers: { "content-type": "application/json" }, body, onResponse }));
}

/**
 * Spreads `rate` requests/s evenly over time: each connection sends one request every `interval` ms, the
 * connections staggered. autocannon's own overallRate sends each connection's per-second quota as fast as
 * it can at the start of every second (at 50 % load: saturated half of the time, idle the other half),
 * which would measure latency under saturation. This wraps autocannon's internal `_doRequest`
 * (autocannon 9); the time base is fixed once autocannon has built all its clients.
 */
function smoothPacer(rate: number, connections: number): (client: AutocannonClient) => void {
  const interval = (connections * 1000) / rate;
  let start: number | undefined;
  let index = 0;
  return (client) => {
    const send = client._doRequest;
    const slot = index++;
    let due: number | undefined;
    const paced = (...args: unknown[]): void => {
      if (client.destroyed) return;
      if (due === undefined) {
        // First call, made while autocannon is still creating its connections (synchronously): start the
        // schedule after that, with every connection at its own offset.
        due = Number.POSITIVE_INFINITY;
        setTimeout(() => {
          start ??= performance.now() + 5;
          due = start + (slot * interval) / connections;
          paced(...args);
        }, 0);
        return;
      }
      const now = performance.now();
      if (now + 0.5 < due) {
        setTimeout(() => paced(...args), due - now);
        return;
      }
      due += interval;
      if (due < now - interval) due = now - interval; // behind schedule: catch up by one request at most
      send.apply(client, args);
    };
    client._doRequest = paced;
  };
}

async function load(url: string, bodies: readonly string[], serverPid: number, seconds: number, rate?: number): Promise<LoadResult> {
  const w: Window = { responses: 0, first: 0, last: 0, serverCpu0: 0, selfCpu0: undefined, machine0: { busy: 0, total: 0 }, counts: { queued: 0, duplicate: 0, unmatched: 0, other: 0 } };
  const connections = rate === undefined ? CONNECTIONS : Math.max(1, Math.min(CONNECTIONS, Math.floor(rate)));
  const options: AutocannonOptions = { url, connections, duration: seconds, timeout: 10, requests: requestsFor(bodies, w, serverPid) };
  if (rate !== undefined) {
    if (PACING === "autocannon") options.overallRate = Math.floor(rate);
    else options.setupClient = smoothPacer(rate, connections);
  }
  const r: AutocannonResult = await autocannon(options);
  const wall = (w.last - w.first) / 1000;
  const self = w.selfCpu0 === undefined ? undefined : process.cpuUsage(w.selfCpu0);
  const cpu = procCpuSeconds(serverPid) - w.serverCpu0;
  const machine = machineJiffies();
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats)) statusCodes[code] = s.count;
  const out: LoadResult = {
    seconds: wall,
    responses: w.responses,
    eventsPerSecond: w.responses > 1 && wall > 0 ? (w.responses - 1) / wall : 0,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    results: w.counts,
    serverCpuPercent: wall > 0 ? (100 * cpu) / wall : Number.NaN,
    loadGeneratorCpuPercent: self !== undefined && wall > 0 ? (100 * (self.user + self.system)) / 1e6 / wall : Number.NaN,
    machineCpuPercent: (100 * os.cpus().length * (machine.busy - w.machine0.busy)) / (machine.total - w.machine0.total),
  };
  if (rate !== undefined) {
    out.targetEventsPerSecond = Math.floor(rate);
    out.pacing = PACING;
  }
  return out;
}

// ---- Prometheus text ----------------------------------------------------------------------------------------

type Samples = Map<string, { labels: string; value: number }[]>;

function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const value = m[3] === "+Inf" ? Number.POSITIVE_INFINITY : m[3] === "-Inf" ? Number.NEGATIVE_INFINITY : Number(m[3]);
    const list = samples.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? "", value });
    samples.set(m[1]!, list);
  }
  return samples;
}

function sum(samples: Samples, name: string, labelFilter?: string): number {
  return (samples.get(name) ?? []).filter((s) => labelFilter === undefined || s.labels.includes(labelFilter)).reduce((a, s) => a + s.value, 0);
}

interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is +Inf. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

function histogram(samples: Samples, name: string): Histogram {
  const buckets = (samples.get(`${name}_bucket`) ?? [])
    .map((s) => {
      const le = /le="([^"]+)"/.exec(s.labels)?.[1] ?? "+Inf";
      return { le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), count: s.value };
    })
    .sort((a, b) => a.le - b.le);
  return { buckets, count: sum(samples, `${name}_count`), sum: sum(samples, `${name}_sum`) };
}

function histogramDelta(after: Histogram, before: Histogram): Histogram {
  const prior = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/** Prometheus histogram_quantile: linear interpolation inside the bucket holding the rank. */
function histogramQuantile(q: number, h: Histogram): number {
  const buckets = h.buckets;
  const total = buckets.at(-1)?.count ?? 0;
  if (buckets.length < 2 || total <= 0) return Number.NaN;
  const rank = q * total;
  let i = buckets.findIndex((b) => b.count >= rank);
  if (i < 0) i = buckets.length - 1;
  const upper = buckets[i]!.le;
  if (upper === Number.POSITIVE_INFINITY) return buckets[buckets.length - 2]!.le;
  const lower = i === 0 ? 0 : buckets[i - 1]!.le;
  const below = i === 0 ? 0 : buckets[i - 1]!.count;
  const inBucket = buckets[i]!.count - below;
  if (i === 0 && upper <= 0) return upper;
  return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
}

async function metrics(base: string): Promise<Samples> {
  const r = await get(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  return parseMetrics(r.body);
}

const E2A = "kestrel_event_to_action_seconds";

/** Waits (≤ 5 s) until Kestrel's queue is empty and no more actions are being dispatched. */
async function settle(base: string): Promise<Samples> {
  let previous = -1;
  let m = await metrics(base);
  for (let i = 0; i < 25; i++) {
    const dispatched = sum(m, `${E2A}_count`);
    if (sum(m, "kestrel_queue_depth") === 0 && dispatched === previous) return m;
    previous = dispatched;
    await sleep(200);
    m = await metrics(base);
  }
  return m;
}

function kestrelCounters(after: Samples, before: Samples) {
  const d = (name: string, filter?: string): number => sum(after, name, filter) - sum(before, name, filter);
  return {
    events: d("kestrel_events_total"),
    duplicates: d("kestrel_duplicates_total"),
    rejected: d("kestrel_rejected_total"),
    ruleMatches: d("kestrel_matches_total"),
    actions: d("kestrel_actions_total"),
    actionsDryRun: d("kestrel_actions_total", 'status="dry_run"'),
    actionsFailed: d("kestrel_actions_total", 'status="failure"'),
  };
}

function latencySummary(h: Histogram) {
  return {
    dispatched: h.count,
    p50Ms: histogramQuantile(0.5, h) * 1000,
    p90Ms: histogramQuantile(0.9, h) * 1000,
    p99Ms: histogramQuantile(0.99, h) * 1000,
    meanMs: h.count > 0 ? (h.sum / h.count) * 1000 : Number.NaN,
    buckets: h.buckets.map((b) => ({ le: b.le === Number.POSITIVE_INFINITY ? "+Inf" : b.le, count: b.count })),
  };
}

// ---- output -------------------------------------------------------------------------------------------------

function n0(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "-" : Math.round(v).toLocaleString("en-US");
}

function n2(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(2);
}

function mb(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) || bytes === 0 ? "-" : `${(bytes / 1048576).toFixed(1)} MB`;
}

function row(label: string, ...cells: string[]): string {
  return `${label.padEnd(34)}${cells.map((c) => c.padStart(20)).join("")}`;
}

function log(message: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---- main -----------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: the run exceeded its ${BUDGET_MS / 1000} s budget; stopping\n`);
    killChildrenNow();
    process.exit(2);
  }, BUDGET_MS);
  watchdog.unref();

  const corpus = loadCorpus();
  const records = generateEventRecords(EVENTS, { seed: SEED, corpus });
  const bodies = records.map((r) => r.body);
  const rules = generateRules(RULES, { seed: SEED, corpus });
  const dir = mkdtempSync(join(os.tmpdir(), "kestrel-bench-"));
  tmpDirs.add(dir);
  const rulesFile = join(dir, "rules.yaml");
  const configFile = join(dir, "config.yaml");
  writeFileSync(rulesFile, rules.yaml);

  const avgBytes = bodies.reduce((s, b) => s + Buffer.byteLength(b), 0) / bodies.length;
  log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), loopback, ${CONNECTIONS} connections`);
  log(`${EVENTS} distinct events (avg ${Math.round(avgBytes)} bytes) from ${corpus.length} Falco rules; ${RULES} dry-run rules; seed ${SEED}`);
  log(`each phase: ${WARMUP_SECONDS} s warm-up (not measured) + ${SECONDS} s measured; pacing at half rate: ${PACING}`);

  const kestrelConfig = {
    listen_address: "127.0.0.1",
    listen_port: 0,
    log_format: "json",
    log_level: "warn",
    print_all_events: false,
    watch_rules: false,
    deduplication: { leader_election: false, time_window_seconds: 0 },
    default_notifiers: [] as string[],
    workers: 16,
    queue: { size: 10000 },
  };
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "",
    config: {
      rules: RULES,
      rulesWithoutFalcoRuleNames: rules.unnamed,
      events: EVENTS,
      averageEventBytes: avgBytes,
      connections: CONNECTIONS,
      durationSeconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      seed: SEED,
      pacing: PACING,
      loadGenerator: "autocannon 9 (in the benchmark process)",
      kestrel: kestrelConfig,
    },
  };
  let exitCode = 0;
  let bare: LoadResult | undefined;
  let bareRss: { vmHwm: number; sampled: number } | undefined;
  let kestrelMax: LoadResult | undefined;
  let kestrelHalf: LoadResult | undefined;
  let latency: ReturnType<typeof latencySummary> | undefined;
  let latencyAtMax: ReturnType<typeof latencySummary> | undefined;
  let kestrelRss: { vmHwm: number; sampled: number; prometheus: number } | undefined;

  try {
    // ---- 1. bare node:http ----
    const barePort = await freePort();
    const bareChild = startChild("bare server", ["bench/bare-server.ts", String(barePort)]);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    await waitReady(bareChild, `${bareUrl}/healthz`, 10_000);
    log(`bare node:http server (pid ${bareChild.pid}) at ${bareUrl}: warm-up`);
    if (WARMUP_SECONDS > 0) await load(bareUrl, bodies, bareChild.pid, WARMUP_SECONDS);
    log(`bare: max rate for ${SECONDS} s`);
    bare = await load(bareUrl, bodies, bareChild.pid, SECONDS);
    const bareStatus = procStatus(bareChild.pid);
    bareRss = { vmHwm: bareStatus?.vmHwm ?? 0, sampled: bareChild.peakSampledRss() };
    log(`bare: ${n0(bare.eventsPerSecond)} events/s`);
    await stopChild(bareChild);

    // ---- 2. Kestrel at max rate ----
    const port = await freePort();
    kestrelConfig.listen_port = port;
    writeFileSync(configFile, `${JSON.stringify(kestrelConfig, null, 2)}\n`); // JSON is YAML
    const base = `http://127.0.0.1:${port}`;
    const kestrel = startChild("kestrel", ["bin/kestrel.js", "server", "-c", configFile, "-r", rulesFile]);
    const startedAt = performance.now();
    await waitReady(kestrel, `${base}/healthz`, 60_000);
    const startupMs = performance.now() - startedAt;
    log(`Kestrel (pid ${kestrel.pid}) ready at ${base} in ${Math.round(startupMs)} ms: warm-up`);
    (report["config"] as Record<string, unknown>)["kestrelStartupMs"] = startupMs;
    if (WARMUP_SECONDS > 0) await load(base, bodies, kestrel.pid, WARMUP_SECONDS);
    const m0 = await settle(base);
    log(`Kestrel: max rate for ${SECONDS} s`);
    kestrelMax = await load(base, bodies, kestrel.pid, SECONDS);
    const m1 = await settle(base);
    latencyAtMax = latencySummary(histogramDelta(histogram(m1, E2A), histogram(m0, E2A)));
    log(`Kestrel: ${n0(kestrelMax.eventsPerSecond)} events/s`);

    // ---- 3. Kestrel at half its max rate ----
    const half = kestrelMax.eventsPerSecond / 2;
    log(`Kestrel: ${n0(half)} events/s (half max, ${PACING} pacing) for ${SECONDS} s`);
    kestrelHalf = await load(base, bodies, kestrel.pid, SECONDS, half);
    const m2 = await settle(base);
    latency = latencySummary(histogramDelta(histogram(m2, E2A), histogram(m1, E2A)));
    log(`Kestrel: achieved ${n0(kestrelHalf.eventsPerSecond)} events/s; receipt→dispatch p99 ${n2(latency.p99Ms)} ms`);

    const status = procStatus(kestrel.pid);
    kestrelRss = { vmHwm: status?.vmHwm ?? 0, sampled: kestrel.peakSampledRss(), prometheus: sum(m2, "kestrel_process_resident_memory_bytes") };
    report["kestrelCounters"] = { atMax: kestrelCounters(m1, m0), atHalf: kestrelCounters(m2, m1) };
    const how = await stopChild(kestrel, 15_000);
    report["kestrelExit"] = { how, output: kestrel.output().slice(-4000) };
  } catch (err) {
    exitCode = 1;
    report["error"] = (err as Error).message;
    process.stderr.write(`\nbench: ${(err as Error).message}\n`);
  } finally {
    for (const child of [...children]) await stopChild(child, 5000);
    rmSync(dir, { recursive: true, force: true });
    tmpDirs.delete(dir);
    clearTimeout(watchdog);
  }

  // ---- report ----
  const ratio = bare !== undefined && kestrelMax !== undefined ? kestrelMax.eventsPerSecond / bare.eventsPerSecond : Number.NaN;
  const p99 = latency?.p99Ms ?? Number.NaN;
  const verdict = (ok: boolean, measured: boolean): string => (measured ? (ok ? "PASS" : "FAIL") : "NOT MEASURED");
  const targets = {
    ratio: { target: `>= ${TARGET_RATIO}`, value: ratio, result: verdict(ratio >= TARGET_RATIO, Number.isFinite(ratio)) },
    p99ReceiptToDispatchMs: { target: `< ${TARGET_P99_MS}`, value: p99, result: verdict(p99 < TARGET_P99_MS, Number.isFinite(p99)) },
  };
  Object.assign(report, {
    bare: bare === undefined ? undefined : { max: bare, peakRssBytes: bareRss?.vmHwm, peakSampledRssBytes: bareRss?.sampled },
    kestrel: {
      max: kestrelMax,
      receiptToDispatchAtMax: latencyAtMax,
      half: kestrelHalf,
      receiptToDispatchAtHalf: latency,
      peakRssBytes: kestrelRss?.vmHwm,
      peakSampledRssBytes: kestrelRss?.sampled,
      residentMemoryBytesAtEnd: kestrelRss?.prometheus,
    },
    ratio,
    targets,
  });

  const lines = [
    "",
    row("", "bare node:http", `Kestrel, ${RULES} rules`, "Kestrel, half rate"),
    row("events/s", n0(bare?.eventsPerSecond), n0(kestrelMax?.eventsPerSecond), n0(kestrelHalf?.eventsPerSecond)),
    row("responses (measured phase)", n0(bare?.responses), n0(kestrelMax?.responses), n0(kestrelHalf?.responses)),
    row("HTTP latency p50 / p99 (ms)", lat(bare), lat(kestrelMax), lat(kestrelHalf)),
    row("errors / timeouts / non-2xx", errs(bare), errs(kestrelMax), errs(kestrelHalf)),
    row("matched (queued) / unmatched", "-", qu(kestrelMax), qu(kestrelHalf)),
    row("receipt→dispatch p50 / p99 (ms)", "-", `${n2(latencyAtMax?.p50Ms)} / ${n2(latencyAtMax?.p99Ms)}`, `${n2(latency?.p50Ms)} / ${n2(latency?.p99Ms)}`),
    row("actions dispatched", "-", n0(latencyAtMax?.dispatched), n0(latency?.dispatched)),
    row("server CPU % (of one core)", n0(bare?.serverCpuPercent), n0(kestrelMax?.serverCpuPercent), n0(kestrelHalf?.serverCpuPercent)),
    row("load generator CPU %", n0(bare?.loadGeneratorCpuPercent), n0(kestrelMax?.loadGeneratorCpuPercent), n0(kestrelHalf?.loadGeneratorCpuPercent)),
    row("machine CPU % (all cores)", n0(bare?.machineCpuPercent), n0(kestrelMax?.machineCpuPercent), n0(kestrelHalf?.machineCpuPercent)),
    row("peak RSS (VmHWM)", mb(bareRss?.vmHwm), mb(kestrelRss?.vmHwm), ""),
    "",
    `ratio Kestrel / bare max events/s: ${n2(ratio)}   target ${targets.ratio.target}: ${targets.ratio.result}`,
    `receipt→dispatch p99 at half max rate (${n0(kestrelHalf?.targetEventsPerSecond)} events/s target): ${n2(p99)} ms   target ${targets.p99ReceiptToDispatchMs.target} ms: ${targets.p99ReceiptToDispatchMs.result}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  const resultsDir = new URL("./results/", import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL("latest.json", resultsDir);
  writeFileSync(file, `${JSON.stringify(report, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`);
  log(`written ${fileURLToPath(file)}`);
  return exitCode;
}

function lat(r: LoadResult | undefined): string {
  return r === undefined ? "-" : `${r.latencyMs.p50} / ${r.latencyMs.p99}`;
}

function errs(r: LoadResult | undefined): string {
  return r === undefined ? "-" : `${r.errors} / ${r.timeouts} / ${r.non2xx}`;
}

function qu(r: LoadResult | undefined): string {
  if (r === undefined) return "-";
  const total = r.results.queued + r.results.unmatched + r.results.duplicate + r.results.other;
  return total === 0 ? "-" : `${((100 * r.results.queued) / total).toFixed(0)}% / ${((100 * r.results.unmatched) / total).toFixed(0)}%`;
}

process.exitCode = await main();
