// Feeds each notification as one line to a program's standard input, like Falco's program_output. The
// command comes from the configuration only (never from events) and runs through `/bin/sh -c`.
// keep_alive false (Falco's default): one process per notification; a non-zero exit is a failure.
// keep_alive true: one long-lived process fed one line per notification, restarted when it exits and on
// SIGUSR1; its stdin's backpressure is respected and waiting lines are bounded.

import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "pino";
import { z } from "zod";
import { within } from "../abort.ts";
import { errorFields, errorMessage, KestrelError } from "../errors.ts";
import { defineNotifier } from "../plugins/define.ts";
import { stdinScriptProblems } from "../template/shell.ts";
import { LineQueue, lineNotifier, maxBufferedLines } from "./_lines.ts";
import { formatLine, lineFormat } from "./_payload.ts";

const STDERR_TAIL = 2048;

/** Starts `program` through the shell in its own process group, so that a kill reaches the whole pipeline. */
function start(program: string): ChildProcess {
  return spawn("/bin/sh", ["-c", program], { stdio: ["pipe", "ignore", "pipe"], detached: true });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

function tail(text: string): string {
  const t = text.trim();
  return t.length > STDERR_TAIL ? `…${t.slice(-STDERR_TAIL)}` : t;
}

/** Runs `program` once, writes `line` to its stdin, closes it and waits for the exit. */
export function runOnce(program: string, line: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = start(program);
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (c: string) => {
      stderr = (stderr + c).slice(-STDERR_TAIL * 2);
    });
    // EPIPE when the program exits without reading its input: the exit status decides.
    child.stdin!.on("error", () => undefined);
    const onAbort = () => killGroup(child);
    signal.addEventListener("abort", onAbort, { once: true });
    child.once("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(new KestrelError("ERR_NOTIFY", `cannot run the program: ${errorMessage(err)}`, { cause: err, retryable: true }));
    });
    child.once("close", (code, sig) => {
      signal.removeEventListener("abort", onAbort);
      if (code === 0) return resolve();
      const how = code === null ? `was killed by ${sig}` : `exited with code ${code}`;
      const err = tail(stderr);
      reject(new KestrelError("ERR_NOTIFY", `the program ${how}${err === "" ? "" : `: ${err}`}`));
    });
    child.stdin!.end(`${line}\n`);
  });
}

/** One long-lived program fed one line per notification. */
export class KeptProgram {
  readonly #program: string;
  readonly #log: Logger;
  readonly #lines: LineQueue;
  #child: ChildProcess | undefined;
  /** Processes whose stdin was closed (SIGUSR1, close) and that have not exited yet. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #retiringChildren = new Set<ChildProcess>();
  #closed = false;
  /** How many processes were started (for logs and tests). */
  started = 0;

