// One load phase of the benchmarks: autocannon drives a server with the generated bodies, and the phase is
// measured from its first answer to its last (rates, server and machine CPU, result words of the answers).
// Used by `npm run bench` (run.ts) and `npm run bench:ab` (ab.ts).
import os from "node:os";
import autocannon, { type AutocannonOptions, type AutocannonRequest, type AutocannonResult } from "autocannon";
import { CONNECTIONS, machineJiffies, PACING, procCpuSeconds, smoothPacer } from "./lib.ts";

export interface Counts {
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

export interface LoadResult {
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

export async function load(url: string, bodies: readonly string[], serverPid: number, seconds: number, rate?: number): Promise<LoadResult> {
  const w: Window = {
    responses: 0,
    first: 0,
    last: 0,
    serverCpu0: 0,
    selfCpu0: undefined,
    machine0: { busy: 0, total: 0 },
    counts: { queued: 0, duplicate: 0, unmatched: 0, other: 0 },
  };
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
