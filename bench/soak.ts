// `npm run bench:soak`: Kestrel under a sustained load for a bounded time, with a slow notifier.
//  1. Kestrel (100 generated dry-run rules, dedup off) in a child process, with the webhook notifier as a
//     notifier of a rule that routes every event to it, pointing at a receiver in this process that
//     answers after BENCH_SOAK_NOTIFIER_DELAY_MS.
//  2. Its maximum rate, at full speed for a few seconds; then 80 % of it, evenly paced, for
//     BENCH_SOAK_SECONDS (default 60), with VmRSS sampled every second.
//  3. Once Kestrel has settled (queue empty, counters still), the checks: zero lost events (every accepted
//     event counted, and exactly the actions the sent events must produce — computed here with the same
//     rules compiled in-process — ran), flat RSS, and the receipt→dispatch p99 of the sustained phase.
// Exit code 1 when an event was lost (a correctness failure) or the run could not happen; 0 otherwise.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { parseEvent } from "../src/events/parse.ts";
import { createRegistries } from "../src/plugins/registries.ts";
import { loadRules } from "../src/rules/index.ts";
import type { RuleSet } from "../src/rules/types.ts";
import { generateEventRecords, loadCorpus } from "./events.ts";
import { generateRules } from "./rules.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECONDS = Number(process.env["BENCH_SOAK_SECONDS"] ?? 60);
const MAX_SECONDS = Number(process.env["BENCH_SOAK_MAX_SECONDS"] ?? 5);
const NOTIFIER_DELAY_MS = Number(process.env["BENCH_SOAK_NOTIFIER_DELAY_MS"] ?? 200);
const LOAD_SHARE = 0.8;
const CONNECTIONS = 50;
const BUDGET_MS = (SECONDS + MAX_SECONDS + 120) * 1000;

const dir = mkdtempSync(join(tmpdir(), "kestrel-soak-"));
let child: ChildProcess | undefined;
const cleanup = (): void => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanup);
const watchdog = setTimeout(() => {
  process.stderr.write(`soak: over its ${BUDGET_MS / 1000} s budget, stopping\n`);
  process.exit(1);
}, BUDGET_MS);
watchdog.unref();

/** How many actions an event produces with these rules, as the engine runs them (dry runs never fail). */
function expectedActions(ruleSet: RuleSet, body: string): number {
  let n = 0;
  for (const rule of ruleSet.match(parseEvent(body).event)) {
    for (const action of rule.actions) {
      n++;
      if (!action.continueAfter) break;
    }
    if (rule.stopAfter) break;
  }
  return n;
}

function metricSum(text: string, name: string, filter = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith("#")) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (filter !== "" && !line.includes(filter)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

function buckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm"))) out.set(m[1] === "+Inf" ? Infinity : Number(m[1]), Number(m[2]));
  return out;
}

function quantile(q: number, before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      if (!Number.isFinite(hi)) return lo;
      const below = i === 0 ? 0 : counts[i - 1]!;
      return lo + ((hi - lo) * (rank - below)) / (counts[i]! - below || 1);
    }
  }
  return bounds[bounds.length - 2] ?? Number.NaN;
}

