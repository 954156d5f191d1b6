// The Google Cloud client: one per process, created only when a loaded rule uses a `gcp` plugin. It owns
// the credentials, a Cloud Storage client, the Cloud Functions API and ID tokens for function URLs, and
// turns every failure into a KestrelError here, at the boundary: 401/403 name the credentials or the IAM
// permission, 404 says which bucket or function does not exist, 429/5xx and dropped connections are
// retryable. Every call takes the action's AbortSignal.
//
// Credentials come from `gcp.credentials_path` (a JSON key file; Talon passed this setting's value to
// CredentialsFromJSON as if it were the JSON itself, a bug), else $GOOGLE_APPLICATION_CREDENTIALS, else
// gcloud's application-default file, else the metadata server when running on Google Cloud. File problems
// and "no credentials at all" are errors at start, naming the setting.

import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type File, Storage } from "@google-cloud/storage";
import { type AuthClient, GoogleAuth, gaxios, gcpMetadata, IdTokenClient, JWT } from "google-auth-library";
import { sleepUnlessAborted, untilAborted } from "../abort.ts";
import { type ErrorCode, errorMessage, KestrelError } from "../errors.ts";
import { FileError, readRegularFileSync } from "../files.ts";
import { redactCredentials } from "../redact.ts";
import { FUNCTION_LOCATION, FUNCTION_NAME } from "./gcp-names.ts";

export interface GcpSettings {
  readonly credentials_path?: string | undefined;
  /** "" = https://storage.googleapis.com. */
  readonly storage_endpoint: string;
  /** "" = https://cloudfunctions.googleapis.com. */
  readonly functions_endpoint: string;
}

export interface GcpClientOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Bytes per request of a resumable upload (a multiple of 256 KiB); about twice this much of an artifact
   * is in memory at most (the chunk being sent and the next). Default 8 MiB. */
  readonly uploadChunkBytes?: number;
  /** Whether the metadata server can give credentials (Google Cloud host); detected when not given. */
  readonly onGoogleCloud?: () => boolean;
}

export interface UploadRequest {
  readonly bucket: string;
  /** Object names to try in order: the first that does not exist yet is written (nothing is overwritten). */
  readonly names: readonly string[];
  readonly contentType?: string | undefined;
  readonly data: Uint8Array | AsyncIterable<Uint8Array>;
  readonly signal: AbortSignal;
}

export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  readonly size: number;
  readonly generation: string;
  /** gs://bucket/name */
  readonly uri: string;
}

export interface FunctionRef {
  readonly name: string;
  readonly location: string;
  readonly signal: AbortSignal;
}

export interface InvokeRequest extends FunctionRef {
  /** The function's HTTPS URL (from functionUrl); also the ID token's audience. */
  readonly url: string;
  /** The JSON body. */
  readonly body: string;
  /** Deadline of the call itself (0: none besides the signal). */
  readonly timeoutMs: number;
}

export interface FunctionAnswer {
  readonly status: number;
  /** The answer's first MAX_ANSWER_BYTES bytes, as text. */
  readonly body: string;
}

export interface GcpClient {
  /** Where the credentials come from, for messages: `gcp.credentials_path "/etc/kestrel/key.json"`. */
  readonly credentials: string;
  /** The project of the credentials (the key's project_id, else what the default chain finds). */
  projectId(signal: AbortSignal): Promise<string>;
  /** Stores the data under the first free name; streamed data goes up in resumable chunks. */
  upload(request: UploadRequest): Promise<StoredObject>;
  /** The HTTPS URL of a function, from the Cloud Functions API (v2, which also lists 1st gen functions). */
  functionUrl(request: FunctionRef): Promise<string>;
  /** POSTs the body to the function with an ID token for its URL; throws unless the answer is 2xx. */
  invokeFunction(request: InvokeRequest): Promise<FunctionAnswer>;
}

const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
/** The token endpoint google-auth-library always calls for service-account keys (it ignores token_uri). */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const FUNCTIONS_API = "https://cloudfunctions.googleapis.com";
const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
const CHUNK_QUANTUM = 256 * 1024;
/** Longest function answer kept (it goes into notifications). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Deadline of one Cloud Functions API call, within the action's own. */
const API_TIMEOUT_MS = 30_000;
const CREDENTIAL_TYPES = new Set([
  "service_account",
  "authorized_user",
  "external_account",
  "external_account_authorized_user",
  "impersonated_service_account",
]);
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

