// What the load benchmarks share (bench/run.ts, bench/soak.ts): child processes stopped by PID (SIGTERM, then
// SIGKILL; also on error, Ctrl-C and process exit), a run watchdog, /proc sampling (RSS, CPU), loopback HTTP
// helpers, Prometheus text parsing and histogram quantiles, Kestrel's benchmark configuration, the even
// pacing of autocannon's connections, and the table / JSON output helpers.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { AutocannonClient } from "autocannon";

// ---- settings -------------------------------------------------------------------------------------------

/** A number from the environment, `fallback` when unset; throws when out of [min, max]. */
export function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}=${raw}: expected a number in [${min}, ${max}]`);
  return v;
}

/** What both load benchmarks take from the environment alike (see bench/README.md). */
export const CONNECTIONS = Math.round(envNumber("BENCH_CONNECTIONS", 50, 1, 1000));
export const RULES = Math.round(envNumber("BENCH_RULES", 100, 1, 100_000));
export const EVENTS = Math.round(envNumber("BENCH_EVENTS", 1000, 1, 100_000));
export const PACING: "smooth" | "autocannon" = process.env["BENCH_PACING"] === "autocannon" ? "autocannon" : "smooth";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 2000 }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---- child processes, temporary folders, watchdog ------------------------------------------------------------

export interface Child {
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
/** Temporary folders to remove at exit, whatever the way out. */
const tmpDirs = new Set<string>();
let cleanupInstalled = false;

/** Last resort, synchronous (process exit): SIGKILL every child still known, remove the temporary files. */
export function killChildrenNow(): void {
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

/** Once: children killed and temporary folders removed on exit, Ctrl-C and SIGTERM. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", killChildrenNow);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping the servers\n`);
      killChildrenNow();
      process.exit(130);
    });
  }
}

/** Registers a temporary folder: removed by removeTmpDir, or at exit whatever the way out. */
export function addTmpDir(dir: string): void {
  installCleanup();
  tmpDirs.add(dir);
}

export function removeTmpDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tmpDirs.delete(dir);
}

// ---- CPU pinning ------------------------------------------------------------------------------------------

/**
 * BENCH_PIN=1: the servers under test run on CPU 0 and this process, the load generator, on CPU 1 (needs 2
 * CPUs and `taskset`). Off by default. Pinned, the bare server's rate repeats within 2-3 % from run to run
 * (unpinned, ±20 % on a 2-CPU VM), which helps when comparing two versions of Kestrel; but each request
 * then crosses CPUs and the bare server no longer reaches 100 % of its CPU (about 92 %, with autocannon at
 * 80 % of its own), so its rate is partly the load generator's limit and the ratio flatters Kestrel.
 */
export const PIN: { server: string; generator: string } | undefined = (() => {
  if (process.env["BENCH_PIN"] !== "1") return undefined;
  if (os.cpus().length < 2) throw new Error("BENCH_PIN=1 needs 2 CPUs or more");
  try {
    execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore", timeout: 2000 });
    return { server: "0", generator: "1" };
  } catch {
    throw new Error("BENCH_PIN=1: taskset could not pin this process to CPU 1");
  }
})();

/** How the run was pinned, for the log and the results. */
export function pinning(): string {
  return PIN === undefined ? "unpinned" : `servers pinned to CPU ${PIN.server}, load generator to CPU ${PIN.generator}`;
}