  constructor(program: string, maxBuffered: number, log: Logger) {
    this.#program = program;
    this.#log = log;
    this.#lines = new LineQueue(
      {
        full: (max) => new KestrelError("ERR_NOTIFY", `${max} lines are waiting for the program`, { retryable: true }),
        write: (text) => this.#writeChunk(text),
        failed: (err) =>
          new KestrelError("ERR_NOTIFY", `cannot write to the program: ${errorMessage(err)}`, { cause: err, retryable: true }),
      },
      maxBuffered,
    );
  }

  /** Whether a process is running and takes lines. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  write(line: string): Promise<void> {
    if (this.#closed) return Promise.reject(new KestrelError("ERR_NOTIFY", "the program notifier is closed"));
    return this.#lines.write(line);
  }

  /** SIGUSR1: closes the program's stdin (it finishes what it read and exits) and starts a new one. */
  restart(): void {
    this.#retire();
    if (!this.#closed) this.#ensureChild();
  }

  /** Writes what is buffered, closes the program's stdin and waits (up to `graceMs`) for it to exit. */
  async close(graceMs = 5000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + graceMs;
    let done = await within(this.#lines.flushed(), deadline - Date.now());
    this.#retire();
    if (done) done = await within(Promise.all([...this.#retiring]), deadline - Date.now());
    if (!done) {
      this.#log.warn({ program: this.#program }, "the program did not take its input or exit in time: killing it");
      for (const c of this.#retiringChildren) killGroup(c);
      await this.#lines.flushed();
      await Promise.all([...this.#retiring]);
    }
  }

  #retire(): void {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    child.stdin?.end();
  }

  #ensureChild(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    if (this.#closed) throw new Error("the notifier is closing");
    const child = start(this.#program);
    this.started++;
    this.#child = child;
    this.#retiringChildren.add(child);
    const exited = new Promise<void>((resolve) => {
      child.once("close", (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        this.#retiringChildren.delete(child);
        this.#retiring.delete(exited);
        if (!this.#closed)
          this.#log.warn({ program: this.#program, code, signal }, "the program exited; it is started again for the next line");
        resolve();
      });
    });
    this.#retiring.add(exited);
    child.once("error", (err) => {
      this.#log.error({ program: this.#program, ...errorFields(err, "ERR_NOTIFY") }, "cannot run the program");
    });
    child.stdin?.on("error", (err) => {
      this.#log.warn({ program: this.#program, ...errorFields(err, "ERR_NOTIFY") }, "the program's input was closed");
      if (this.#child === child) this.#child = undefined;
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      this.#log.warn({ program: this.#program, stderr: tail(text) }, "the program wrote to its standard error");
    });
    this.#log.info({ program: this.#program, pid: child.pid }, "program started");
    return child;
  }

  /** Writes to the current program (started if needed), waiting for 'drain' when its pipe is full. */
  #writeChunk(text: string): Promise<void> {
    let child: ChildProcess;
    try {
      child = this.#ensureChild();
    } catch (err) {
      return Promise.reject(err);
    }
    const stdin = child.stdin;
    if (stdin === null || !stdin.writable) {
      this.#child = undefined;
      return Promise.reject(new Error("its standard input is closed"));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        stdin.off("close", onClose);
        if (err) reject(err);
        else resolve();
      };
      const onClose = () => finish(new Error("the program exited"));
      stdin.once("close", onClose);
      const flushed = stdin.write(text, (err) => {
        if (err) finish(err);
        else if (flushed) finish();
      });
      if (!flushed) stdin.once("drain", () => finish());
    });
  }
}

export default defineNotifier({
  name: "program",
  needs: [],
  notes: {
    behaviour:
      "One line per notification on the program's stdin (run by `/bin/sh -c`), like Falco's program_output; restarted when it exits and on SIGUSR1.",
  },
  description: "Write each result as one line to a program's standard input (Falco's program_output)",
  params: z.strictObject({
    program: z
      .string()
      .min(1)
      .describe("the command, run through /bin/sh -c (from this configuration only, never from events)")
      // Its standard input is the notification (event text): what would run that text as code is refused.
      .superRefine((program, ctx) => {
        for (const problem of stdinScriptProblems(program)) ctx.addIssue({ code: "custom", message: problem });
      }),
    keep_alive: z
      .boolean()
      .default(false)
      .describe(
        "true: one long-lived process fed one line per result, restarted when it exits and on SIGUSR1; false: one process per result (as Falco)",
      ),
    format: lineFormat,
    max_buffered_lines: maxBufferedLines("lines waiting for a keep_alive program before new ones fail (Kestrel addition)"),
  }),
  example: `
notifiers:
  program:
    program: "jq -c '{text: .output}' | curl -s -d @- -X POST https://hooks.example.com/services/XXX"
    keep_alive: false
    format: json
`,
  create(settings, { log }) {
    if (!settings.keep_alive) {
      return {
        send(n, signal) {
          return runOnce(settings.program, formatLine(n, settings.format), signal);
        },
      };
    }
    const program = new KeptProgram(settings.program, settings.max_buffered_lines, log);
    return lineNotifier(program, settings.format, () => {
      log.info({ program: settings.program }, "SIGUSR1: restarting the program");
      program.restart();
    });
  },
});