interface ServiceAccountKey {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
  readonly project_id?: string;
  readonly token_uri?: string;
}

type CredentialSource =
  | { readonly kind: "service_account"; readonly key: ServiceAccountKey; readonly label: string }
  | { readonly kind: "other"; readonly json: Record<string, unknown>; readonly label: string }
  | { readonly kind: "default"; readonly label: string };

/**
 * Where the credentials come from. Reads and checks a key file now, so that a missing, unreadable or
 * malformed file stops the start with a message naming the setting; throws ERR_CONFIG_INVALID.
 */
export function resolveCredentials(settings: GcpSettings, options: GcpClientOptions = {}): CredentialSource {
  const env = options.env ?? process.env;
  const configured = settings.credentials_path ?? "";
  if (configured !== "") return readKeyFile(configured, `gcp.credentials_path "${configured}"`);
  const fromEnv = env["GOOGLE_APPLICATION_CREDENTIALS"] ?? "";
  if (fromEnv !== "") return readKeyFile(fromEnv, `$GOOGLE_APPLICATION_CREDENTIALS "${fromEnv}"`);
  const gcloudDir = env["CLOUDSDK_CONFIG"] || join(env["HOME"] || homedir(), ".config", "gcloud");
  const wellKnown = join(gcloudDir, "application_default_credentials.json");
  if (existsSync(wellKnown)) return readKeyFile(wellKnown, `gcloud's application default credentials "${wellKnown}"`);
  const metadataHost = Boolean(env["GCE_METADATA_HOST"] || env["GCE_METADATA_IP"]) || env["METADATA_SERVER_DETECTION"] === "assume-present";
  const onGoogleCloud = options.onGoogleCloud ?? (() => gcpMetadata.detectGCPResidency());
  if (metadataHost || onGoogleCloud()) return { kind: "default", label: "the metadata server's credentials" };
  throw new KestrelError(
    "ERR_CONFIG_INVALID",
    "gcp.credentials_path: the rules use Google Cloud but no credentials were found: set gcp.credentials_path to a service account JSON key (or $GOOGLE_APPLICATION_CREDENTIALS), or run Kestrel on Google Cloud",
  );
}

function readKeyFile(path: string, label: string): CredentialSource {
  const fail = (why: string, cause?: unknown): never => {
    throw new KestrelError("ERR_CONFIG_INVALID", `${label}: ${why}`, { cause });
  };
  let text = "";
  try {
    text = readRegularFileSync(path).toString("utf8");
  } catch (err) {
    fail(`cannot read the credentials file (${err instanceof FileError ? (err.sysCode ?? err.reason) : errorMessage(err)})`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`the credentials file is not JSON (${errorMessage(err)})`, err);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("the credentials file is not a JSON object");
  const obj = json as Record<string, unknown>;
  const type = obj["type"];
  if (typeof type !== "string" || !CREDENTIAL_TYPES.has(type)) {
    return fail(`unknown credentials type ${JSON.stringify(type)} (expected ${[...CREDENTIAL_TYPES].join(", ")})`);
  }
  if (type !== "service_account") return { kind: "other", json: obj, label };
  const email = obj["client_email"];
  const key = obj["private_key"];
  if (typeof email !== "string" || email === "") fail("the service account key has no client_email");
  if (typeof key !== "string" || key === "") fail("the service account key has no private_key");
  try {
    createPrivateKey(key as string);
  } catch (err) {
    fail(`the private_key of the service account key cannot be read (${errorMessage(err)})`, err);
  }
  const tokenUri = obj["token_uri"];
  if (tokenUri !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(tokenUri));
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:"))
      fail(`the token_uri ${JSON.stringify(tokenUri)} is not an http(s) URL`);
  }
  const optional = (k: string): string | undefined => (typeof obj[k] === "string" && obj[k] !== "" ? (obj[k] as string) : undefined);
  const sa: ServiceAccountKey = {
    client_email: email as string,
    private_key: key as string,
    ...(optional("private_key_id") === undefined ? {} : { private_key_id: optional("private_key_id")! }),
    ...(optional("project_id") === undefined ? {} : { project_id: optional("project_id")! }),
    ...(optional("token_uri") === undefined ? {} : { token_uri: optional("token_uri")! }),
  };
  return { kind: "service_account", key: sa, label };
}

