// `kestrel server` as a child process, the way the end-to-end tests run it: the real CLI with a config file
// and a rules file, in a minimal environment (PATH and what the test adds, as on a clean machine). One copy
// of the plumbing the e2e files each had, keeping what they rely on: every output line (stdout and stderr:
// the exit summary is plain text, a crash trace goes to stderr), the JSON log records among them, the URL
// from the "Kestrel is listening" record (so JSON logs are needed), the exit code once all output is read,
// and timeouts whose error ends with the output. Call kill() in `finally`/`after`: a failed test must not
// leave a server running.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { until } from "./wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The CLI launcher, bin/kestrel.js. */
export const KESTREL_BIN = join(ROOT, "bin/kestrel.js");
/** How long stop() waits for the exit by default: longer than the default shutdown deadline (30 s). */
const EXIT_TIMEOUT_MS = 60_000;

export type LogRecord = Record<string, unknown>;

export interface KestrelOptions {
  /** The config and rules files (a relative path is from the repository root, e.g. examples/config.yaml). */
  config: string;
  rules: string;
  /** Environment variables besides PATH. */
  env?: Record<string, string>;
}

/** A spawned `kestrel server`, listening or not (see spawnKestrel). */
export interface SpawnedKestrel {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every output line so far: stdout and stderr, in order of arrival. */
  readonly lines: string[];
  /** The stdout lines that are JSON records (the log), parsed. */
  readonly logs: LogRecord[];
  /** Polls `check` until it is true; fails after `timeoutMs`, or at once if the process has exited, with the output. */
  waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Waits for an output line that contains `match` (text), matches it (RegExp) or passes it (function); resolves with that line. */
  waitForLine(match: string | RegExp | ((line: string) => boolean), timeoutMs: number, what?: string): Promise<string>;
  /** Resolves with the exit code (null when a signal ended the process) once the output is all read; fails after `timeoutMs` with the output. */
  waitForExit(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit: see waitForExit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, unless the process has exited already: for `finally` and `after`. */
  kill(): void;
}

/** A `kestrel server` that listens (see startKestrelProcess). */
export interface KestrelProcess extends SpawnedKestrel {
  /** The "Kestrel is listening" log record (url, watch_rules…). */
  readonly listening: LogRecord;
  /** The intake's base URL, from that record. */
  readonly url: string;
  /** POSTs `body` to the intake (content-type application/json unless `headers` say otherwise). */
  post(body: string, headers?: Record<string, string>): Promise<Response>;
}

/** Writes `files` (name → text) into a new temporary folder and resolves with the folder. */
export async function tempFiles(prefix: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** Spawns `kestrel server -c <config> -r <rules>` and collects its output, without waiting for anything (for a start that must fail). */
export function spawnKestrel(options: KestrelOptions): SpawnedKestrel {
  const child = spawn(process.execPath, [KESTREL_BIN, "server", "-c", options.config, "-r", options.rules], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
  });
  const lines: string[] = [];
  const logs: LogRecord[] = [];
  const collect = (stream: Readable, parse: boolean): (() => void) => {
    let partial = "";
    const add = (line: string): void => {
      lines.push(line);
      if (!parse || !line.startsWith("{")) return;
      try {
        logs.push(JSON.parse(line) as LogRecord);
      } catch {
        // not a log record
      }
    };
    stream.on("data", (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) add(line);
    });
    return () => {
      if (partial !== "") add(partial);
      partial = "";
    };
  };
  const flushStdout = collect(child.stdout, true);
  const flushStderr = collect(child.stderr, false);
  // "close", not "exit": it comes once stdout and stderr are read to the end, so the summary is in `lines`.
  let closed = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      flushStdout();
      flushStderr();
      closed = true;
      resolve(code);
    }),
  );
  const output = (): string => lines.join("\n");

  const waitFor = async (check: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    await until(check, what, timeoutMs, {
      failIf: () => (closed ? `kestrel server exited (code ${child.exitCode}, signal ${child.signalCode})` : undefined),
      detail: output,
    });
  };
  const waitForExit = async (timeoutMs = EXIT_TIMEOUT_MS): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`kestrel server did not exit within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    lines,
    logs,
    waitFor,
    async waitForLine(match, timeoutMs, what) {
      const test =
        typeof match === "string" ? (l: string) => l.includes(match) : match instanceof RegExp ? (l: string) => match.test(l) : match;
      await waitFor(() => lines.some(test), timeoutMs, what ?? `a line matching ${String(match)}`);
      return lines.find(test)!;
    },
    waitForExit,
    stop(signal = "SIGTERM", timeoutMs) {
      child.kill(signal);
      return waitForExit(timeoutMs);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

const isListening = (l: LogRecord): boolean => l["msg"] === "Kestrel is listening";

/** Spawns `kestrel server` (see spawnKestrel) and resolves once it listens; killed if it does not within `timeoutMs`. */
export async function startKestrelProcess(options: KestrelOptions & { timeoutMs?: number }): Promise<KestrelProcess> {
  const kestrel = spawnKestrel(options);
  try {
    await kestrel.waitFor(() => kestrel.logs.some(isListening), options.timeoutMs ?? 15_000, "the server to listen");
  } catch (err) {
    kestrel.kill();
    throw err;
  }
  const listening = kestrel.logs.find(isListening)!;
  const url = String(listening["url"]);
  return {
    ...kestrel,
    listening,
    url,
    post: (body, headers = {}) => fetch(`${url}/`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
  };
}