/** `node <args>` in the repository root (on PIN.server), output kept (last 64 KiB), VmRSS sampled every 250 ms. */
export function startChild(name: string, args: string[]): Child {
  installCleanup();
  // taskset execs node: the child's PID is node's.
  const [command, argv] = PIN === undefined ? [process.execPath, args] : ["taskset", ["-c", PIN.server, process.execPath, ...args]];
  const proc = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
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
export async function stopChild(child: Child, graceMs = 10_000): Promise<string> {
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

/** Stops every child still running (SIGTERM, SIGKILL after `graceMs`). */
export async function stopAllChildren(graceMs = 5000): Promise<void> {
  for (const child of [...children]) await stopChild(child, graceMs);
}

/** Kills the children and exits with code 2 when the run exceeds `budgetMs`. Clear it when done. */
export function startWatchdog(name: string, budgetMs: number): NodeJS.Timeout {
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: the run exceeded its ${Math.round(budgetMs / 1000)} s budget; stopping\n`);
    killChildrenNow();
    process.exit(2);
  }, budgetMs);
  watchdog.unref();
  return watchdog;
}

// ---- /proc ------------------------------------------------------------------------------------------------

export function procStatus(pid: number): { vmRss: number; vmHwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
    return { vmRss: kb("VmRSS"), vmHwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15)
  } catch {
    return Number.NaN;
  }
}

/** Busy and total jiffies of the whole machine (all CPUs), from the first line of /proc/stat. */
export function machineJiffies(): { busy: number; total: number } {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - v[3]! - v[4]!, total }; // minus idle and iowait
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

// ---- HTTP helpers -----------------------------------------------------------------------------------------

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
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

export async function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Polls `url` until it answers 200; bounded by `timeoutMs` and by the child's exit. */
export async function waitReady(child: Child, url: string, timeoutMs: number): Promise<void> {
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- Kestrel ------------------------------------------------------------------------------------------------

/** Kestrel's configuration for the load benchmarks (every event counts: deduplication off). */
export function benchKestrelConfig() {
  return {
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
}

/**
 * Writes `config` (JSON is YAML) to `configFile`, starts `node bin/kestrel.js server -c <config> -r <rules>`
 * and waits (≤ 60 s) until GET /healthz answers 200.
 */
export async function startKestrel(
  config: { listen_port: number },
  configFile: string,
  rulesFile: string,
): Promise<{ child: Child; base: string; startupMs: number }> {
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const base = `http://127.0.0.1:${config.listen_port}`;
  const child = startChild("kestrel", ["bin/kestrel.js", "server", "-c", configFile, "-r", rulesFile]);
  const startedAt = performance.now();
  await waitReady(child, `${base}/healthz`, 60_000);
  return { child, base, startupMs: performance.now() - startedAt };
}

// ---- Prometheus text ----------------------------------------------------------------------------------------

export type Samples = Map<string, { labels: string; value: number }[]>;

export function parseMetrics(text: string): Samples {
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

/** The sum of a metric's samples, only those whose label text contains `labelFilter` when given. */
export function sum(samples: Samples, name: string, labelFilter?: string): number {
  return (samples.get(name) ?? [])
    .filter((s) => labelFilter === undefined || s.labels.includes(labelFilter))
    .reduce((a, s) => a + s.value, 0);
}

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is +Inf. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

export function histogram(samples: Samples, name: string): Histogram {
  const buckets = (samples.get(`${name}_bucket`) ?? [])
    .map((s) => {
      const le = /le="([^"]+)"/.exec(s.labels)?.[1] ?? "+Inf";
      return { le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), count: s.value };
    })
    .sort((a, b) => a.le - b.le);
  return { buckets, count: sum(samples, `${name}_count`), sum: sum(samples, `${name}_sum`) };
}

