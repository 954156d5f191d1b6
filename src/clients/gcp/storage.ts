// Uploads to Cloud Storage: never over an existing object (`ifGenerationMatch: 0`, the next name on 412),
// in-memory data in one multipart request, streamed data in resumable chunks whose CRC32C the library checks.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type File, Storage } from "@google-cloud/storage";
import { type AuthClient, type GoogleAuth, gaxios } from "google-auth-library";
import { untilAborted } from "../../abort.ts";
import { KestrelError } from "../../errors.ts";
import { gcpError, statusOf } from "./errors.ts";
import type { GcpOperation, StoredObject, UploadRequest } from "./types.ts";

export interface UploadOptions {
  /** Bytes per request of a resumable upload; smaller in-memory data goes in one request. */
  readonly chunkBytes: number;
  /** Where the credentials come from, for messages. */
  readonly credentials: string;
  readonly tokenUri: string | undefined;
}

export function storageClient(authClient: AuthClient | GoogleAuth, endpoint: string | undefined, projectId: string | undefined): Storage {
  return new Storage({
    authClient,
    ...(endpoint === undefined ? {} : { apiEndpoint: endpoint }),
    // Without it the library sends no credentials to an endpoint outside googleapis.com.
    useAuthWithCustomEndpoint: true,
    ...(projectId === undefined ? {} : { projectId }),
    // The library's own retries (429/5xx/resets, uploads only with a precondition, which Kestrel always
    // sets), kept within an action's deadline.
    retryOptions: { autoRetry: true, maxRetries: 3, retryDelayMultiplier: 2, maxRetryDelay: 8, totalTimeout: 60 },
  });
}

/** Stores the data under the first of the request's names that is free. */
export async function uploadObject(storage: Storage, request: UploadRequest, options: UploadOptions): Promise<StoredObject> {
  for (const name of request.names) {
    const stored = await uploadAs(storage, request, name, options);
    if (stored !== "taken") return stored;
  }
  const names = request.names.map((n) => `'${n}'`).join(", ");
  throw new KestrelError("ERR_OUTPUT", `cannot upload to the bucket '${request.bucket}': the objects ${names} all exist`);
}

async function uploadAs(storage: Storage, request: UploadRequest, name: string, options: UploadOptions): Promise<StoredObject | "taken"> {
  const { bucket, signal, data, contentType } = request;
  const op = storageOperation(bucket, name);
  const fail = (err: unknown): KestrelError => gcpError(err, op, options.credentials, signal, options.tokenUri);
  const file = storage.bucket(bucket).file(name);
  const precondition = { preconditionOpts: { ifGenerationMatch: 0 } };
  try {
    if (data instanceof Uint8Array && data.byteLength <= options.chunkBytes) {
      // One multipart request: the data is in memory already and smaller than a chunk.
      await untilAborted(
        file.save(data, { resumable: false, ...(contentType === undefined ? {} : { contentType }), ...precondition }),
        signal,
      );
      return storedObject(file, bucket, name);
    }
    const metadata = contentType === undefined ? {} : { metadata: { contentType } };
    const created = await untilAborted(file.createResumableUpload({ ...metadata, ...precondition }), signal);
    return await sendResumable(file, created[0], request, options.chunkBytes, fail);
  } catch (err) {
    if (!(err instanceof KestrelError) && statusOf(err) === 412) return "taken"; // the name is taken: try the next one
    throw fail(err);
  }
}

function storageOperation(bucket: string, name: string): GcpOperation {
  return {
    what: `upload the object '${name}' to the bucket '${bucket}'`,
    code: "ERR_OUTPUT",
    permission: `storage.objects.create on the bucket '${bucket}' (roles/storage.objectCreator)`,
    notFound: `the bucket '${bucket}' does not exist`,
  };
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
 * and the next one filling, never more, and checks the object's CRC32C against what it sent. The session
 * was created with credentials; its URI is the credential of the chunk requests (as the API documents). A
 * failed or cut upload cancels the session so that no partial object appears.
 */
async function sendResumable(
  file: File,
  uri: string,
  request: UploadRequest,
  chunkBytes: number,
  fail: (err: unknown) => KestrelError,
): Promise<StoredObject> {
  const { signal, data, contentType } = request;
  const source = data instanceof Uint8Array ? Readable.from([data]) : data;
  const sink = file.createWriteStream({
    uri,
    offset: 0,
    resumable: true,
    chunkSize: chunkBytes,
    preconditionOpts: { ifGenerationMatch: 0 },
    ...(contentType === undefined ? {} : { contentType }),
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