/**
 * The auth client for a service account key. google-auth-library sends every service-account token request
 * to Google's endpoint whatever the key's token_uri says; Go's library (and so Talon) uses token_uri, so a
 * request interceptor on the client's own transporter sends it there.
 */
function serviceAccountAuth(key: ServiceAccountKey): JWT {
  const transporter = new gaxios.Gaxios();
  const tokenUri = key.token_uri;
  if (tokenUri !== undefined && tokenUri !== GOOGLE_TOKEN_URL) {
    transporter.interceptors.request.add({
      resolved: async (config) => {
        if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
        return config;
      },
    });
  }
  return new JWT({
    email: key.client_email,
    key: key.private_key,
    ...(key.private_key_id === undefined ? {} : { keyId: key.private_key_id }),
    scopes: [CLOUD_PLATFORM],
    transporter,
  });
}

export function createGcpClient(settings: GcpSettings, options: GcpClientOptions = {}): GcpClient {
  const source = resolveCredentials(settings, options);
  const chunkBytes = options.uploadChunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes <= 0 || chunkBytes % CHUNK_QUANTUM !== 0)
    throw new Error(`uploadChunkBytes must be a positive multiple of ${CHUNK_QUANTUM}`);
  const functionsBase = checkedEndpoint(settings.functions_endpoint, "gcp.functions_endpoint") ?? FUNCTIONS_API;
  const storageEndpoint = checkedEndpoint(settings.storage_endpoint, "gcp.storage_endpoint");

  let jwt: JWT | undefined;
  let auth: GoogleAuth | undefined;
  if (source.kind === "service_account") jwt = serviceAccountAuth(source.key);
  else if (source.kind === "other") auth = new GoogleAuth({ credentials: source.json as never, scopes: [CLOUD_PLATFORM] });
  else auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
  const authClient: AuthClient | GoogleAuth = jwt ?? auth!;
  const label = source.label;
  const tokenUri = source.kind === "service_account" ? source.key.token_uri : undefined;

  const storage = new Storage({
    authClient,
    ...(storageEndpoint === undefined ? {} : { apiEndpoint: storageEndpoint }),
    // Without it the library sends no credentials to an endpoint outside googleapis.com.
    useAuthWithCustomEndpoint: true,
    ...(source.kind === "service_account" && source.key.project_id !== undefined ? { projectId: source.key.project_id } : {}),
    // The library's own retries (429/5xx/resets, uploads only with a precondition, which Kestrel always
    // sets), kept within an action's deadline.
    retryOptions: { autoRetry: true, maxRetries: 3, retryDelayMultiplier: 2, maxRetryDelay: 8, totalTimeout: 60 },
  });

  const idTokenClients = new Map<string, Promise<IdTokenClient>>();
  const idTokenClient = (audience: string): Promise<IdTokenClient> => {
    let client = idTokenClients.get(audience);
    if (client === undefined) {
      client =
        jwt !== undefined
          ? Promise.resolve(new IdTokenClient({ targetAudience: audience, idTokenProvider: jwt }))
          : auth!.getIdTokenClient(audience);
      client.catch(() => idTokenClients.delete(audience));
      // Function URLs come from the rules, so this stays small; the bound guards against a surprise.
      if (idTokenClients.size >= 100) idTokenClients.delete(idTokenClients.keys().next().value!);
      idTokenClients.set(audience, client);
    }
    return client;
  };

  const env = options.env ?? process.env;
  let project: Promise<string> | undefined;
  const projectId = (signal: AbortSignal): Promise<string> => {
    if (source.kind === "service_account") {
      const id = source.key.project_id ?? (env["GOOGLE_CLOUD_PROJECT"] || env["GCLOUD_PROJECT"]);
      if (id !== undefined && id !== "") return Promise.resolve(id);
      return Promise.reject(
        new KestrelError(
          "ERR_CONFIG_INVALID",
          `no Google Cloud project: the key of ${label} has no project_id (set $GOOGLE_CLOUD_PROJECT)`,
        ),
      );
    }
    project ??= auth!.getProjectId().catch((err: unknown) => {
      project = undefined;
      throw new KestrelError(
        "ERR_CONFIG_INVALID",
        `no Google Cloud project in ${label} (set $GOOGLE_CLOUD_PROJECT): ${errorMessage(err)}`,
        { cause: err },
      );
    });
    return untilAborted(project, signal);
  };

  /** The Authorization header for `url`: an access token, or an ID token when `audience` is given. */
  const authHeaders = async (url: string, signal: AbortSignal, audience?: string): Promise<Headers> => {
    try {
      const client = audience === undefined ? authClient : await untilAborted(idTokenClient(audience), signal);
      return await untilAborted(client.getRequestHeaders(url), signal);
    } catch (err) {
      if (err instanceof KestrelError) throw err;
      throw credentialsError(err, label, signal, audience === undefined ? "an access token" : `an ID token for ${audience}`);
    }
  };

  return {
    credentials: label,
    projectId,

    async upload(request) {
      const { bucket, signal } = request;
      const data = request.data;
      const small = data instanceof Uint8Array && data.byteLength <= chunkBytes;
      for (const name of request.names) {
        const op = storageOperation(bucket, name);
        const fail = (err: unknown): KestrelError => gcpError(err, op, label, signal, tokenUri);
        const file = storage.bucket(bucket).file(name);
        try {
          if (small) {
            // One multipart request: the data is in memory already and smaller than a chunk.
            await untilAborted(
              file.save(data, { resumable: false, ...contentTypeOption(request.contentType), preconditionOpts: { ifGenerationMatch: 0 } }),
              signal,
            );
            return storedObject(file, bucket, name);
          }
          const created = await untilAborted(
            file.createResumableUpload({ ...metadataOption(request.contentType), preconditionOpts: { ifGenerationMatch: 0 } }),
            signal,
          );
          return await sendResumable(file, created[0], request, chunkBytes, fail);
        } catch (err) {
          if (!(err instanceof KestrelError) && statusOf(err) === 412) continue; // the name is taken: try the next one
          throw fail(err);
        }
      }
      throw new KestrelError(
        "ERR_OUTPUT",
        `cannot upload to the bucket '${bucket}': the objects ${request.names.map((n) => `'${n}'`).join(", ")} all exist`,
      );
    },

    async functionUrl(request) {
      const { name, location, signal } = request;
      checkFunctionRef(name, location);
      const id = `projects/${await projectId(signal)}/locations/${location}/functions/${name}`;
      const url = `${functionsBase}/v2/${id.split("/").map(encodeURIComponent).join("/")}`;
      const op: GcpOperation = {
        what: `get the function '${id}'`,
        code: "ERR_ACTION",
        permission: `cloudfunctions.functions.get on the function '${id}' (roles/cloudfunctions.viewer)`,
        notFound: `the function '${name}' does not exist in the location '${location}' of the project`,
      };
      const body = await withRetries(signal, async () => {
        const headers = await authHeaders(url, signal);
        const res = await fetchOrThrow(url, { headers, signal }, API_TIMEOUT_MS, op, label);
        const text = await readCapped(res, 1024 * 1024);
        if (!res.ok) throw httpError(res.status, res.headers, text, op, label);
        return text;
      });
      const uri = httpsUriOf(body);
      if (uri === undefined) {
        throw new KestrelError("ERR_ACTION", `the function '${id}' has no HTTP URL (only functions with an HTTP trigger can be called)`);
      }
      return uri;
    },

    async invokeFunction(request) {
      const { name, location, url, signal } = request;
      const id = `the function '${name}' in the location '${location}'`;
      const op: GcpOperation = {
        what: `call ${id}`,
        code: "ERR_ACTION",
        permission: `the invoker role on the function (cloudfunctions.functions.invoke for 1st gen, run.routes.invoke for 2nd gen)`,
        notFound: `${id} answered 404 at ${url}`,
      };
      const headers = await authHeaders(url, signal, url);
      headers.set("content-type", "application/json");
      const res = await fetchOrThrow(
        url,
        { method: "POST", headers, body: request.body, signal, redirect: "manual" },
        request.timeoutMs,
        op,
        label,
      );
      const text = await readCapped(res, MAX_ANSWER_BYTES);
      if (res.status < 200 || res.status > 299) {
        const detail = text.trim() === "" ? "" : `: ${text.trim().slice(0, 1000)}`;
        if (res.status === 401 || res.status === 403) {
          throw new KestrelError(
            "ERR_FORBIDDEN",
            `${id} refused the call with HTTP ${res.status}: ${label} needs ${op.permission}${detail}`,
          );
        }
        throw new KestrelError("ERR_ACTION", `${id} answered HTTP ${res.status}${detail}`, {
          retryable: res.status === 429 || res.status >= 500,
        });
      }
      return { status: res.status, body: text };
    },
  };
}

