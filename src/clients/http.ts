// The HTTP client every HTTP-speaking plugin uses: fetch with a deadline, and the mapping of HTTP
// failures to KestrelErrors (429, 5xx and connection errors are retryable; Retry-After is kept). A URL
// with credentials (`https://user:pass@host/…`) is sent without them, as an `Authorization: Basic` header:
// fetch refuses such a URL, and errors name the host only.
import { type ErrorCode, KestrelError } from "../errors.ts";
import { basicAuthorization, redactCredentials, splitCredentials } from "../redact.ts";

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Milliseconds before the request is abandoned. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The error code used for failures (ERR_NOTIFY for notifiers, ERR_ACTION for actionners…). */
  errorCode: ErrorCode;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: string;
}

export type HttpClient = (url: string, request: HttpRequest) => Promise<HttpResponse>;

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Sends one request. Resolves for 2xx; throws a KestrelError otherwise (the body's start in the message). */
export const httpRequest: HttpClient = async (url, request) => {
  const { target, headers } = withCredentials(url, request.headers);
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
  let res: Response;
  try {
    res = await fetch(target, {
      method: request.method ?? "POST",
      headers,
      body: request.body,
      signal,
    });
  } catch (err) {
    if (timeout.aborted) {
      throw new KestrelError("ERR_TIMEOUT", `${displayUrl(url)}: no answer within ${request.timeoutMs} ms`, {
        cause: err,
        retryable: true,
      });
    }
    if (request.signal?.aborted) throw new KestrelError(request.errorCode, `${displayUrl(url)}: request cancelled`, { cause: err });
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new KestrelError(request.errorCode, `${displayUrl(url)}: ${cause?.code ?? redactCredentials((err as Error).message)}`, {
      cause: err,
      retryable: true,
    });
  }
  const body = await res.text();
  if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, body };
  const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
  throw new KestrelError(request.errorCode, `${displayUrl(url)}: HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ""}`, {
    retryable: RETRYABLE_STATUS.has(res.status),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  });
};

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

/** Seconds from a Retry-After header (delta-seconds or HTTP date). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
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