export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  const prior = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/** Prometheus histogram_quantile: linear interpolation inside the bucket holding the rank. */
export function histogramQuantile(q: number, h: Histogram): number {
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

/** GET <base>/metrics, parsed. */
export async function metrics(base: string): Promise<Samples> {
  const r = await get(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  return parseMetrics(r.body);
}

/** Receipt → dispatch of an action (observed once per dispatched action). */
export const E2A = "kestrel_event_to_action_seconds";

/**
 * Waits until Kestrel's queue is empty and its counters (`counters`, default the dispatched actions) did
 * not move between two scrapes 200 ms apart, bounded by `maxMs` (default 5 s); `settled` says whether they did.
 */
export async function waitSettled(
  base: string,
  options: { maxMs?: number; counters?: readonly string[] } = {},
): Promise<{ samples: Samples; settled: boolean; waitedMs: number }> {
  const names = options.counters ?? [`${E2A}_count`];
  const started = performance.now();
  const deadline = started + (options.maxMs ?? 5000);
  const reading = (m: Samples): string => names.map((n) => sum(m, n)).join(",");
  let previous: string | undefined;
  let samples = await metrics(base);
  for (;;) {
    const now = reading(samples);
    const settled = sum(samples, "kestrel_queue_depth") === 0 && now === previous;
    if (settled || performance.now() >= deadline) return { samples, settled, waitedMs: performance.now() - started };
    previous = now;
    await sleep(200);
    samples = await metrics(base);
  }
}

/** Waits (≤ 5 s) until Kestrel's queue is empty and no more actions are being dispatched. */
export async function settle(base: string): Promise<Samples> {
  return (await waitSettled(base)).samples;
}

export function latencySummary(h: Histogram) {
  return {
    dispatched: h.count,
    p50Ms: histogramQuantile(0.5, h) * 1000,
    p90Ms: histogramQuantile(0.9, h) * 1000,
    p99Ms: histogramQuantile(0.99, h) * 1000,
    meanMs: h.count > 0 ? (h.sum / h.count) * 1000 : Number.NaN,
    buckets: h.buckets.map((b) => ({ le: b.le === Number.POSITIVE_INFINITY ? "+Inf" : b.le, count: b.count })),
  };
}

// ---- autocannon pacing ----------------------------------------------------------------------------------------

export interface Pacer {
  /** autocannon's `setupClient`. */
  setupClient(client: AutocannonClient): void;
  /** performance.now() when the schedule started (after autocannon built its clients); undefined before. */
  startedAt(): number | undefined;
  /** True once `sendSeconds` have passed since the start: no new request is sent any more. */
  closed(): boolean;
}

/**
 * Wraps autocannon's internal `_doRequest` (autocannon 9) on each connection.
 *
 * With a `rate`, spreads `rate` requests/s evenly over time: each connection sends one request every
 * `connections / rate` seconds, the connections staggered. autocannon's own overallRate sends each
 * connection's per-second quota as fast as it can at the start of every second (at 50 % load: saturated
 * half of the time, idle the other half), which would measure latency under saturation. Without a rate,
 * each connection sends its next request as soon as the previous one is answered (autocannon's own way).
 *
 * A connection waits for each answer before it sends again (autocannon keeps one request in flight per
 * connection): after a slow answer it is behind schedule, and catches up by sending at once, as long as it
 * is at most `maxLagMs` late (default: one interval, i.e. one request); the slots beyond that are skipped.
 *
 * The time base is fixed once autocannon has built all its clients. With `sendSeconds`, no request is sent
 * after that many seconds: the connections fall idle once their last answer arrived, so a phase can end
 * with nothing in flight (autocannon's own duration destroys the connections with their requests unanswered).
 */
export function pacer(options: { rate?: number; connections: number; sendSeconds?: number; maxLagMs?: number }): Pacer {
  const { rate, connections } = options;
  const interval = rate === undefined ? 0 : (connections * 1000) / rate;
  const maxLag = options.maxLagMs ?? interval;
  let start: number | undefined;
  let end = Number.POSITIVE_INFINITY;
  let index = 0;
  const setupClient = (client: AutocannonClient): void => {
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
          if (start === undefined) {
            start = performance.now() + 5;
            if (options.sendSeconds !== undefined) end = start + options.sendSeconds * 1000;
          }
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
      if (now >= end) return; // the phase is over: this connection stays idle
      due += interval;
      if (due < now - maxLag) due = now - maxLag; // behind schedule: catch up by maxLag at most
      send.apply(client, args);
    };
    client._doRequest = paced;
  };
  return { setupClient, startedAt: () => start, closed: () => start !== undefined && performance.now() >= end };
}

/** The pacing of `npm run bench` at half rate: `rate` requests/s evenly spread (see pacer). */
export function smoothPacer(rate: number, connections: number): (client: AutocannonClient) => void {
  return pacer({ rate, connections }).setupClient;
}

// ---- output -------------------------------------------------------------------------------------------------

export function n0(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "-" : Math.round(v).toLocaleString("en-US");
}

export function n2(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(2);
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) || bytes === 0 ? "-" : `${(bytes / 1048576).toFixed(1)} MB`;
}

export function log(message: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Writes bench/results/<name> (non-finite numbers as null); returns its path. */
export function writeResults(name: string, report: unknown): string {
  const resultsDir = new URL("./results/", import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL(name, resultsDir);
  writeFileSync(file, `${JSON.stringify(report, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`);
  return fileURLToPath(file);
}
