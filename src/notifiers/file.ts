// Appends each notification as one line to a file, like Falco's file_output: `keep_alive: false` opens,
// appends and closes the file for every line; `keep_alive: true` keeps it open. SIGUSR1 makes it reopen
// the file (after logrotate moved it, new lines go to a new file at `filename`), as Falco does.
// Lines are written asynchronously in batches from a bounded buffer: the engine never waits on the disk.
import { appendFile, type FileHandle, open } from "node:fs/promises";
import { z } from "zod";
import { errorMessage, KestrelError } from "../errors.ts";
import { defineNotifier } from "../plugins/define.ts";
import { formatLine } from "./_payload.ts";
import { onReopen } from "./_reopen.ts";

/** Errors worth trying again: the disk or the file table may free up; a bad path or permission will not. */
const TRANSIENT = new Set(["ENOSPC", "EAGAIN", "EMFILE", "ENFILE", "EIO", "EBUSY", "EINTR", "EDQUOT"]);

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class LineFile {
  readonly #filename: string;
  readonly #keepAlive: boolean;
  readonly #maxBuffered: number;
  #pending: Pending[] = [];
  #handle: FileHandle | undefined;
  #running: Promise<void> | undefined;
  #reopenRequested = false;

  constructor(filename: string, keepAlive: boolean, maxBuffered: number) {
    this.#filename = filename;
    this.#keepAlive = keepAlive;
    this.#maxBuffered = maxBuffered;
  }

  /** Queues one line; resolves once it is in the file. Throws at once when the buffer is full. */
  write(line: string): Promise<void> {
    if (this.#pending.length >= this.#maxBuffered) {
      return Promise.reject(
        new KestrelError("ERR_NOTIFY", `${this.#filename}: ${this.#maxBuffered} lines are waiting to be written`, { retryable: true }),
      );
    }
    const done = new Promise<void>((resolve, reject) => this.#pending.push({ line, resolve, reject }));
    this.#kick();
    return done;
  }

  /** Closes the file before the next line (or now, when idle) so that the next line opens `filename` again. */
  reopen(): void {
    this.#reopenRequested = true;
    this.#kick();
  }

  /** Writes what is buffered, then closes the file. */
  async close(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    await this.#closeHandle();
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0 || this.#reopenRequested) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#reopenRequested) {
      if (this.#reopenRequested) {
        this.#reopenRequested = false;
        await this.#closeHandle();
        continue;
      }
      const batch = this.#pending.splice(0);
      const text = `${batch.map((p) => p.line).join("\n")}\n`;
      try {
        if (this.#keepAlive) {
          this.#handle ??= await open(this.#filename, "a");
          await this.#handle.write(text);
        } else {
          await appendFile(this.#filename, text);
        }
        for (const p of batch) p.resolve();
      } catch (err) {
        await this.#closeHandle();
        const code = (err as NodeJS.ErrnoException).code ?? "";
        const error = new KestrelError("ERR_NOTIFY", `failed to write to output file ${this.#filename}: ${errorMessage(err)}`, {
          cause: err,
          retryable: TRANSIENT.has(code),
        });
        for (const p of batch) p.reject(error);
      }
    }
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) await handle.close().catch(() => undefined);
  }
}

export default defineNotifier({
  name: "file",
  needs: [],
  notes: {
    behaviour: "One line appended per notification; logrotate sends SIGUSR1 to have it reopened.",
  },
  description: "Append each result as one line to a file (Falco's file_output; reopened on SIGUSR1)",
  params: z.strictObject({
    filename: z.string().min(1).describe("path of the file; lines are appended"),
    keep_alive: z.boolean().default(false).describe("true: keep the file open; false: open, append and close it for every line (as Falco)"),
    format: z.enum(["json", "text"]).default("json").describe("json: one JSON object per line; text: one readable line"),
    max_buffered_lines: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("lines waiting to be written before new ones fail (Kestrel addition)"),
  }),
  example: `
notifiers:
  file:
    filename: /var/log/kestrel/events.txt
    keep_alive: true
    format: json
`,
  create(settings, { log }) {
    const file = new LineFile(settings.filename, settings.keep_alive, settings.max_buffered_lines);
    const unregister = onReopen(() => {
      log.info({ filename: settings.filename }, "SIGUSR1: reopening the output file");
      file.reopen();
    });
    return {
      send(n) {
        return file.write(formatLine(n, settings.format));
      },
      async close() {
        unregister();
        await file.close();
      },
    };
  },
});
