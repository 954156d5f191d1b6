// `kestrel server` as a child process, as the end-to-end tests start it: the real CLI with a config file
// and a rules file, a minimal environment, every output line kept (JSON log lines parsed; the exit summary
// is plain text), the URL read from the "Kestrel is listening" line, and always killed in the end.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./kestrel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const KESTREL_BIN = join(ROOT, "bin/kestrel.js");

export interface KestrelProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every line written on stdout and stderr so far. */
  readonly lines: string[];
  /** The stdout lines that are JSON log records. */
  readonly logs: Record<string, unknown>[];
  readonly url: string;
  /** POSTs a body to the intake. */
  post(body: string, headers?: Record<string, string>): Promise<Response>;
  /** Sends the signal and resolves with the exit code (null when a signal ended the process). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, if still running (for `finally` and `after`). */
  kill(): void;
}

/** Writes files into a new temporary folder; returns the folder. */
export async function tempFiles(prefix: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

export interface SpawnedKestrel {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code (null when a signal ended the process). */
  readonly exited: Promise<number | null>;
  kill(): void;
}

export interface KestrelOptions {
  /** Paths of the config and rules files. */
  config: string;
  rules: string;
  /** Added to a PATH of its own: nothing else is inherited, as on a clean machine. */
  env?: Record<string, string>;
}

/** Spawns `kestrel server -c <config> -r <rules>` and collects its output, without waiting for anything. */
export function spawnKestrel(options: KestrelOptions): SpawnedKestrel {
  const child = spawn(process.execPath, [KESTREL_BIN, "server", "-c", options.config, "-r", options.rules], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
  });
  const lines: string[] = [];
  const logs: Record<string, unknown>[] = [];
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith("{")) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log record
        }
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  return { child, lines, logs, exited, kill };
}

/** Starts `kestrel server` (see spawnKestrel) and waits until it listens (JSON logs: log_format json). */
export async function startKestrelProcess(options: KestrelOptions & { timeoutMs?: number }): Promise<KestrelProcess> {
  const { child, lines, logs, exited, kill } = spawnKestrel(options);
  try {
    await eventually(() => logs.some((l) => l["msg"] === "Kestrel is listening") || child.exitCode !== null, options.timeoutMs ?? 15_000, "the server to listen");
  } catch (err) {
    kill();
    throw new Error(`${(err as Error).message}:\n${lines.join("\n")}`);
  }
  const ready = logs.find((l) => l["msg"] === "Kestrel is listening");
  if (ready === undefined) throw new Error(`kestrel server exited (${child.exitCode}):\n${lines.join("\n")}`);
  const url = String(ready["url"]);
  return {
    child,
    lines,
    logs,
    url,
    post: (body, headers = {}) => fetch(`${url}/`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
    stop: async (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
    kill,
  };
}
