// Appends each notification as one line to a file, like Falco's file_output: `keep_alive: false` opens,
// appends and closes the file for every line; `keep_alive: true` keeps it open. SIGUSR1 makes it reopen
// the file (after logrotate moved it, new lines go to a new file at `filename`), as Falco does.
// Lines are written asynchronously in batches from a bounded buffer (./_lines.ts): the engine never waits on the disk.
import { appendFile, type FileHandle, open } from "node:fs/promises";
import { z } from "zod";
import { errorMessage, KestrelError } from "../errors.ts";
import { defineNotifier } from "../plugins/define.ts";
import { LineQueue, lineNotifier, maxBufferedLines } from "./_lines.ts";
import { lineFormat } from "./_payload.ts";

/** Errors worth trying again: the disk or the file table may free up; a bad path or permission will not. */
const TRANSIENT = new Set(["ENOSPC", "EAGAIN", "EMFILE", "ENFILE", "EIO", "EBUSY", "EINTR", "EDQUOT"]);

export class LineFile {
  readonly #filename: string;
  readonly #keepAlive: boolean;
  readonly #lines: LineQueue;
  #handle: FileHandle | undefined;

  constructor(filename: string, keepAlive: boolean, maxBuffered: number) {
    this.#filename = filename;
    this.#keepAlive = keepAlive;
    this.#lines = new LineQueue(
      {
        full: (max) => new KestrelError("ERR_NOTIFY", `${filename}: ${max} lines are waiting to be written`, { retryable: true }),
        write: (text) => this.#append(text),
        failed: async (err) => {
          await this.#closeHandle();
          const code = (err as NodeJS.ErrnoException).code ?? "";
          return new KestrelError("ERR_NOTIFY", `failed to write to output file ${filename}: ${errorMessage(err)}`, {
            cause: err,
            retryable: TRANSIENT.has(code),
          });
        },
      },
      maxBuffered,
    );
  }

  /** Queues one line; resolves once it is in the file. Throws at once when the buffer is full. */
  write(line: string): Promise<void> {
    return this.#lines.write(line);
  }

  /** Closes the file before the next line (or now, when idle) so that the next line opens `filename` again. */
  reopen(): void {
    this.#lines.between(() => this.#closeHandle());
  }

  /** Writes what is buffered, then closes the file. */
  async close(): Promise<void> {
    await this.#lines.flushed();
    await this.#closeHandle();
  }

  async #append(text: string): Promise<void> {
    if (this.#keepAlive) {
      this.#handle ??= await open(this.#filename, "a");
      await this.#handle.write(text);
    } else {
      await appendFile(this.#filename, text);
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
    format: lineFormat,
    max_buffered_lines: maxBufferedLines("lines waiting to be written before new ones fail (Kestrel addition)"),
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
    return lineNotifier(file, settings.format, () => {
      log.info({ filename: settings.filename }, "SIGUSR1: reopening the output file");
      file.reopen();
    });
  },
});
