// What the file and program notifiers share, like Falco's file_output and program_output: lines waiting in
// a bounded buffer, written in batches (one chunk per turn) by one writer at a time, so that the engine
// never waits on the disk or the pipe; and the notifier around such a writer, reopened on SIGUSR1.
import { z } from "zod";
import type { NotifierInstance } from "../plugins/types.ts";
import { formatLine } from "./_payload.ts";
import { onReopen } from "./_reopen.ts";

/** The `max_buffered_lines` setting: how many lines may wait before new ones fail. */
export function maxBufferedLines(description: string) {
  return z.number().int().positive().default(10_000).describe(description);
}

/** Where a LineQueue's batches go. */
export interface LineSink {
  /** The error of a line refused because `maxBuffered` lines are waiting. */
  full(maxBuffered: number): Error;
  /** Writes one batch: its lines, each ended by a newline. */
  write(text: string): Promise<void>;
  /** The error every line of a batch whose write failed is rejected with. */
  failed(err: unknown): Error | Promise<Error>;
}

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class LineQueue {
  readonly #sink: LineSink;
  readonly #maxBuffered: number;
  #pending: Pending[] = [];
  #running: Promise<void> | undefined;
  /** Work to do in the writer's turn, before the next batch (a reopen). */
  #task: (() => Promise<void>) | undefined;

  constructor(sink: LineSink, maxBuffered: number) {
    this.#sink = sink;
    this.#maxBuffered = maxBuffered;
  }

  /** Queues one line; resolves once it is written. Rejects at once when the buffer is full. */
  write(line: string): Promise<void> {
    if (this.#pending.length >= this.#maxBuffered) return Promise.reject(this.#sink.full(this.#maxBuffered));
    const done = new Promise<void>((resolve, reject) => this.#pending.push({ line, resolve, reject }));
    this.#kick();
    return done;
  }

  /** Runs `task` in the writer's turn: before the next batch, or now when idle. Replaces one not run yet. */
  between(task: () => Promise<void>): void {
    this.#task = task;
    this.#kick();
  }

  /** Resolves once nothing is waiting or being written. */
  async flushed(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0 || this.#task !== undefined) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#task !== undefined) {
      const task = this.#task;
      if (task !== undefined) {
        this.#task = undefined;
        await task();
        continue;
      }
      const batch = this.#pending.splice(0);
      const text = `${batch.map((p) => p.line).join("\n")}\n`;
      try {
        await this.#sink.write(text);
        for (const p of batch) p.resolve();
      } catch (err) {
        const error = await this.#sink.failed(err);
        for (const p of batch) p.reject(error);
      }
    }
  }
}

/** A line writer: a file, a long-lived program. */
export interface LineWriter {
  write(line: string): Promise<void>;
  close(): Promise<void>;
}

/** The notifier that writes each notification as one line to `writer`, and calls `reopen` on SIGUSR1. */
export function lineNotifier(writer: LineWriter, format: "json" | "text", reopen: () => void): NotifierInstance {
  const unregister = onReopen(reopen);
  return {
    send(n) {
      return writer.write(formatLine(n, format));
    },
    async close() {
      unregister();
      await writer.close();
    },
  };
}