function checkedEndpoint(value: string, setting: string): string | undefined {
  if (value === "") return undefined;
  let url: URL;
  const shown = redactCredentials(value);
  try {
    url = new URL(value);
  } catch {
    throw new KestrelError("ERR_CONFIG_INVALID", `${setting}: "${shown}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new KestrelError("ERR_CONFIG_INVALID", `${setting}: "${shown}" is not an http(s) URL`);
  // Requests carry Google's bearer token: credentials in the address would never be sent.
  if (url.username !== "" || url.password !== "")
    throw new KestrelError("ERR_CONFIG_INVALID", `${setting}: "${shown}" must not carry credentials`);
  return value.replace(/\/+$/, "");
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

function contentTypeOption(contentType: string | undefined): { contentType?: string } {
  return contentType === undefined ? {} : { contentType };
}

function metadataOption(contentType: string | undefined): { metadata?: { contentType: string } } {
  return contentType === undefined ? {} : { metadata: { contentType } };
}

function storedObject(file: File, bucket: string, name: string): StoredObject {
  const meta = file.metadata;
  return {
    bucket,
    name,
    size: Number(meta.size ?? 0),
    generation: String(meta.generation ?? ""),
    uri: `gs://${bucket}/${name}`,
  };
}

/**
 * Streams the data into a resumable session, one chunk per request: the library holds the chunk being sent
 * and the next one filling, never more, and checks the object's CRC32C against what it sent. The session was created with credentials; its URI
 * is the credential of the chunk requests (as the API documents). A failed or cut upload cancels the
 * session so that no partial object appears.
 */
async function sendResumable(
  file: File,
  uri: string,
  request: UploadRequest,
  chunkBytes: number,
  fail: (err: unknown) => KestrelError,
): Promise<StoredObject> {
  const { signal } = request;
  const data = request.data;
  const source = data instanceof Uint8Array ? Readable.from([data]) : data;
  const sink = file.createWriteStream({
    uri,
    offset: 0,
    resumable: true,
    chunkSize: chunkBytes,
    preconditionOpts: { ifGenerationMatch: 0 },
    ...contentTypeOption(request.contentType),
  });
  try {
    await pipeline(source, sink, { signal });
  } catch (err) {
    cancelSession(uri);
    throw fail(err);
  }
  return storedObject(file, request.bucket, file.name);
}

function cancelSession(uri: string): void {
  // DELETE on the session URI ends it (the API answers 499); best effort, the session expires anyway.
  void gaxios.request({ url: uri, method: "DELETE", timeout: 5000, validateStatus: () => true, retry: false }).catch(() => {});
}

export interface GcpOperation {
  /** What was attempted: "upload the object 'x' to the bucket 'b'". */
  readonly what: string;
  /** The code of failures that are not about permissions, existence or time. */
  readonly code: ErrorCode;
  /** The IAM permission a 403 means is missing. */
  readonly permission: string;
  /** What a 404 means. */
  readonly notFound: string;
}

function storageOperation(bucket: string, name: string): GcpOperation {
  return {
    what: `upload the object '${name}' to the bucket '${bucket}'`,
    code: "ERR_OUTPUT",
    permission: `storage.objects.create on the bucket '${bucket}' (roles/storage.objectCreator)`,
    notFound: `the bucket '${bucket}' does not exist`,
  };
}

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

function connectionCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === "object" && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
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

/** A KestrelError for a failed Google API call (see GcpOperation). */
export function gcpError(err: unknown, op: GcpOperation, credentials: string, signal?: AbortSignal, tokenUri?: string): KestrelError {
  if (err instanceof KestrelError) return err;
  if (signal?.aborted)
    return new KestrelError("ERR_TIMEOUT", `cannot ${op.what}: cancelled (${errorMessage(signal.reason)})`, { cause: err });
  if (isTokenRequest(err, tokenUri)) return credentialsError(err, credentials, signal, "an access token");
  const status = statusOf(err);
  const detail = apiMessage(err);
  if (status === 401)
    return new KestrelError("ERR_FORBIDDEN", `cannot ${op.what}: the credentials were refused (${credentials}): ${detail}`, { cause: err });
  if (status === 403)
    return new KestrelError("ERR_FORBIDDEN", `cannot ${op.what}: permission denied: ${credentials} needs ${op.permission} (${detail})`, {
      cause: err,
    });
  if (status === 404) return new KestrelError("ERR_TARGET_GONE", `cannot ${op.what}: ${op.notFound} (${detail})`, { cause: err });
  const code = connectionCode(err);
  if (status === undefined && code !== undefined)
    return new KestrelError(op.code, `cannot ${op.what}: ${code}`, { cause: err, retryable: true });
  const retryable = status === 408 || status === 429 || (status !== undefined && status >= 500);
  return new KestrelError(op.code, `cannot ${op.what}: ${status === undefined ? "" : `HTTP ${status}: `}${detail}`, {
    cause: err,
    retryable,
  });
}

/** A failure to get a token: the token endpoint refused the key, or could not be reached. */
function credentialsError(err: unknown, credentials: string, signal: AbortSignal | undefined, token: string): KestrelError {
  if (signal?.aborted)
    return new KestrelError("ERR_TIMEOUT", `cannot get ${token}: cancelled (${errorMessage(signal.reason)})`, { cause: err });
  const status = statusOf(err);
  const detail = apiMessage(err);
  const code = connectionCode(err);
  if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    return new KestrelError("ERR_FORBIDDEN", `cannot get ${token}: the token endpoint refused ${credentials}: ${detail}`, { cause: err });
  }
  const retryable = code !== undefined || status === 429 || (status !== undefined && status >= 500);
  return new KestrelError("ERR_FORBIDDEN", `cannot get ${token} with ${credentials}: ${code ?? detail}`, { cause: err, retryable });
}

