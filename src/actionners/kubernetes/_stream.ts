// An exec whose stdout becomes a streamed artifact (download, tcpdump, sysdig): the bytes go from the
// exec's WebSocket to the output as they arrive and are never held whole in memory. The client library
// writes stdout without backpressure, so this file runs the exec itself (same v5 protocol and exit-status
// handling as KubeClient.exec, errors mapped by kubeError) in order to pause the WebSocket while more than
// HIGH_WATER bytes wait for the output, and resume it below LOW_WATER.
//
// streamExec resolves once the first bytes arrived (or the command succeeded without output), so that an
// action whose command fails at once (no such file, no tcpdump in the image) is reported as failed. A
// failure after that (non-zero exit, cut connection, deadline) is thrown by the iterator, so the output
// that consumes it fails and says why. Closing the iterator early (the output failed) closes the exec.
import { Writable } from "node:stream";
import type { V1Status } from "@kubernetes/client-node";
import { exitCodeOf, type KubeClient, kubeError } from "../../clients/kubernetes-calls.ts";
import { errorMessage, KestrelError } from "../../errors.ts";

const HIGH_WATER = 2 * 1024 * 1024;
const LOW_WATER = 512 * 1024;
const STDERR_TAIL = 2048;

export interface StreamExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  readonly signal: AbortSignal;
  /** Exit codes that mean success (default [0]); `timeout` exits 124 when it ended a capture. */
  readonly okExitCodes?: readonly number[];
  /** What runs, for messages: "the download of '/etc/passwd'". */
  readonly label: string;
}

interface Socket {
  close(): void;
  pause(): void;
  resume(): void;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
}

/** Starts the exec; resolves to its stdout as an async iterator once output starts (see the file comment). */
export function streamExec(kube: KubeClient, req: StreamExecRequest): Promise<AsyncIterableIterator<Uint8Array>> {
  const what = `${req.label} in the container '${req.container}' of the pod '${req.pod}' in the namespace '${req.namespace}'`;
  const ok = req.okExitCodes ?? [0];
  const chunks: Buffer[] = [];
  let buffered = 0;
  let received = false;
  let state: "running" | "done" | "failed" | "closed" = "running";
  let failure: KestrelError | undefined;
  let socket: Socket | undefined;
  let paused = false;
  let wake: (() => void) | undefined;
  let stderr = "";
  const started = Promise.withResolvers<void>();

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stop = (next: "done" | "failed" | "closed", err?: KestrelError): void => {
    if (state !== "running") return;
    state = next;
    failure = err;
    req.signal.removeEventListener("abort", onAbort);
    if (next !== "done") socket?.close();
    if (err === undefined) started.resolve();
    else started.reject(err);
    notify();
  };
  const onAbort = (): void => {
    const reason = req.signal.reason as { name?: string } | undefined;
    const why = reason?.name === "TimeoutError" ? "the action's deadline passed" : errorMessage(req.signal.reason);
    stop("failed", new KestrelError("ERR_TIMEOUT", `${what} was cancelled: ${why}`));
  };
  if (req.signal.aborted) {
    onAbort();
    return started.promise.then(() => iterator);
  }
  req.signal.addEventListener("abort", onAbort, { once: true });

  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (state === "running") {
        chunks.push(chunk);
        buffered += chunk.length;
        if (!received) {
          received = true;
          started.resolve();
        }
        if (buffered >= HIGH_WATER && !paused) {
          paused = true;
          socket?.pause();
        }
        notify();
      }
      done();
    },
  });
  const stderrSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
      done();
    },
  });
  for (const s of [stdout, stderrSink]) s.on("error", () => {}); // a write after the status: nothing to do

  const onStatus = (status: V1Status): void => {
    const code = exitCodeOf(status);
    if (code === undefined) stop("failed", new KestrelError("ERR_KUBERNETES", `${what}: ${status.message ?? status.reason ?? "failed"}`));
    else if (ok.includes(code)) stop("done");
    else {
      const detail = stderr.trim();
      stop("failed", new KestrelError("ERR_ACTION", `${what} exited with code ${code}${detail === "" ? "" : `: ${detail}`}`));
    }
  };

  kube.execApi
    .exec(req.namespace, req.pod, req.container, [...req.command], stdout, stderrSink, null, false, onStatus)
    .then((ws) => {
      socket = ws as unknown as Socket;
      if (state === "failed" || state === "closed") {
        socket.close();
        return;
      }
      if (paused) socket.pause();
      socket.on("close", () =>
        stop("failed", new KestrelError("ERR_KUBERNETES", `${what}: the connection closed without an exit status`, { retryable: true })),
      );
      socket.on("error", (err) => stop("failed", kubeError(err, what)));
    })
    .catch((err: unknown) => stop("failed", kubeError(err, `run ${what}`)));

  const iterator: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next() {
      for (;;) {
        const chunk = chunks.shift();
        if (chunk !== undefined) {
          buffered -= chunk.length;
          if (paused && buffered <= LOW_WATER) {
            paused = false;
            socket?.resume();
          }
          return { value: chunk, done: false };
        }
        if (failure !== undefined) {
          const err = failure;
          failure = undefined;
          throw err;
        }
        if (state !== "running") return { value: undefined, done: true };
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      stop("closed");
      chunks.length = 0;
      buffered = 0;
      failure = undefined;
      return { value: undefined, done: true };
    },
  };
  return started.promise.then(() => iterator);
}
