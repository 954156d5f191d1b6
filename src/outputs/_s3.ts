// What aws:s3 and minio:s3 share: the bucket and prefix parameters and their checks, the object key, and
// the upload of an artifact as a stream. The key is the rule's prefix (never an event's: `${…}` is refused
// there) followed by Talon's artifact name, whose parts from the event are neutralised by artifactFileName,
// so no event value can add a path segment, a `..` or a leading `/` to the key.
//
// Differences from Talon: an empty prefix gives `<name>`, not `/<name>`; a prefix's empty, `.` and `..`
// segments and control characters are refused when the rules are checked instead of being uploaded as is;
// the artifact is streamed in parts (multipart upload) instead of being read whole into memory; its content
// type is the producer's (application/octet-stream when it has none). The name holds the event's trace id
// (`<time>_<trace id>_<namespace>_<pod>_<name>`) and an existing object is never replaced: the upload is
// conditional (`If-None-Match: *`), and a taken key gets `-1`, `-2`… when the data is in memory (a stream
// is read once, so its upload fails instead).
import { Readable } from "node:stream";
import { z } from "zod";
import type { ObjectStore } from "../clients/aws/types.ts";
import { KestrelError } from "../errors.ts";
import type { Artifact, ArtifactWrite, OutputResult } from "../plugins/types.ts";
import { abortable, alternativeName, artifactFileName, discard, isAsyncIterable } from "./_artifact.ts";

export const bucketParam = z
  .string()
  .min(1, "must name a bucket")
  .describe("the bucket the artifacts go to (it must exist); event values (${…}) are not allowed here");

export const prefixParam = z
  .string()
  .default("")
  .describe("the folder of the keys in the bucket, e.g. falco/artifacts; event values (${…}) are not allowed here");

/** S3 bucket names (3–63 characters; the legacy us-east-1 names may also hold capitals and `_`). */
const BUCKET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]$/;
/** Keys tried for an artifact in memory before giving up (the trace id makes a clash rare already). */
const NAME_ATTEMPTS = 10;
/** Longest prefix in bytes: keys are at most 1024 bytes and the artifact's name may take 240 of them. */
const MAX_PREFIX_BYTES = 700;

/** Problems of a bucket and prefix, for `rules check`; none means both are usable as they are. */
export function locationProblems(bucket: string, prefix: string): string[] {
  const problems: string[] = [];
  if (bucket.includes("${")) problems.push(`the bucket '${bucket}' cannot use variables: an event must not choose where artifacts go`);
  else if (!BUCKET_NAME.test(bucket) || bucket.includes("..")) problems.push(`'${bucket}' is not a bucket name`);
  if (prefix.includes("${")) problems.push(`the prefix '${prefix}' cannot use variables: an event must not choose where artifacts go`);
  else {
    const p = prefixProblem(prefix);
    if (p !== undefined) problems.push(p);
  }
  return problems;
}

function prefixProblem(prefix: string): string | undefined {
  if (/[\u0000-\u001f\u007f\\]/.test(prefix))
    return `the prefix '${JSON.stringify(prefix).slice(1, -1)}' holds control characters or a backslash`;
  if (prefix.split("/").some((s) => s === "." || s === "..")) return `the prefix '${prefix}' holds a '.' or '..' segment`;
  if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) return `the prefix is longer than ${MAX_PREFIX_BYTES} bytes`;
  return undefined;
}

/** `prefix/name` with the prefix's slashes normalised (`/logs/` → `logs/<name>`; `` → `<name>`). */
export function objectKey(prefix: string, name: string): string {
  const problem = prefixProblem(prefix);
  if (problem !== undefined) throw new KestrelError("ERR_OUTPUT", problem);
  // artifactFileName already makes this one plain name; checked again because a key is where it matters.
  if (name === "" || name.includes("/") || /^\.+$/.test(name) || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new KestrelError("ERR_OUTPUT", `'${JSON.stringify(name).slice(1, -1)}' cannot be an object name`);
  }
  const folder = prefix
    .split("/")
    .filter((s) => s !== "")
    .join("/");
  return folder === "" ? name : `${folder}/${name}`;
}

export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
  /** Added to the result's objects (Talon's aws:s3 reports the region). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** Uploads the artifact under its Talon name; an upload that fails or is cut is a failure, never a success. */
export async function uploadArtifact(
  store: () => ObjectStore,
  artifact: Artifact,
  ctx: ArtifactWrite,
  where: S3Location,
): Promise<OutputResult> {
  const problems = locationProblems(where.bucket, where.prefix);
  if (problems.length > 0) {
    await discard(artifact.data);
    throw new KestrelError("ERR_OUTPUT", problems.join("; "));
  }
  let target: ObjectStore;
  let key: string;
  let name: string;
  try {
    target = store();
    name = artifactFileName(artifact.name, ctx.objects, new Date(), ctx.traceId);
    key = objectKey(where.prefix, name);
  } catch (err) {
    await discard(artifact.data);
    throw err;
  }
  const { data } = artifact;
  let body: Uint8Array | Readable;
  let stop = (): void => {};
  if (isAsyncIterable(data)) {
    const iterator = data[Symbol.asyncIterator]();
    body = Readable.from(abortable(iterator, ctx.signal));
    stop = () => void Promise.resolve(iterator.return?.()).catch(() => {});
  } else {
    body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  }
  const base = name;
  const request = { bucket: where.bucket, body, contentType: artifact.contentType ?? "application/octet-stream", signal: ctx.signal };
  try {
    for (let attempt = 0; ; attempt++) {
      if ((await target.upload({ ...request, key })) === "stored") break;
      if (body instanceof Readable || attempt + 1 >= NAME_ATTEMPTS) {
        throw new KestrelError("ERR_OUTPUT", `the key '${key}' exists already in the bucket '${where.bucket}': it is not overwritten`);
      }
      name = alternativeName(base, attempt + 1);
      key = objectKey(where.prefix, name);
    }
  } catch (err) {
    stop();
    throw err;
  }
  return {
    summary: `the file '${name}' has been uploaded as the key '${key}' to the bucket '${where.bucket}'`,
    location: `s3://${where.bucket}/${key}`,
    objects: { file: name, bucket: where.bucket, prefix: where.prefix, key, ...where.extra },
  };
}
