// Byte streams between fake processes: pipes with end-of-file and broken-pipe signalling, which is what
// makes `tcpdump | head -c 100` and `timeout` behave as they do in a container.

export interface Input {
  /** The next chunk, or null at end of file (or once `signal` aborts). */
  read(signal?: AbortSignal): Promise<Uint8Array | null>;
  /** The reader is done: writers see a broken pipe. */
  close(): void;
  /** True when this is the exec client's stdin (closing it is a hang-up that capture tools stop on). */
  readonly attached?: boolean;
}

export interface Output {
  write(chunk: Uint8Array | string): void;
}

const encoder = new TextEncoder();

export function bytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === "string" ? encoder.encode(chunk) : chunk;
}

export function text(data: Uint8Array): string {
  return Buffer.from(data).toString("utf8");
}

export class Pipe implements Input, Output {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private closed = false;
  private wake: (() => void) | undefined;
  readonly attached: boolean;
  /** Called when a write meets a reader that has gone (SIGPIPE for the writer). */
  onBroken: (() => void) | undefined;

  constructor(attached = false) {
    this.attached = attached;
  }

  write(chunk: Uint8Array | string): void {
    if (this.closed) {
      this.onBroken?.();
      return;
    }
    if (this.ended) return;
    const b = bytes(chunk);
    if (b.length === 0) return;
    this.chunks.push(b);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.chunks = [];
    this.notify();
    this.onBroken?.();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async read(signal?: AbortSignal): Promise<Uint8Array | null> {
    for (;;) {
      if (signal?.aborted) return null;
      const next = this.chunks.shift();
      if (next !== undefined) return next;
      if (this.ended || this.closed) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener("abort", done);
          resolve();
        };
        this.wake = done;
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/** A fixed input (a file, a here-document, /dev/null). */
export class BufferInput implements Input {
  private data: Uint8Array | undefined;

  constructor(data: Uint8Array | string) {
    this.data = bytes(data);
  }

  async read(): Promise<Uint8Array | null> {
    const d = this.data;
    this.data = undefined;
    return d === undefined || d.length === 0 ? null : d;
  }

  close(): void {
    this.data = undefined;
  }
}

export const NULL_OUTPUT: Output = { write() {} };

export function emptyInput(): Input {
  return new BufferInput(new Uint8Array());
}

/** Everything up to end of file. */
export async function readAll(input: Input, signal?: AbortSignal): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const c = await input.read(signal);
    if (c === null) break;
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** An output that keeps what is written (command substitution). */
export class Collector implements Output {
  private readonly parts: Uint8Array[] = [];

  write(chunk: Uint8Array | string): void {
    this.parts.push(bytes(chunk));
  }

  get data(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/** Resolves after `ms`, or early (to false) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
