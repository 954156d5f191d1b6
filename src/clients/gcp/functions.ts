// Cloud Functions: a function's URL from the Cloud Functions API (v2, which lists 1st gen functions too),
// retried per ../retry.ts, and the call itself, a POST with an ID token whose audience is that URL. Both go
// through ../http.ts.
import { KestrelError } from "../../errors.ts";
import { type HttpRequest, type HttpResponse, sendHttp } from "../http.ts";
import { isRetryableStatus, type RetryPolicy, withRetry } from "../retry.ts";
import type { GcpAuth } from "./auth.ts";
import { answerError, cancelledError } from "./errors.ts";
import { FUNCTION_LOCATION, FUNCTION_NAME } from "./names.ts";
import type { FunctionAnswer, FunctionRef, GcpOperation, InvokeRequest } from "./types.ts";

export const FUNCTIONS_API = "https://cloudfunctions.googleapis.com";
/** Deadline of one Cloud Functions API call, within the action's own. */
const API_TIMEOUT_MS = 30_000;
/** The largest function description read. */
const MAX_DESCRIPTION_BYTES = 1024 * 1024;
/** Longest function answer kept (it goes into notifications). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** The API lookup: three attempts 200 ms, then 400 ms apart (a Retry-After up to 10 s). */
const API_RETRY: RetryPolicy = { attempts: 3, backoffMs: 200, maxBackoffMs: 10_000 };

export interface FunctionsApi {
  readonly auth: GcpAuth;
  /** The API's base URL: FUNCTIONS_API or gcp.functions_endpoint. */
  readonly base: string;
}

/** The HTTPS URL of a function, from the Cloud Functions API. */
export async function functionUrl(api: FunctionsApi, { name, location, signal }: FunctionRef): Promise<string> {
  checkFunctionRef(name, location);
  const id = `projects/${await api.auth.projectId(signal)}/locations/${location}/functions/${name}`;
  const url = `${api.base}/v2/${id.split("/").map(encodeURIComponent).join("/")}`;
  const op: GcpOperation = {
    what: `get the function '${id}'`,
    code: "ERR_ACTION",
    permission: `cloudfunctions.functions.get on the function '${id}' (roles/cloudfunctions.viewer)`,
    notFound: `the function '${name}' does not exist in the location '${location}' of the project`,
  };
  const lookup = async (): Promise<string> => {
    const headers = await api.auth.headers(url, signal);
    const res = await send(url, { method: "GET", headers, signal, timeoutMs: API_TIMEOUT_MS, maxBodyBytes: MAX_DESCRIPTION_BYTES }, op);
    if (res.status < 200 || res.status > 299) throw answerError(res, op, api.auth.label);
    return res.body;
  };
  const uri = httpsUriOf(await withRetry(lookup, API_RETRY, signal));
  if (uri === undefined) {
    throw new KestrelError("ERR_ACTION", `the function '${id}' has no HTTP URL (only functions with an HTTP trigger can be called)`);
  }
  return uri;
}

/** POSTs the body to the function with an ID token for its URL; throws unless the answer is 2xx. */
export async function invokeFunction(api: FunctionsApi, request: InvokeRequest): Promise<FunctionAnswer> {
  const { name, location, url, signal } = request;
  const id = `the function '${name}' in the location '${location}'`;
  const op: GcpOperation = {
    what: `call ${id}`,
    code: "ERR_ACTION",
    permission: `the invoker role on the function (cloudfunctions.functions.invoke for 1st gen, run.routes.invoke for 2nd gen)`,
    notFound: `${id} answered 404 at ${url}`,
  };
  const headers = { ...(await api.auth.headers(url, signal, url)), "content-type": "application/json" };
  const call = { method: "POST", headers, body: request.body, signal, timeoutMs: request.timeoutMs, maxBodyBytes: MAX_ANSWER_BYTES };
  const res = await send(url, { ...call, redirect: "manual" }, op);
  if (res.status >= 200 && res.status <= 299) return { status: res.status, body: res.body };
  const detail = res.body.trim() === "" ? "" : `: ${res.body.trim().slice(0, 1000)}`;
  if (res.status === 401 || res.status === 403) {
    throw new KestrelError(
      "ERR_FORBIDDEN",
      `${id} refused the call with HTTP ${res.status}: ${api.auth.label} needs ${op.permission}${detail}`,
    );
  }
  throw new KestrelError("ERR_ACTION", `${id} answered HTTP ${res.status}${detail}`, { retryable: isRetryableStatus(res.status) });
}

/** One request through ../http.ts, its failures worded for `op`; cut by the action's signal, it is ERR_TIMEOUT as every call of this client. */
async function send(
  url: string,
  request: Omit<HttpRequest, "errorCode"> & { signal: AbortSignal },
  op: GcpOperation,
): Promise<HttpResponse> {
  try {
    return await sendHttp(url, { ...request, errorCode: op.code, label: `cannot ${op.what}` });
  } catch (err) {
    throw request.signal.aborted ? cancelledError(op.what, request.signal, err) : err;
  }
}

function checkFunctionRef(name: string, location: string): void {
  // The schema refuses these already; they are checked again because they become a URL path.
  if (!FUNCTION_NAME.test(name)) throw new KestrelError("ERR_PARAMS_INVALID", `'${name}' is not a Cloud Functions name`);
  if (!FUNCTION_LOCATION.test(location)) throw new KestrelError("ERR_PARAMS_INVALID", `'${location}' is not a Google Cloud location`);
}

/** serviceConfig.uri (2nd gen), else url (any function in the v2 API), else httpsTrigger.url (v1 shape). */
function httpsUriOf(body: string): string | undefined {
  let fn: { serviceConfig?: { uri?: unknown }; url?: unknown; httpsTrigger?: { url?: unknown } };
  try {
    fn = JSON.parse(body) as typeof fn;
  } catch {
    return undefined;
  }
  for (const candidate of [fn.serviceConfig?.uri, fn.url, fn.httpsTrigger?.url]) {
    if (typeof candidate !== "string" || candidate === "") continue;
    try {
      // As given, not normalised: it is also the ID token's audience, which must match it exactly.
      const protocol = new URL(candidate).protocol;
      if (protocol === "https:" || protocol === "http:") return candidate;
    } catch {
      // not a URL: try the next field
    }
  }
  return undefined;
}
