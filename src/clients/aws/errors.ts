// AWS and MinIO failures as KestrelErrors: the SDK's error names and HTTP statuses sorted into what they
// mean for the caller (../retry.ts's table decides what is retryable), an access denial naming the IAM
// permission that is missing, refused credentials naming the settings they came from.
import { errorMessage, KestrelError } from "../../errors.ts";
import { connectionCode, isRetryableStatus, retryAfterOption } from "../retry.ts";

export interface ErrorContext {
  /** What was attempted: "upload s3://b/k to AWS S3 (eu-west-1)". */
  readonly what: string;
  /** The permission an access denial means is missing: "s3:PutObject on arn:aws:s3:::b/k". */
  readonly permission: string;
  /** Where the credentials came from (what to check when they are refused). */
  readonly credentials: string;
  /** What a "not found" means here: "the bucket 'b' does not exist". */
  readonly notFound?: string;
}

/** The fields of an SDK exception this module reads. */
export interface SdkError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  $response?: { headers?: Record<string, string | undefined> };
  retryAfterSeconds?: unknown;
  cause?: { code?: unknown };
}

type Failure =
  | "cancelled"
  | "no region"
  | "no credentials"
  | "credentials refused"
  | "access denied"
  | "not found"
  | "throttled"
  | "retryable"
  | "unreachable"
  | "other";

/** Error names and what they mean, whatever the HTTP status. */
const FAILURE_BY_NAME = new Map<string, Failure>([
  ["AbortError", "cancelled"],
  ["CredentialsProviderError", "no credentials"],
  // The credentials themselves were refused (not a missing permission).
  ...[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthFailure",
  ].map((name) => [name, "credentials refused"] as const),
  ...["AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden"].map((name) => [name, "access denied"] as const),
  ...["NoSuchBucket", "ResourceNotFoundException", "NotFound"].map((name) => [name, "not found"] as const),
  ...[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "LimitExceededException",
  ].map((name) => [name, "throttled"] as const),
  // The SDK's own request deadline: the service did not answer.
  ["TimeoutError", "unreachable"],
]);

const FAILURE_BY_STATUS = new Map<number, Failure>([
  [401, "credentials refused"],
  [403, "access denied"],
  [404, "not found"],
  [429, "throttled"],
]);

function failureOf(e: SdkError, name: string, message: string): Failure {
  if (message === "Region is missing") return "no region";
  const byName = FAILURE_BY_NAME.get(name);
  if (byName !== undefined) return byName;
  if (e.$retryable?.throttling === true) return "throttled";
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return FAILURE_BY_STATUS.get(status) ?? (isRetryableStatus(status) ? "retryable" : "other");
  return connectionCode(e) === undefined ? "other" : "unreachable";
}

/** A KestrelError for a failed AWS or MinIO call. */
export function awsError(err: unknown, ctx: ErrorContext): KestrelError {
  if (err instanceof KestrelError) return err;
  const e = (err ?? {}) as SdkError;
  const name = typeof e.name === "string" ? e.name : "";
  const message = errorMessage(err);
  const detail = name !== "" && name !== "Error" && !message.startsWith(name) ? `${name}: ${message}` : message;
  const cannot = `cannot ${ctx.what}`;
  const failure = failureOf(e, name, message);
  switch (failure) {
    case "cancelled":
      return new KestrelError("ERR_TIMEOUT", `${cannot}: cancelled`, { cause: err });
    case "no region":
      return new KestrelError("ERR_CONFIG_INVALID", `${cannot}: no AWS region: set aws.region in config.yaml (or AWS_REGION)`, {
        cause: err,
      });
    case "no credentials":
      return new KestrelError("ERR_FORBIDDEN", `${cannot}: no credentials from ${ctx.credentials}: ${message}`, { cause: err });
    case "credentials refused":
      return new KestrelError("ERR_FORBIDDEN", `${cannot}: the credentials were refused (${detail}): check ${ctx.credentials}`, {
        cause: err,
      });
    case "access denied":
      return new KestrelError("ERR_FORBIDDEN", `${cannot}: access denied (${detail}): the identity needs ${ctx.permission}`, {
        cause: err,
      });
    case "not found":
      return new KestrelError("ERR_TARGET_GONE", `${cannot}: ${ctx.notFound ?? "not found"} (${detail})`, { cause: err });
    case "throttled":
    case "retryable": {
      const retryAfter = typeof e.retryAfterSeconds === "string" ? e.retryAfterSeconds : e.$response?.headers?.["retry-after"];
      const text = `${cannot}: ${failure === "throttled" ? "throttled: " : ""}${detail}`;
      return new KestrelError("ERR_AWS", text, { cause: err, retryable: true, ...retryAfterOption(retryAfter) });
    }
    case "unreachable":
      return new KestrelError("ERR_AWS", `${cannot}: the service cannot be reached (${connectionCode(e) ?? message})`, {
        cause: err,
        retryable: true,
      });
    default: {
      const status = e.$metadata?.httpStatusCode;
      return new KestrelError("ERR_AWS", `${cannot}: ${detail}${status === undefined ? "" : ` (HTTP ${status})`}`, { cause: err });
    }
  }
}

/** The error of a call cut by the caller's signal (an action's deadline, the shutdown). */
export function cancelledError(what: string, signal: AbortSignal, cause?: unknown): KestrelError {
  return new KestrelError("ERR_TIMEOUT", `cannot ${what}: cancelled (${errorMessage(signal.reason)})`, { cause });
}
