// A/B of two servers under the load of `npm run bench`: both run at once, and are loaded in turn, in short
// alternating windows, the order switching every round. For each window it reads the server's CPU time
// from /proc and counts its answers: CPU per request moves much less than the rate between windows on a
// noisy VM, and pairing the windows puts a slow spell on both sides. It is how the intake changes in
// bench/README.md ("Where the time goes") were measured.
//
// Usage: node bench/ab.ts A B, where each side is
//   - a directory holding a Kestrel checkout with its dependencies (`git worktree add /tmp/base HEAD~1`,
//     then `ln -s "$PWD/node_modules" /tmp/base/`): Kestrel with the benchmark's 100 rules;
//   - `bare` or `bare-coalesce`: bench/bare-server.ts, answering at once or at the end of each turn.
// Environment: BENCH_AB_ROUNDS (default 12), BENCH_AB_SECONDS (per window, default 2), and BENCH_EVENTS,
// BENCH_RULES, BENCH_CONNECTIONS, BENCH_SEED, BENCH_PIN as for `npm run bench`.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { defaultSeed, generateEvents, loadCorpus } from "./events.ts";
import {
  addTmpDir,
  benchKestrelConfig,
  type Child,
  CONNECTIONS,
  EVENTS,
  envNumber,
  freePort,
  log,
  pinning,
  RULES,
  removeTmpDir,
  startChild,
  startWatchdog,
  stopAllChildren,
  waitReady,
  writeResults,
} from "./lib.ts";
import { load } from "./load.ts";
import { generateRules } from "./rules.ts";

const ROUNDS = Math.round(envNumber("BENCH_AB_ROUNDS", 12, 1, 1000));
const SECONDS = Math.round(envNumber("BENCH_AB_SECONDS", 2, 1, 60));

interface Side {
  label: string;
  child: Child;
  url: string;
  cpuMicrosPerRequest: number[];
  eventsPerSecond: number[];
}

async function startSide(spec: string, dir: string, rulesFile: string): Promise<Side> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let child: Child;
  if (spec === "bare" || spec === "bare-coalesce") {
    child = startChild(spec, ["bench/bare-server.ts", String(port), ...(spec === "bare-coalesce" ? ["--coalesce"] : [])]);
  } else {
    const bin = join(resolve(spec), "bin", "kestrel.js");
    if (!existsSync(bin)) throw new Error(`${spec}: no bin/kestrel.js there (a Kestrel checkout, or bare, or bare-coalesce)`);
    const configFile = join(dir, `config-${port}.yaml`);
    writeFileSync(configFile, JSON.stringify({ ...benchKestrelConfig(), listen_port: port }));
    child = startChild(`kestrel ${spec}`, [bin, "server", "-c", configFile, "-r", rulesFile]);
  }
  await waitReady(child, `${url}healthz`, 60_000);
  return { label: spec, child, url, cpuMicrosPerRequest: [], eventsPerSecond: [] };
}

/** Loads one side for `seconds` (see ./load.ts): its CPU per answer (µs) and answers per second. */
async function window(side: Side, bodies: readonly string[], seconds: number): Promise<{ cpu: number; rate: number }> {
  const r = await load(side.url, bodies, side.child.pid, seconds);
  return { cpu: ((r.serverCpuPercent / 100) * r.seconds * 1e6) / r.responses, rate: r.eventsPerSecond };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const [specA, specB] = process.argv.slice(2);
  if (specA === undefined || specB === undefined)
    throw new Error("usage: node bench/ab.ts <A> <B> (a Kestrel checkout, bare or bare-coalesce)");
  const watchdog = startWatchdog("bench:ab", (ROUNDS * 2 * (SECONDS + 3) + 180) * 1000);
  const corpus = loadCorpus();
  const seed = defaultSeed();
  const dir = mkdtempSync(join(os.tmpdir(), "kestrel-bench-ab-"));
  addTmpDir(dir);
  try {
    const rulesFile = join(dir, "rules.yaml");
    writeFileSync(rulesFile, generateRules(RULES, { seed, corpus }).yaml);
    const bodies = generateEvents(EVENTS, { seed, corpus });
    log(`A = ${specA}, B = ${specB}; ${ROUNDS} rounds of ${SECONDS} s each, ${CONNECTIONS} connections, ${pinning()}`);
    const sides = [await startSide(specA, dir, rulesFile), await startSide(specB, dir, rulesFile)] as const;
    for (const side of sides) await window(side, bodies, 2); // warm-up
    const cpuRatios: number[] = [];
    const rateRatios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      const got: { cpu: number; rate: number }[] = [];
      for (const i of order) got[i] = await window(sides[i]!, bodies, SECONDS);
      sides.forEach((side, i) => {
        side.cpuMicrosPerRequest.push(got[i]!.cpu);
        side.eventsPerSecond.push(got[i]!.rate);
      });
      cpuRatios.push(got[1]!.cpu / got[0]!.cpu);
      rateRatios.push(got[1]!.rate / got[0]!.rate);
      log(
        `round ${round + 1}/${ROUNDS}: A ${got[0]!.cpu.toFixed(1)} µs/req ${got[0]!.rate.toFixed(0)}/s   B ${got[1]!.cpu.toFixed(1)} µs/req ${got[1]!.rate.toFixed(0)}/s`,
      );
    }
    const report = {
      a: specA,
      b: specB,
      rounds: ROUNDS,
      seconds: SECONDS,
      pinning: pinning(),
      medianCpuMicrosPerRequest: { a: median(sides[0].cpuMicrosPerRequest), b: median(sides[1].cpuMicrosPerRequest) },
      medianEventsPerSecond: { a: median(sides[0].eventsPerSecond), b: median(sides[1].eventsPerSecond) },
      medianCpuRatio: median(cpuRatios),
      medianRateRatio: median(rateRatios),
      sides: sides.map(({ label, cpuMicrosPerRequest, eventsPerSecond }) => ({ label, cpuMicrosPerRequest, eventsPerSecond })),
    };
    process.stdout.write(
      `\nCPU per request, median: A ${report.medianCpuMicrosPerRequest.a.toFixed(1)} µs, B ${report.medianCpuMicrosPerRequest.b.toFixed(1)} µs; ` +
        `median of the rounds' B/A: CPU ${report.medianCpuRatio.toFixed(3)}, events/s ${report.medianRateRatio.toFixed(3)}\n`,
    );
    log(`written ${writeResults("ab-latest.json", report)}`);
  } finally {
    clearTimeout(watchdog);
    await stopAllChildren();
    removeTmpDir(dir);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:ab: ${err instanceof Error ? err.message : String(err)}\n`);
    void stopAllChildren().then(() => process.exit(1));
  },
);
