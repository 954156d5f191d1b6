// What the rest of Kestrel sees of the Google Cloud client (./index.ts builds it): its settings and the
// calls plugins make. Types only, so that importing them loads no SDK.
import type { ErrorCode } from "../../errors.ts";

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
  /** The answer's first 64 KiB, as text. */
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

/** A Google API call, as its failures name it. */
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
