// The library's API groups (KubeClient: what KubeApi is built on, and what leader election's Lease uses), the
// patch content types, and kubeCall, which turns every API failure into a KestrelError: 404 means the target
// is gone, 403 a missing permission, and what ../retry.ts's table calls retryable (409/429/5xx, a dropped
// connection) is retried with backoff. This module imports only types from @kubernetes/client-node: the
// library is loaded (by ../kubernetes.ts) only when a client is created.
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
} from "@kubernetes/client-node";
import { errorMessage, KestrelError } from "../../errors.ts";
import { connectionCode, isRetryableStatus, type RetryPolicy, retryAfterOption, withRetry } from "../retry.ts";

/** Content types of the patch strategies (client-node's PatchStrategy values). */
export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

export interface KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly networking: NetworkingV1Api;
  readonly coordination: CoordinationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly custom: CustomObjectsApi;
  /** The library's exec: KubeApi.exec and .stream drive its WebSocket (./kubernetes/exec.ts). */
  readonly execApi: Exec;
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
    return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${detail}`, {
      cause: err,
      retryable: isRetryableStatus(err.code),
      ...retryAfterOption(err.headers?.["retry-after"]),
    });
  }
  const retryable = connectionCode(err) !== undefined;
  return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${errorMessage(err)}`, { cause: err, retryable });
}

export interface KubeCallOptions {
  readonly signal: AbortSignal;
  /** Attempts in all (default 3). */
  readonly attempts?: number;
  /** First backoff in ms (default 200), doubled each time, with jitter. */
  readonly backoffMs?: number;
}

/** Three attempts 200 ms apart, then 400 ms: a conflict or a restarting API server passes within an action's deadline. */
const KUBE_RETRY: RetryPolicy = { attempts: 3, backoffMs: 200, maxBackoffMs: 10_000 };

/**
 * Runs `call` (a whole read-modify-write when the object is updated, so that a 409 Conflict retry starts
 * from a fresh read), turning failures into KestrelErrors and retrying the retryable ones with backoff.
 */
export function kubeCall<T>(what: string, options: KubeCallOptions, call: () => Promise<T>): Promise<T> {
  const policy: RetryPolicy = {
    attempts: options.attempts ?? KUBE_RETRY.attempts,
    backoffMs: options.backoffMs ?? KUBE_RETRY.backoffMs,
    maxBackoffMs: KUBE_RETRY.maxBackoffMs,
  };
  const mapped = async (): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw kubeError(err, what);
    }
  };
  return withRetry(mapped, policy, options.signal);
}

/** The HTTP status the API answered, for a KestrelError from kubeCall (its cause) or an answer itself; undefined when none came. */
export function answeredStatus(err: unknown): number | undefined {
  const answer = err instanceof KestrelError ? err.cause : err;
  return isApiException(answer) ? answer.code : undefined;
}
