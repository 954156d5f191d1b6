// The one exec over the pods/exec WebSocket (v5 channel protocol), for KubeApi.exec (stdout collected) and
// KubeApi.stream (stdout streamed to an output: download, tcpdump, sysdig). The client library writes stdout
// without backpressure, so the channel pauses the WebSocket while more than HIGH_WATER bytes wait for the
// consumer and resumes it below LOW_WATER: a capture is never held whole in memory. The exit code comes in
// the final Status; a socket that closes without one was cut (retryable), and the signal closes the socket.
import { PassThrough, Writable } from "node:stream";
import type { V1Status } from "@kubernetes/client-node";
import { errorMessage, KestrelError } from "../../errors.ts";
import type { ExecRequest, ExecResult } from "./api.ts";
import { type KubeClient, kubeError } from "./calls.ts";

const HIGH_WATER = 2 * 1024 * 1024;
const LOW_WATER = 512 * 1024;
const STDERR_TAIL = 4096;
const DEFAULT_MAX_OUTPUT = 1024 * 1024;

interface Socket {
  close(): void;
  pause(): void;
  resume(): void;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (err: unknown) => void): unknown;
}

/** The exit code in an exec Status (v5 channel protocol): 0 on Success, the ExitCode cause on failure. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    return Number.isInteger(code) ? code : undefined;
  }
  return undefined;
}

function describe(req: ExecRequest): string {
  return `${req.label} in the container '${req.container}' of the pod '${req.pod}' in the namespace '${req.namespace}'`;
}

/** One running exec: stdout chunks in order (with backpressure), then the exit code or the failure. */
class ExecChannel {
  readonly what: string;
  readonly #signal: AbortSignal;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #paused = false;
  #socket: Socket | undefined;
  #wake: (() => void) | undefined;
  #stderr = "";
  #exitCode: number | undefined;
  #failure: KestrelError | undefined;
  #ended = false;
  #received = false;
  /** Resolves at the first stdout bytes or at the end; rejects when the exec failed before any output. */
  readonly #started = Promise.withResolvers<void>();
  readonly #onAbort = (): void => {
    const reason = this.#signal.reason as { name?: string } | undefined;
    const why = reason?.name === "TimeoutError" ? "the action's deadline passed" : errorMessage(this.#signal.reason);
    this.#end(new KestrelError("ERR_TIMEOUT", `${this.what} was cancelled: ${why}`));
  };

  constructor(client: KubeClient, req: ExecRequest) {
    this.what = describe(req);
    this.#signal = req.signal;
    this.#started.promise.catch(() => {}); // read by started(); a failure is also thrown by read()
    if (req.signal.aborted) {
      this.#onAbort();
      return;
    }
    req.signal.addEventListener("abort", this.#onAbort, { once: true });
    const stdin = req.stdin === undefined ? null : new PassThrough().end(req.stdin);
    client.execApi
      .exec(req.namespace, req.pod, req.container, [...req.command], this.#stdout(), this.#stderrSink(), stdin, false, (s) =>
        this.#status(s),
      )
      .then((ws) => this.#attach(ws as unknown as Socket))
      .catch((err: unknown) => this.#end(kubeError(err, `run ${this.what}`)));
  }

  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** Whether any stdout arrived. */
  get received(): boolean {
    return this.#received;
  }

  get stderr(): string {
    return this.#stderr;
  }

  started(): Promise<void> {
    return this.#started.promise;
  }

  /** The next stdout chunk; undefined once the command ended; throws the failure after the last chunk. */
  async read(): Promise<Buffer | undefined> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#buffered -= chunk.length;
        if (this.#paused && this.#buffered <= LOW_WATER) {
          this.#paused = false;
          this.#socket?.resume();
        }
        return chunk;
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stops the exec (the consumer went away); what was buffered is dropped. */
  close(): void {
    this.#end();
    this.#chunks.length = 0;
    this.#buffered = 0;
    this.#failure = undefined;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #end(failure?: KestrelError, exitCode?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    this.#exitCode = exitCode;
    this.#signal.removeEventListener("abort", this.#onAbort);
    if (exitCode === undefined) this.#socket?.close();
    if (failure === undefined) this.#started.resolve();
    else this.#started.reject(failure);
    this.#notify();
  }

  #attach(socket: Socket): void {
    this.#socket = socket;
    if (this.#ended) {
      if (this.#exitCode === undefined) socket.close();
      return;
    }
    if (this.#paused) socket.pause();
    // The status arrives before the socket closes; a close without one means the stream was cut.
    socket.on("close", () =>
      this.#end(new KestrelError("ERR_KUBERNETES", `${this.what}: the connection closed without an exit status`, { retryable: true })),
    );
    socket.on("error", (err) => this.#end(kubeError(err, this.what)));
  }

  #status(status: V1Status): void {
    const code = exitCodeOf(status);
    if (code === undefined) this.#end(new KestrelError("ERR_KUBERNETES", `${this.what}: ${status.message ?? status.reason ?? "failed"}`));
    else this.#end(undefined, code);
  }

  #stdout(): Writable {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (!this.#ended) {
          this.#chunks.push(chunk);
          this.#buffered += chunk.length;
          this.#received = true;
          this.#started.resolve();
          if (this.#buffered >= HIGH_WATER && !this.#paused) {
            this.#paused = true;
            this.#socket?.pause();
          }
          this.#notify();
        }
        done();
      },
    });
    return sink.on("error", () => {}); // a write after the status: nothing to do
  }

  #stderrSink(): Writable {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
        done();
      },
    });
    return sink.on("error", () => {});
  }
}

/** KubeApi.exec: stdout collected up to maxOutputBytes, the exit code reported (not thrown). */
export async function execCollect(client: KubeClient, req: ExecRequest & { readonly maxOutputBytes?: number }): Promise<ExecResult> {
  const limit = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const channel = new ExecChannel(client, req);
  const collected: Buffer[] = [];
  let size = 0;
  for (let chunk = await channel.read(); chunk !== undefined; chunk = await channel.read()) {
    if (size < limit) collected.push(chunk.subarray(0, limit - size));
    size += chunk.length;
  }
  return { exitCode: channel.exitCode ?? -1, stdout: Buffer.concat(collected), stderr: channel.stderr };
}

/** KubeApi.stream: see its comment in ./api.ts. */
export async function execStream(
  client: KubeClient,
  req: ExecRequest & { readonly okExitCodes?: readonly number[] },
): Promise<AsyncIterableIterator<Uint8Array>> {
  const ok = req.okExitCodes ?? [0];
  const channel = new ExecChannel(client, req);
  const exitFailure = (): KestrelError | undefined => {
    const code = channel.exitCode;
    if (code === undefined || ok.includes(code)) return undefined;
    const detail = channel.stderr.trim();
    return new KestrelError("ERR_ACTION", `${channel.what} exited with code ${code}${detail === "" ? "" : `: ${detail}`}`);
  };
  await channel.started();
  // A command that failed before writing anything (no such file, no tcpdump in the image) fails the action.
  const early = channel.received ? undefined : exitFailure();
  if (early !== undefined) throw early;
  const iterator: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      const chunk = await channel.read();
      if (chunk !== undefined) return { value: chunk, done: false };
      const failure = exitFailure();
      if (failure !== undefined) throw failure;
      return { value: undefined, done: true };
    },
    async return() {
      channel.close();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
