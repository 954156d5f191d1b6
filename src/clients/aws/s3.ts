// Uploads to AWS S3 and MinIO through lib-storage's Upload: a buffer in one PutObject, a stream in parts
// (never whole in memory), never replacing an object (`If-None-Match: *`), a failed or cancelled multipart
// upload cleaned up. Every call carries the caller's signal.
import { Readable } from "node:stream";
import { AbortMultipartUploadCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { awsError, cancelledError, type ErrorContext, type SdkError } from "./errors.ts";
import type { MinioTarget } from "./settings.ts";
import type { ObjectStore } from "./types.ts";

/** Streams are sent in parts of this size, at most QUEUE_SIZE at a time: the memory an upload holds. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** How long the clean-up of a failed multipart upload may take once the upload itself was cancelled. */
const CLEANUP_TIMEOUT_MS = 10_000;

/** The S3 client of MinIO: path-style, its keys, and only the checksums S3-compatible servers all support. */
export function minioS3Client(target: MinioTarget, common: object): S3Client {
  return new S3Client({
    ...common,
    endpoint: target.endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    // S3-compatible servers vary in their support of the SDK's newer default checksums.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * The client as lib-storage's Upload sees it: every call it makes carries the upload's signal (Upload has
 * no option for that), except the AbortMultipartUpload that cleans up after a cancelled upload, which must
 * still go out when that signal has fired.
 */
function withSignal(client: S3Client, signal: AbortSignal): S3Client {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== "send") return Reflect.get(target, prop, receiver) as unknown;
      return (command: Parameters<S3Client["send"]>[0], options?: object) =>
        target.send(command, {
          ...options,
          abortSignal: command instanceof AbortMultipartUploadCommand ? AbortSignal.timeout(CLEANUP_TIMEOUT_MS) : signal,
        });
    },
  });
}

/** The refusal of `If-None-Match: *`: 412 when the key exists, 409 while another conditional write of it runs. */
function keyTaken(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  return status === 412 || e.name === "PreconditionFailed" || (status === 409 && e.name === "ConditionalRequestConflict");
}

function uploadContext(bucket: string, key: string, description: string, credentials: string, service: "AWS" | "MinIO"): ErrorContext {
  return {
    what: `upload s3://${bucket}/${key} to ${description}`,
    permission:
      service === "AWS"
        ? `s3:PutObject (and s3:AbortMultipartUpload) on arn:aws:s3:::${bucket}/${key}`
        : `s3:PutObject on ${bucket}/${key} in its MinIO policy`,
    credentials,
    notFound: `the bucket '${bucket}' does not exist`,
  };
}

/** A bucket service reached with `client` (built on first use); `credentials` says where its keys come from. */
export function objectStore(client: () => S3Client, description: string, credentials: string, service: "AWS" | "MinIO"): ObjectStore {
  return {
    description,
    async upload({ bucket, key, body, contentType, signal }) {
      const ctx = uploadContext(bucket, key, description, credentials, service);
      if (signal.aborted) throw cancelledError(ctx.what, signal);
      const upload = new Upload({
        client: withSignal(client(), signal),
        // Sent with PutObject and CompleteMultipartUpload: S3 and MinIO refuse to replace an existing object.
        params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: "*" },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const onAbort = (): void => void upload.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await upload.done();
        return "stored";
      } catch (err) {
        if (signal.aborted) throw cancelledError(ctx.what, signal, err);
        if (keyTaken(err)) return "exists";
        throw awsError(err, ctx);
      } finally {
        signal.removeEventListener("abort", onAbort);
        if (body instanceof Readable && !body.destroyed) body.destroy();
      }
    },
  };
}
