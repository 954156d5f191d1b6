// The HTTP client every HTTP-speaking plugin uses, and the Google Cloud client's API calls: fetch with a
// deadline, and the mapping of HTTP failures to KestrelErrors (what ./retry.ts's table calls retryable is
// marked so, and Retry-After is kept). A URL with credentials (`https://user:pass@host/…`) is sent without
// them, as an `Authorization: Basic` header: fetch refuses such a URL, and errors name the host only.
import { type ErrorCode, KestrelError } from "../errors.ts";
import { basicAuthorization, redactCredentials, splitCredentials } from "../redact.ts";
import { connectionCode, isRetryableStatus, retryAfterOption } from "./retry.ts";

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Milliseconds before the request is abandoned; 0: no deadline besides the signal. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The error code used for failures (ERR_NOTIFY for notifiers, ERR_ACTION for actionners…). */
  errorCode: ErrorCode;
  /** How error messages begin ("cannot get the function …"); default: the URL's scheme and host. */
  label?: string;
  /** At most this many bytes of the answer are read, the rest is not; default: all of it. */
  maxBodyBytes?: number;
  /** "manual": a redirect is an answer like any other, not followed. Default "follow". */
  redirect?: "follow" | "manual" | "error";
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: string;
}

export type HttpClient = (url: string, request: HttpRequest) => Promise<HttpResponse>;

/** Sends one request. Resolves for 2xx; throws a KestrelError otherwise (the body's start in the message). */
export const httpRequest: HttpClient = async (url, request) => {
  const res = await sendHttp(url, request);
  if (res.status >= 200 && res.status < 300) return res;
  const label = request.label ?? displayUrl(url);
  throw new KestrelError(request.errorCode, `${label}: HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ""}`, {
    retryable: isRetryableStatus(res.status),
    ...retryAfterOption(res.headers.get("retry-after")),
  });
};

/**
 * Sends one request and resolves with the answer, whatever its status (the caller judges it). Throws a
 * KestrelError when no whole answer came: ERR_TIMEOUT at the deadline (retryable), the request's error code
 * when cancelled by its signal, or when the connection failed (retryable when ./retry.ts says so).
 */
export async function sendHttp(url: string, request: HttpRequest): Promise<HttpResponse> {
  const { target, headers } = withCredentials(url, request.headers);
  const timeout = request.timeoutMs > 0 ? AbortSignal.timeout(request.timeoutMs) : undefined;
  const signals = [timeout, request.signal].filter((s) => s !== undefined);
  try {
    const res = await fetch(target, {
      method: request.method ?? "POST",
      headers,
      body: request.body,
      redirect: request.redirect ?? "follow",
      signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals),
    });
    const body = await (request.maxBodyBytes === undefined ? res.text() : readCapped(res, request.maxBodyBytes));
    return { status: res.status, headers: res.headers, body };
  } catch (err) {
    const label = request.label ?? displayUrl(url);
    if (timeout?.aborted && !request.signal?.aborted) {
      throw new KestrelError("ERR_TIMEOUT", `${label}: no answer within ${request.timeoutMs / 1000} s`, { cause: err, retryable: true });
    }
    if (request.signal?.aborted) throw new KestrelError(request.errorCode, `${label}: request cancelled`, { cause: err });
    const code = connectionCode(err);
    const cause = (err as { cause?: { code?: unknown } }).cause;
    const detail = code ?? (typeof cause?.code === "string" ? cause.code : redactCredentials((err as Error).message));
    throw new KestrelError(request.errorCode, `${label}: ${detail}`, { cause: err, retryable: code !== undefined });
  }
}

/** The body's first `max` bytes as text; the rest is not read. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value.subarray(0, max - size));
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The URL without credentials, and the headers with them as `Authorization: Basic` (an Authorization
 * header given explicitly, such as custom_headers' or Loki's user/api_key, wins). */
function withCredentials(
  url: string,
  headers: Record<string, string> | undefined,
): { target: string; headers: Record<string, string> | undefined } {
  const credentials = splitCredentials(url);
  if (credentials === undefined) return { target: url, headers };
  const explicit = headers !== undefined && Object.keys(headers).some((k) => k.toLowerCase() === "authorization");
  if (explicit) return { target: credentials.url, headers };
  return {
    target: credentials.url,
    headers: { ...headers, authorization: basicAuthorization(credentials.username, credentials.password) },
  };
}

/** A URL without credentials, query or path secrets, for messages and logs (webhook URLs carry tokens). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "<invalid url>";
  }
}