const rss = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  // The slow notifier's receiver.
  let delivered = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () =>
      setTimeout(() => {
        delivered++;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      }, NOTIFIER_DELAY_MS),
    );
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const receiverPort = (receiver.address() as AddressInfo).port;

  const corpus = loadCorpus();
  const rulesFile = join(dir, "rules.yaml");
  // The generated rules are dry runs (which notify nothing); one more rule routes every event to the slow
  // notifier, so that its bounded queue is under pressure for the whole run.
  writeFileSync(rulesFile, `${generateRules(100, { corpus }).yaml}\n- rule: Soak notifier pressure\n  match: {}\n  notifiers: [webhook]\n`);
  const bodies = generateEventRecords(1000, { corpus }).map((e) => e.body);
  const { ruleSet } = await loadRules([rulesFile], createRegistries(), {});
  if (ruleSet === undefined) throw new Error("the generated rules do not compile");
  const actionsOf = bodies.map((b) => expectedActions(ruleSet, b));

  // A free port, then /healthz: the "listening" line is an info log, and the soak runs at level warn.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    `listen_address: 127.0.0.1\nlisten_port: ${port}\nlog_format: json\nlog_level: warn\nwatch_rules: false\ndeduplication: { leader_election: false, time_window_seconds: 0 }\nqueue: { size: 100000 }\ndefault_notifiers: []\nnotifiers:\n  webhook:\n    url: http://127.0.0.1:${receiverPort}/slow\n    timeout_seconds: 5\n`,
  );
  const proc = spawn(process.execPath, [join(ROOT, "bin/kestrel.js"), "server", "-c", configFile, "-r", rulesFile], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  child = proc;
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let i = 0; i < 300 && !ready && proc.exitCode === null; i++) {
    ready = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (!ready) await sleep(50);
  }
  if (!ready) throw new Error(`Kestrel did not start:\n${out}`);
  const metrics = async () => (await fetch(`${url}/metrics`)).text();

  // Bodies sent, by index, and answers by status.
  const sent = new Array<number>(bodies.length).fill(0);
  let next = 0;
  const answers = new Map<number, number>();
  const requests = [
    {
      method: "POST" as const,
      path: "/",
      headers: { "content-type": "application/json" },
      setupRequest: (req: Record<string, unknown>) => {
        const i = next++ % bodies.length;
        sent[i]!++;
        return { ...req, body: bodies[i] };
      },
      onResponse: (status: number) => answers.set(status, (answers.get(status) ?? 0) + 1),
    },
  ];

  // 1. The maximum rate.
  const max = await autocannon({ url, connections: CONNECTIONS, duration: MAX_SECONDS, requests } as never);
  const maxRate = max.requests.average;
  const rate = Math.floor(maxRate * LOAD_SHARE);
  await sleep(3000); // let the notifier queue drain a little

  // 2. The sustained phase at 80 %.
  const before = await metrics();
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rss(proc.pid!)), 1000);
  const soak = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, overallRate: rate, requests } as never);
  clearInterval(sampler);
  const afterLoad = await metrics();

  // 3. Settle: queue empty and the action counter still for two scrapes.
  let settled = afterLoad;
  for (let i = 0, last = -1; i < 120; i++) {
    await sleep(500);
    settled = await metrics();
    const actions = metricSum(settled, "kestrel_actions_total");
    if (metricSum(settled, "kestrel_queue_depth") === 0 && actions === last) break;
    last = actions;
  }

  const accepted = answers.get(200) ?? 0;
  const refused = [...answers].filter(([s]) => s !== 200).reduce((a, [, n]) => a + n, 0);
  const expected = sent.reduce((total, n, i) => total + n * actionsOf[i]!, 0);
  const events = metricSum(settled, "kestrel_events_total");
  const actions = metricSum(settled, "kestrel_actions_total");
  const dispatched = metricSum(settled, "kestrel_event_to_action_seconds_count");
  const errors = max.errors + soak.errors + max.timeouts + soak.timeouts;
  const first10 = samples.slice(0, 10);
  const last10 = samples.slice(-10);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const growth = avg(last10) / avg(first10) - 1;
  const p99 = quantile(0.99, buckets(before, "kestrel_event_to_action_seconds"), buckets(afterLoad, "kestrel_event_to_action_seconds")) * 1000;
  const notified = metricSum(settled, "kestrel_notifications_total", 'status="success"');
  const notifyFailed = metricSum(settled, "kestrel_notifications_total", 'status="failure"');

  // autocannon does not report the answers still in flight when a phase ends, so what Kestrel counted is
  // compared with what was sent; a refusal would show in kestrel_rejected_total.
  const rejected = metricSum(settled, "kestrel_rejected_total");
  const lossFree = refused === 0 && rejected === 0 && errors === 0 && events === next && actions === expected && dispatched === actions;
  const flat = growth <= 0.2;
  const rows: [string, string][] = [
    ["max rate (events/s)", maxRate.toFixed(0)],
    [`sustained rate, ${SECONDS} s (target ${rate})`, soak.requests.average.toFixed(0)],
    ["requests sent / answered 200 / refused / errors", `${next} / ${accepted} / ${refused} / ${errors}`],
    ["events counted by Kestrel / rejected", `${events} / ${rejected}`],
    ["actions expected / run / dispatched", `${expected} / ${actions} / ${dispatched}`],
    ["zero lost events", lossFree ? "PASS" : "FAIL"],
    ["HTTP latency p50 / p99, sustained (ms)", `${soak.latency.p50} / ${soak.latency.p99}`],
    ["receipt→dispatch p99, sustained (ms)", p99.toFixed(2)],
    [`slow notifier (${NOTIFIER_DELAY_MS} ms): delivered / failed (queue full)`, `${notified} / ${notifyFailed} (receiver saw ${delivered})`],
    ["RSS first 10 s / last 10 s / peak (MB)", `${(avg(first10) / 1e6).toFixed(0)} / ${(avg(last10) / 1e6).toFixed(0)} / ${(Math.max(...samples) / 1e6).toFixed(0)}`],
    ["flat RSS (last 10 s ≤ first 10 s + 20 %)", `${flat ? "PASS" : "FAIL"} (${(growth * 100).toFixed(1)} %)`],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(62)} ${v}\n`);
  const result = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, notifierDelayMs: NOTIFIER_DELAY_MS, maxRate, targetRate: rate, sustainedRate: soak.requests.average, sent: next, answered200: accepted, refused, rejected, errors, events, expectedActions: expected, actions, dispatched, lossFree, httpLatencyMs: { p50: soak.latency.p50, p99: soak.latency.p99 }, receiptToDispatchP99Ms: p99, notifications: { success: notified, failure: notifyFailed }, rssBytes: { first10: avg(first10), last10: avg(last10), peak: Math.max(...samples), growth }, flat };
  writeFileSync(join(ROOT, "bench/results/soak-latest.json"), `${JSON.stringify(result, null, 2)}\n`);

  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  receiver.close();
  return lossFree ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1); // the exit handler stops Kestrel
  },
);
