// The catalogue of error codes. Every failure Kestrel reports carries one of these codes, so that logs,
// metrics and tests can rely on the code instead of matching on message text. docs/errors.md explains
// each code and what to do about it; a test keeps the two in step.
export const errorCodes = {
  ERR_CONFIG_INVALID: "the configuration is invalid",
  ERR_RULES_INVALID: "the rules are invalid",
  ERR_EVENT_INVALID: "the Falco event is invalid",
  ERR_QUERY_INVALID: "a history query is malformed (a filter, a limit or a cursor)",
  ERR_PLUGIN_UNKNOWN: "no actionner, output or notifier has that name",
  ERR_PLUGIN_DUPLICATE: "two plugins share a name",
  ERR_PARAMS_INVALID: "plugin parameters do not match the plugin's schema",
  ERR_TEMPLATE: "a parameter template refers to something the event does not have",
  ERR_PREFLIGHT: "a precondition of the action failed (for example, the target is gone)",
  ERR_ACTION: "the actionner failed",
  ERR_TIMEOUT: "the operation did not finish in time",
  ERR_OUTPUT: "the output failed to store the artifact",
  ERR_NOTIFY: "the notifier failed",
  ERR_CONTEXT: "an additional context could not be gathered",
  ERR_TARGET_GONE: "the object the action targets does not exist (any more)",
  ERR_FORBIDDEN: "the API refused the request: Kestrel lacks a permission",
  ERR_KUBERNETES: "a Kubernetes API call failed",
  ERR_AWS: "an AWS (or MinIO) API call failed",
  ERR_CLIENT_MISSING: "the client a plugin needs was not created (no cluster or cloud configured)",
  ERR_OVERLOADED: "the engine queue is full",
  ERR_SHUTTING_DOWN: "the engine is shutting down",
  ERR_CLUSTER: "the deduplication cluster (NATS JetStream) failed a request",
  ERR_TELEMETRY: "spans or metrics could not be exported to the OpenTelemetry collector",
  ERR_UNEXPECTED: "a failure Kestrel did not expect (likely a bug): the logged stack says where",
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface KestrelErrorOptions {
  cause?: unknown;
  /** True when trying again later may succeed (HTTP 429/5xx, 409 conflicts, connection resets). */
  retryable?: boolean;
  /** Seconds the remote asked us to wait before retrying (HTTP Retry-After). */
  retryAfterSeconds?: number;
}

export class KestrelError extends Error {
  // A string, not the literal: subclasses (EventError) name themselves.
  override readonly name: string = "KestrelError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: KestrelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The message of anything thrown, without serialising the error object. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // WebSocket error events and some client libraries reject with plain objects that carry a message.
  if (typeof err === "object" && err !== null) {
    const { message, error } = err as { message?: unknown; error?: unknown };
    if (typeof message === "string" && message !== "") return message;
    if (error instanceof Error) return error.message;
  }
  return String(err);
}

/** The code of anything thrown: a KestrelError's own code, else the given fallback. */
export function errorCode(err: unknown, fallback: ErrorCode): ErrorCode {
  return err instanceof KestrelError ? err.code : fallback;
}

/** The fields of a log line about a failure: the error itself under `err` (the logger's serializer keeps
 * its message, stack, cause and own properties) and its code, else the fallback of the call site. */
export function errorFields(err: unknown, fallback: ErrorCode): { err: unknown; code: ErrorCode } {
  return { err, code: errorCode(err, fallback) };
}
