// Google Cloud failures as KestrelErrors: 401/403 name the credentials or the IAM permission, 404 says
// which bucket or function does not exist, a failed token request is the credentials' problem, and what
// ../retry.ts's table calls retryable (429, 5xx, a dropped connection) is marked so.
import { errorMessage, KestrelError } from "../../errors.ts";
import type { HttpResponse } from "../http.ts";
import { connectionCode, isRetryableStatus, retryAfterOption } from "../retry.ts";
import type { GcpOperation } from "./types.ts";

/** The token endpoint google-auth-library always calls for service-account keys (it ignores token_uri). */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

/** The HTTP status of an error from gaxios, the Storage library or a JSON API error body. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { status?: unknown; code?: unknown; response?: { status?: unknown } };
  for (const v of [e.status, e.response?.status, e.code]) {
    if (typeof v === "number" && v >= 100 && v <= 599) return v;
    if (typeof v === "string" && /^[1-5]\d\d$/.test(v)) return Number(v);
  }
  // The resumable upload reports exhausted retries as "Retry limit exceeded - status: 503 - …".
  const m = /\bstatus: ([1-5]\d\d)\b/.exec(errorMessage(err));
  return m === null ? undefined : Number(m[1]);
}

/** The API's own message: a JSON error body's `error.message`, else the error's message. */
function apiMessage(err: unknown): string {
  const data = (err as { response?: { data?: unknown } } | undefined)?.response?.data;
  const fromBody = typeof data === "string" ? jsonErrorMessage(data) : errorBodyMessage(data);
  return (fromBody ?? errorMessage(err)).slice(0, 500);
}

function jsonErrorMessage(text: string): string | undefined {
  try {
    return errorBodyMessage(JSON.parse(text));
  } catch {
    return text.trim() === "" ? undefined : text.trim().slice(0, 500);
  }
}

function errorBodyMessage(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === "string") {
    const description = (body as { error_description?: unknown }).error_description;
    return typeof description === "string" ? `${error}: ${description}` : error;
  }
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}

/** Whether the failed request was for a token: Google's token endpoints, the key's token_uri, the metadata server. */
function isTokenRequest(err: unknown, tokenUri: string | undefined): boolean {
  const url = (err as { config?: { url?: unknown } } | undefined)?.config?.url;
  const text = url instanceof URL ? url.href : typeof url === "string" ? url : "";
  if (text === "") return false;
  if (text === GOOGLE_TOKEN_URL || text === tokenUri) return true;
  try {
    const u = new URL(text);
    return u.hostname === "oauth2.googleapis.com" || u.hostname === "sts.googleapis.com" || u.pathname.startsWith("/computeMetadata/");
  } catch {
    return false;
  }
}

/** The error of a call cut by the caller's signal (an action's deadline, the shutdown). */
export function cancelledError(what: string, signal: AbortSignal, cause: unknown): KestrelError {
  return new KestrelError("ERR_TIMEOUT", `cannot ${what}: cancelled (${errorMessage(signal.reason)})`, { cause });
}

/** A KestrelError for a failed Google API call (see GcpOperation). */
export function gcpError(err: unknown, op: GcpOperation, credentials: string, signal?: AbortSignal, tokenUri?: string): KestrelError {
  if (err instanceof KestrelError) return err;
  if (signal?.aborted) return cancelledError(op.what, signal, err);
  if (isTokenRequest(err, tokenUri)) return credentialsError(err, credentials, signal, "an access token");
  const status = statusOf(err);
  const detail = apiMessage(err);
  const cannot = `cannot ${op.what}`;
  if (status === 401)
    return new KestrelError("ERR_FORBIDDEN", `${cannot}: the credentials were refused (${credentials}): ${detail}`, { cause: err });
  if (status === 403) {
    return new KestrelError("ERR_FORBIDDEN", `${cannot}: permission denied: ${credentials} needs ${op.permission} (${detail})`, {
      cause: err,
    });
  }
  if (status === 404) return new KestrelError("ERR_TARGET_GONE", `${cannot}: ${op.notFound} (${detail})`, { cause: err });
  const code = connectionCode(err);
  if (status === undefined && code !== undefined) return new KestrelError(op.code, `${cannot}: ${code}`, { cause: err, retryable: true });
  return new KestrelError(op.code, `${cannot}: ${status === undefined ? "" : `HTTP ${status}: `}${detail}`, {
    cause: err,
    retryable: status !== undefined && isRetryableStatus(status),
  });
}

/** A failure to get a token: the token endpoint refused the key, or could not be reached. */
export function credentialsError(err: unknown, credentials: string, signal: AbortSignal | undefined, token: string): KestrelError {
  if (signal?.aborted) return cancelledError(`get ${token}`, signal, err);
  const status = statusOf(err);
  const detail = apiMessage(err);
  const code = connectionCode(err);
  if (status !== undefined && status >= 400 && status < 500 && !isRetryableStatus(status)) {
    return new KestrelError("ERR_FORBIDDEN", `cannot get ${token}: the token endpoint refused ${credentials}: ${detail}`, { cause: err });
  }
  const retryable = code !== undefined || (status !== undefined && isRetryableStatus(status));
  return new KestrelError("ERR_FORBIDDEN", `cannot get ${token} with ${credentials}: ${code ?? detail}`, { cause: err, retryable });
}

/** A KestrelError for a Google API's answer outside 2xx, its Retry-After kept. */
export function answerError(res: HttpResponse, op: GcpOperation, credentials: string): KestrelError {
  const mapped = gcpError({ status: res.status, message: jsonErrorMessage(res.body) ?? `HTTP ${res.status}` }, op, credentials);
  const retryAfter = retryAfterOption(res.headers.get("retry-after"));
  if (!mapped.retryable || retryAfter.retryAfterSeconds === undefined) return mapped;
  return new KestrelError(mapped.code, mapped.message, { retryable: true, ...retryAfter });
}
