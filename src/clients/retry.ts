// The one kit for failures that may pass: which HTTP answers are worth another attempt (the policy table
// below, which every client maps its failures with), the codes of a connection that failed, and withRetry,
// the loop every caller runs (kubeCall, the Cloud Functions API lookup, the notification queues). In the
// spirit of OpenTelemetry JS's RetryingTransport: a bounded number of attempts, exponential backoff with
// jitter, the server's Retry-After when it gives one, and no wait or attempt past an abort.
//
// The policy table:
//   404                      not found: the target is gone; never retried
//   401, 403                 refused: credentials or a permission; never retried
//   408, 409, 425, 429       retryable (see RETRYABLE_4XX)
//   5xx except 501 and 505   retryable: the server's state, not the request, made it fail
//   other answers            final: the request itself is wrong and would fail the same way again
//   connection errors        retryable (see CONNECTION_CODES)
import { sleepUnlessAborted } from "../abort.ts";
import { KestrelError } from "../errors.ts";

/** The 4xx answers that say "not now" rather than "not this request". */
const RETRYABLE_4XX = new Set([
  408, // Request Timeout: the server closed a request that came too slowly
  409, // Conflict: the object changed meanwhile (Kubernetes resourceVersion, a Lambda being updated); run the read-modify-write again
  425, // Too Early: the server takes the request once the TLS handshake is complete
  429, // Too Many Requests: throttled; Retry-After says when
]);

/** The 5xx answers that describe the request, not the server's state: sending it again changes nothing. */
const FINAL_5XX = new Set([
  501, // Not Implemented: the server does not support what was asked
  505, // HTTP Version Not Supported
]);

/** Whether an HTTP answer with this status may be followed by a success when the request is sent again. */
export function isRetryableStatus(status: number): boolean {
  if (status >= 500 && status <= 599) return !FINAL_5XX.has(status);
  return RETRYABLE_4XX.has(status);
}

/** Error codes of a connection that failed or broke: the peer may well answer the next attempt. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED", // nothing listens (yet): a service restarting, an endpoint not ready
  "ECONNRESET", // the peer or a proxy dropped the connection mid-request
  "ECONNABORTED", // the connection was abandoned locally (the AWS SDK's socket timeouts)
  "ETIMEDOUT", // the connection or a read timed out
  "EPIPE", // a write to a connection the peer had just closed
  "EHOSTUNREACH", // no route to the host at the moment (a node or its network restarting)
  "ENETUNREACH", // the network is down or being reconfigured
  "ENOTFOUND", // DNS has no answer (yet): a Service or record created moments ago
  "EAI_AGAIN", // DNS failed temporarily
  "UND_ERR_SOCKET", // undici (fetch): the socket closed under the request ("other side closed")
  "UND_ERR_CLOSED", // undici: the client closed while the request waited for a connection
  "UND_ERR_CONNECT_TIMEOUT", // undici: no connection within its connect timeout (ETIMEDOUT by another name)
  "UND_ERR_HEADERS_TIMEOUT", // undici: the answer's headers did not come in time
  "UND_ERR_BODY_TIMEOUT", // undici: the answer's body stopped coming
]);

/**
 * The code of a failed connection in `err` or its causes (fetch puts it in `cause`, gaxios one level
 * deeper), or undefined when the failure is something else (a TLS certificate, an abort, a bug).
 */
export function connectionCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === "object" && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date; a past date is 0), else undefined. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The `retryAfterSeconds` option of a KestrelError from a Retry-After header, when it has a usable one. */
export function retryAfterOption(value: string | null | undefined): { retryAfterSeconds?: number } {
  const seconds = parseRetryAfter(value);
  return seconds === undefined ? {} : { retryAfterSeconds: seconds };
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** The first wait; doubled after each failed attempt, then ±50 % jitter. */
  readonly backoffMs: number;
  /** The longest wait: caps the doubling (before the jitter) and a server's Retry-After. */
  readonly maxBackoffMs: number;
}

/** A failure worth another attempt: a KestrelError the clients marked retryable (with the table above). */
export function isRetryable(err: unknown): err is KestrelError {
  return err instanceof KestrelError && err.retryable;
}

/** The wait after failed attempt number `attempt` (1 for the first): the server's Retry-After, else backoff with jitter. */
export function retryDelayMs(attempt: number, err: KestrelError, policy: RetryPolicy): number {
  if (err.retryAfterSeconds !== undefined) return Math.min(err.retryAfterSeconds * 1000, policy.maxBackoffMs);
  const base = Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxBackoffMs);
  // ±50 %: callers that failed together (a restarting API server) do not all come back at once.
  return base * (0.5 + Math.random());
}

/**
 * Runs `fn` until it succeeds, fails with something not retryable, or the attempts are spent, and throws
 * that last failure. A wait ends early when `signal` aborts, and no attempt starts after that.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, signal: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= policy.attempts || signal.aborted) throw err;
      await sleepUnlessAborted(retryDelayMs(attempt, err, policy), signal);
      if (signal.aborted) throw err;
    }
  }
}
