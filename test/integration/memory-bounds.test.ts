// Memory stays bounded whatever the events contain (issue 14 §3): `kestrel server` as a child process takes
// 10,000 hostile events of each kind — distinct 64 KiB sources, distinct 64 KiB outputs no rule wants,
// events too wide (too many or too long fields) or too deep, and matched events with distinct large fields
// (recorded for deduplication) — and its RSS, read from /proc, grows by less than 64 MB; it still answers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EVENT_LIMITS } from "../../src/events/parse.ts";
import { falcoEvent } from "../support/events.ts";
import { type KestrelProcess, startKestrelProcess, tempFiles } from "../support/process.ts";

const EVENTS = 10_000;
const WARMUP = 1000;
const MAX_GROWTH_MB = 64;
const CONCURRENCY = 8;

const RULES = `
- rule: Matched hostile
  match: { rules: [Hostile matched] }
  dry_run: true
  actions:
    - action: Nothing
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;

/** A new 64 KiB text per call, distinct by `i` (a shared prefix would let the server share it). */
const huge = (i: number, size = 64 * 1024): string => `${i}:${"x".repeat(size)}`;

const base = (o: Record<string, unknown>): string =>
  JSON.stringify({
    rule: "Hostile",
    priority: "Warning",
    output: "hostile",
    source: "syscall",
    time: "2024-12-30T14:37:27.505989596Z",
    ...o,
  });

/** The kinds of hostile events: each body is built per index, and must get the given status. */
const KINDS: { name: string; status: number; body: (i: number) => string }[] = [
  { name: "distinct huge sources", status: 200, body: (i) => base({ rule: `Hostile ${i % 7}`, source: huge(i) }) },
  { name: "distinct huge unmatched outputs", status: 200, body: (i) => base({ output: huge(i) }) },
  {
    name: "too many or too long output fields",
    status: 400,
    body: (i) =>
      base({
        output_fields:
          i % 2 === 0
            ? Object.fromEntries(Array.from({ length: EVENT_LIMITS.outputFields + 1 }, (_, k) => [`f${k}`, i]))
            : { "proc.cmdline": huge(i, EVENT_LIMITS.fieldLength) },
      }),
  },
  {
    name: "too deep output fields",
    status: 400,
    body: (i) => base({ output_fields: { deep: i } }).replace(`"deep":${i}`, `"d${i}":${"[".repeat(5000)}${"]".repeat(5000)}`),
  },
  {
    name: "distinct matched events with large fields",
    status: 200,
    body: (i) =>
      base({
        rule: "Hostile matched",
        output: undefined,
        output_fields: Object.fromEntries(Array.from({ length: 4 }, (_, k) => [`f${k}`, huge(i * 4 + k, 4096)])),
      }),
  },
];

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Posts `count` bodies from `from` on, CONCURRENCY at a time; resolves with the answers' statuses counted. */
async function flood(url: URL, from: number, count: number, body: (i: number) => string): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = from;
  const end = from + count;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const status = await post(url, body(next++));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return statuses;
}

function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(kb![1]) / 1024;
}

describe("memory bounds under hostile events", { skip: process.platform !== "linux" ? "reads RSS from /proc" : false }, () => {
  let kestrel: KestrelProcess;
  before(async () => {
    const dir = await tempFiles("kestrel-memory-", {
      // A long deduplication window: whatever the store keeps, it keeps for the whole test.
      "config.yaml":
        "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nwatch_rules: false\ndeduplication: { time_window_seconds: 600 }\n",
      "rules.yaml": RULES,
    });
    // V8 sizes the young generation to the allocation rate (up to 3 × 16 MB: a bound, not growth with the
    // events); pinned small, the measure is what the events leave behind rather than 40 MB of heap sizing.
    const env = { NODE_OPTIONS: "--max-semi-space-size=4" };
    kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml"), env });
  });
  after(() => {
    agent.destroy();
    kestrel?.kill();
  });

  it(`grows by less than ${MAX_GROWTH_MB} MB over ${EVENTS} events of each kind, and keeps answering`, async (t) => {
    const url = new URL(kestrel.url);
    const pid = kestrel.child.pid!;
    // Every path warmed up (code compiled, heap sized) by the same sequence of kinds, so that the baseline and
    // the final measure are taken at the same point of it: what differs is what the 10,000 events left behind.
    // In between, the heap's size follows the garbage of each kind (reported, not asserted).
    for (const kind of KINDS) await flood(url, 0, WARMUP, kind.body);
    const baseline = rssMb(pid);
    const growth: string[] = [];
    for (const kind of KINDS) {
      const statuses = await flood(url, WARMUP, EVENTS, kind.body);
      assert.deepEqual([...statuses], [[kind.status, EVENTS]], kind.name);
      growth.push(`${kind.name}: ${(rssMb(pid) - baseline).toFixed(1)} MB`);
    }
    const grown = rssMb(pid) - baseline;
    t.diagnostic(`RSS ${baseline.toFixed(1)} MB after the warm-up; growth after ${growth.join("; ")}`);
    assert.ok(grown < MAX_GROWTH_MB, `RSS grew from ${baseline.toFixed(1)} MB by ${grown.toFixed(1)} MB (${growth.join("; ")})`);
    const answer = await kestrel.post(falcoEvent({ rule: "Hostile matched" }));
    assert.equal(answer.status, 200);
    assert.equal(((await answer.json()) as { result: string }).result, "queued");
    assert.equal((await fetch(`${kestrel.url}/healthz`)).status, 200);
  });
});