function httpError(status: number, headers: Headers, body: string, op: GcpOperation, credentials: string): KestrelError {
  const err = { status, message: jsonErrorMessage(body) ?? `HTTP ${status}` };
  const mapped = gcpError(err, op, credentials);
  const retryAfter = Number(headers.get("retry-after"));
  if (!mapped.retryable || !Number.isFinite(retryAfter) || retryAfter <= 0) return mapped;
  return new KestrelError(mapped.code, mapped.message, { retryable: true, retryAfterSeconds: retryAfter });
}

/** fetch with a deadline of its own (0: none) besides the signal; failures mapped to KestrelErrors. */
async function fetchOrThrow(
  url: string,
  init: RequestInit & { signal: AbortSignal },
  timeoutMs: number,
  op: GcpOperation,
  credentials: string,
): Promise<Response> {
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  const signal = timeout === undefined ? init.signal : AbortSignal.any([init.signal, timeout]);
  try {
    return await fetch(url, { ...init, signal });
  } catch (err) {
    if (timeout?.aborted && !init.signal.aborted) {
      throw new KestrelError("ERR_TIMEOUT", `cannot ${op.what}: no answer within ${timeoutMs / 1000} s`, { cause: err, retryable: true });
    }
    throw gcpError(err, op, credentials, init.signal);
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

/** Runs `call`, retrying retryable failures twice with backoff (honouring Retry-After, up to 10 s). */
async function withRetries<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = err instanceof KestrelError ? err : undefined;
      if (e === undefined || !e.retryable || attempt >= 3 || signal.aborted) throw err;
      const wait = e.retryAfterSeconds !== undefined ? Math.min(e.retryAfterSeconds * 1000, 10_000) : delay * (0.5 + Math.random());
      await sleepUnlessAborted(wait, signal);
      delay *= 2;
    }
  }
}
