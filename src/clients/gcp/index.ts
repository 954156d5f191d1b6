// The Google Cloud client: one per process, created only when a loaded rule uses a `gcp` plugin. It owns
// the credentials (./credentials.ts, ./auth.ts), a Cloud Storage client (./storage.ts), the Cloud Functions
// API and ID tokens for function URLs (./functions.ts), and turns every failure into a KestrelError at this
// boundary (./errors.ts). Every call takes the action's AbortSignal.
import { KestrelError } from "../../errors.ts";
import { redactCredentials } from "../../redact.ts";
import { GcpAuth } from "./auth.ts";
import { resolveCredentials } from "./credentials.ts";
import { FUNCTIONS_API, functionUrl, invokeFunction } from "./functions.ts";
import { storageClient, uploadObject } from "./storage.ts";
import type { GcpClient, GcpClientOptions, GcpSettings } from "./types.ts";

const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/** Resumable uploads take chunks in multiples of this. */
const CHUNK_QUANTUM = 256 * 1024;

export function createGcpClient(settings: GcpSettings, options: GcpClientOptions = {}): GcpClient {
  const source = resolveCredentials(settings, options);
  const chunkBytes = options.uploadChunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes <= 0 || chunkBytes % CHUNK_QUANTUM !== 0)
    throw new Error(`uploadChunkBytes must be a positive multiple of ${CHUNK_QUANTUM}`);
  const functionsBase = checkedEndpoint(settings.functions_endpoint, "gcp.functions_endpoint") ?? FUNCTIONS_API;
  const storageEndpoint = checkedEndpoint(settings.storage_endpoint, "gcp.storage_endpoint");

  const auth = new GcpAuth(source, options.env ?? process.env);
  const storage = storageClient(auth.client, storageEndpoint, source.kind === "service_account" ? source.key.project_id : undefined);
  const uploads = { chunkBytes, credentials: auth.label, tokenUri: auth.tokenUri };
  const functions = { auth, base: functionsBase };
  return {
    credentials: auth.label,
    projectId: (signal) => auth.projectId(signal),
    upload: (request) => uploadObject(storage, request, uploads),
    functionUrl: (request) => functionUrl(functions, request),
    invokeFunction: (request) => invokeFunction(functions, request),
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
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KestrelError("ERR_CONFIG_INVALID", `${setting}: "${shown}" is not an http(s) URL`);
  }
  // Requests carry Google's bearer token: credentials in the address would never be sent.
  if (url.username !== "" || url.password !== "")
    throw new KestrelError("ERR_CONFIG_INVALID", `${setting}: "${shown}" must not carry credentials`);
  return value.replace(/\/+$/, "");
}
