// The history's query speed over a large store (issue 18: a page of 50 over 1,000,000 events, filtered by
// rule and time, newest first, in < 100 ms). Fills a temporary SQLite history with BENCH_HISTORY_EVENTS
// events (default 1,000,000) spread over 30 days, 40 Falco rules and 8 Kestrel rules, then times pages.
// Usage: npm run bench:history
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type EventFilter, type HistoryEvent, SqliteHistory } from "../src/history/sqlite.ts";

const total = Number(process.env["BENCH_HISTORY_EVENTS"] ?? 1_000_000);
const DAY = 86_400_000;
const start = Date.UTC(2026, 10, 1);
const dir = mkdtempSync(join(tmpdir(), "kestrel-bench-history-"));

function event(i: number): HistoryEvent {
  return {
    traceId: i.toString(16).padStart(32, "0"),
    receivedMs: start + Math.floor((i / total) * 30 * DAY),
    time: new Date(start + i).toISOString(),
    priority: i % 8,
    falcoRule: `Falco rule ${i % 40}`,
    source: i % 10 === 0 ? "k8s_audit" : "syscall",
    hostname: `node-${i % 12}`,
    namespace: `ns-${i % 30}`,
    pod: `pod-${i % 5000}`,
    output: `Notice A shell was spawned in a container (user=root container=${i % 5000} shell=bash parent=runc cmdline=bash -c ls)`,
    fields: { "proc.pid": i, "k8s.pod.name": `pod-${i % 5000}`, "container.id": (i * 7919).toString(16) },
    tags: ["container", "shell", `mitre_${i % 5}`],
    rules: i % 3 === 0 ? [] : [`Kestrel rule ${i % 8}`],
  };
}

function timeQuery(h: SqliteHistory, filter: EventFilter, runs = 21): { ms: number; found: number } {
  const times: number[] = [];
  let found = 0;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    found = h.list(filter, 50).events.length;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[runs >> 1]!, found };
}

try {
  const h = new SqliteHistory(join(dir, "history.db"));
  const filling = performance.now();
  for (let i = 0; i < total; i += 1000) {
    const batch: HistoryEvent[] = [];
    for (let j = i; j < Math.min(total, i + 1000); j++) batch.push(event(j));
    h.write(batch, []);
  }
  const fillS = (performance.now() - filling) / 1000;
  console.log(
    `filled ${total.toLocaleString("en-US")} events in ${fillS.toFixed(1)} s (${Math.round(total / fillS).toLocaleString("en-US")} events/s)`,
  );
  const week = { since: start + 20 * DAY, until: start + 27 * DAY };
  const cases: [string, EventFilter][] = [
    ["newest, no filter", {}],
    ["Falco rule + 7 days", { falcoRule: "Falco rule 7", ...week }],
    ["Kestrel rule + 7 days", { rule: "Kestrel rule 3", ...week }],
    ["priority Warning or worse + namespace", { priority: 4, namespace: "ns-3" }],
    ["free text, rare", { q: "container=4242 " }],
  ];
  for (const [label, filter] of cases) {
    const { ms, found } = timeQuery(h, filter);
    console.log(`${label.padEnd(40)} ${ms.toFixed(2).padStart(8)} ms per page (${found} events, median of 21)`);
  }
  h.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
