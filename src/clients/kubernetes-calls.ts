// What plugins see of the Kubernetes client: its interface, the patch content types, and kubeCall, which
// turns every API failure into a KestrelError: 404 means the target is gone, 403 a missing permission, and
// 409/429/5xx or a dropped connection are retryable (retried with backoff). This module imports only types
// from @kubernetes/client-node: the library is loaded (by ./kubernetes.ts) only when a client is created.
import type { Readable, Writable } from "node:stream";
import type {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Exec,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  V1MicroTime,
  V1Status,
} from "@kubernetes/client-node";
import { sleepUnlessAborted } from "../abort.ts";
import { errorMessage, KestrelError } from "../errors.ts";

/** Content types of the patch strategies (client-node's PatchStrategy values). */
export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  /** Written to the command's stdin, which is then closed. No stdin when undefined. */
  readonly stdin?: string | Uint8Array | Readable;
  /** Where stdout goes; when undefined it is collected (up to maxOutputBytes) into the result. */
  readonly stdout?: Writable;
  readonly maxOutputBytes?: number;
  readonly signal: AbortSignal;
}

export interface ExecResult {
  readonly exitCode: number;
  /** Collected stdout (empty when a stdout stream was given). */
  readonly stdout: Buffer;
  /** The first 4 KiB of stderr. */
  readonly stderr: string;
}

export interface KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly networking: NetworkingV1Api;
  readonly coordination: CoordinationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly custom: CustomObjectsApi;
  /** The library's exec, for a caller that drives the WebSocket itself (streamExec). */
  readonly execApi: Exec;
  /** Runs a command in a container over the exec subresource and reports its exit code. */
  exec(request: ExecRequest): Promise<ExecResult>;
  /**
   * Per-call options for the typed APIs that hand `signal` to the underlying fetch, so a deadline or a
   * shutdown cancels the HTTP request itself; with `contentType`, the patch strategy (MERGE_PATCH,
   * STRATEGIC_MERGE_PATCH; the typed patch calls default to JSON Patch).
   */
  requestOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions;
  /** A timestamp for a MicroTime field (eventTime, renewTime): serialised with microseconds. Default: now. */
  microTime(ms?: number): V1MicroTime;
}

/** client-node's ApiException (an answer outside 2xx), known by its shape: this module does not load the library. */
export function isApiException(err: unknown): err is ApiException<unknown> {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number" && "body" in err && "headers" in err;
}

/** The API's reason and message from a Status body (client-node hands the raw text). */
function statusOf(err: ApiException<unknown>): { reason: string; message: string } {
  let body: unknown = err.body;
  if (typeof body === "string") {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return { reason: "", message: text.slice(0, 300) };
    }
  }
  const s = (body ?? {}) as { reason?: unknown; message?: unknown };
  return { reason: typeof s.reason === "string" ? s.reason : "", message: typeof s.message === "string" ? s.message : "" };
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET"]);

/** A KestrelError for a failed API call; `what` says what was attempted ("label the pod prod/web-1"). */
export function kubeError(err: unknown, what: string): KestrelError {
  if (err instanceof KestrelError) return err;
  if (isApiException(err)) {
    const { reason, message } = statusOf(err);
    const detail = message || reason || `HTTP ${err.code}`;
    if (err.code === 404) return new KestrelError("ERR_TARGET_GONE", `cannot ${what}: not found (${detail})`, { cause: err });
    if (err.code === 401 || err.code === 403) {
      return new KestrelError("ERR_FORBIDDEN", `cannot ${what}: ${detail} (check Kestrel's RBAC: kestrel actionners list)`, { cause: err });
    }
    const retryable = err.code === 409 || err.code === 429 || err.code >= 500;
    const retryAfter = Number(err.headers?.["retry-after"]);
    return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${detail}`, {
      cause: err,
      retryable,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | undefined)?.cause?.code ?? (err as { code?: unknown })?.code;
  const connection = typeof code === "string" && CONNECTION_CODES.has(code);
  return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${errorMessage(err)}`, { cause: err, retryable: connection });
}

export interface KubeCallOptions {
  readonly signal: AbortSignal;
  /** Attempts in all (default 3). */
  readonly attempts?: number;
  /** First backoff in ms (default 200), doubled each time, with jitter. */
  readonly backoffMs?: number;
}

/**
 * Runs `call` (a whole read-modify-write when the object is updated, so that a 409 Conflict retry starts
 * from a fresh read), turning failures into KestrelErrors and retrying the retryable ones with backoff.
 */
export async function kubeCall<T>(what: string, options: KubeCallOptions, call: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 3;
  let delay = options.backoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = kubeError(err, what);
      if (!e.retryable || attempt >= attempts || options.signal.aborted) throw e;
      const wait = e.retryAfterSeconds !== undefined ? Math.min(e.retryAfterSeconds * 1000, 10_000) : delay * (0.5 + Math.random());
      await sleepUnlessAborted(wait, options.signal);
      delay *= 2;
    }
  }
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
