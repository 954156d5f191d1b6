// gcp:gcs: stores an artifact in a Cloud Storage bucket as `<prefix>/<time>_<namespace>_<pod>_<name>`, the
// name built like Talon's object key. Every part of the name that comes from an event is neutralised (no
// `/`, NUL or control characters, no dot-only parts), so an event can never put an object outside the
// prefix; bucket and prefix cannot use event values at all. Streamed artifacts go up in resumable chunks,
// so a large capture is never held whole in memory. Unlike Talon, which ignored the error of the final
// write, a failed upload is a failure; and an existing object is never overwritten: the name holds the
// event's trace id (`<time>_<trace id>_<namespace>_<pod>_<name>`), every write is conditional
// (`ifGenerationMatch: 0`), and a taken name gets `-1`, `-2`….
import { z } from "zod";
import { gcpOf } from "../../clients/index.ts";
import { KestrelError } from "../../errors.ts";
import { defineOutput } from "../../plugins/define.ts";
import { alternativeName, artifactFileName, artifactSource, discard, isAsyncIterable, logsExample } from "../_artifact.ts";

/** Cloud Storage bucket names: 3-63 characters (222 with dots), lower case, digits, `-`, `_`, `.`. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const MAX_PREFIX_BYTES = 512;
/** Names tried when the first one is taken: `x`, `x-1`, … (one event storing two equal names in a second). */
const NAME_ATTEMPTS = 5;

const params = z.strictObject({
  bucket: z
    .string()
    .min(1, "must name a bucket")
    .describe("bucket the artifacts are stored in (it must exist); event values (${…}) are not allowed here"),
  prefix: z
    .string()
    .default("")
    .describe(
      "folder-like prefix of the object names, e.g. falco/artifacts (no leading or trailing / needed); event values are not allowed here",
    ),
});

/** `a/b/` from `/a/b/`, `a//b` or `a/b`; "" for no prefix. Talon's `trim("/") + "/"` gave "/" for none. */
export function normalisePrefix(prefix: string): string {
  const parts = prefix.split("/").filter((p) => p !== "");
  return parts.length === 0 ? "" : `${parts.join("/")}/`;
}

/** Problems of a prefix: event values, control characters, `.`/`..` segments, length. */
function prefixProblems(prefix: string): string[] {
  if (prefix.includes("${")) return [`the prefix '${prefix}' cannot use variables: an event must not choose where artifacts are stored`];
  const problems: string[] = [];
  if (/[\u0000-\u001f\u007f]/.test(prefix)) problems.push("the prefix cannot contain control characters");
  if (prefix.split("/").some((p) => p === "." || p === "..")) problems.push(`the prefix '${prefix}' cannot have '.' or '..' segments`);
  if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) problems.push(`the prefix is longer than ${MAX_PREFIX_BYTES} bytes`);
  return problems;
}

/** `name`, then `stem-1.ext`, `stem-2.ext`… */
function candidateNames(name: string): string[] {
  return Array.from({ length: NAME_ATTEMPTS }, (_, i) => alternativeName(name, i));
}

export default defineOutput({
  category: "gcp",
  name: "gcs",
  needs: ["gcp"],
  notes: {
    behaviour:
      "Uploads the artifact to `bucket` as `<prefix>/<UTC time>_<namespace>_<pod>_<name>` (Talon's name; `prefix` optional, `a/b`, `/a/b/` and `a//b` all mean `a/b/`); result `gs://bucket/key`, objects `bucket`, `prefix`, `key`, `file`. Streamed artifacts go up in resumable chunks of 8 MiB (at most two chunks in memory, whatever the size); small in-memory ones in one multipart request. An existing object is never overwritten (`-1`, `-2`… suffix); the object's CRC32C is checked; a failed or cut upload is a failure and its session is cancelled (Talon ignored the upload's error). `bucket` and `prefix` cannot use `${…}` event values; event values in the name cannot leave the prefix (`/`, `\\`, NUL, control characters become `_`, dot-only parts are replaced).",
  },
  description: "Store the artifact in a Google Cloud Storage bucket",
  params,
  permissions: `storage.objects.create on the bucket (role Storage Object Creator)
storage.objects.delete on the bucket, only used to remove an object whose CRC32C does not match what was sent`,
  example: logsExample("gcp:gcs", { bucket: "falco-artifacts", prefix: "kestrel/logs" }),
  check(p) {
    const problems: string[] = [];
    if (p.bucket.includes("${"))
      problems.push(`the bucket '${p.bucket}' cannot use variables: an event must not choose where artifacts are stored`);
    else if (!BUCKET_NAME.test(p.bucket) || p.bucket.includes("..")) {
      problems.push(`'${p.bucket}' is not a Cloud Storage bucket name (3-63 lower-case letters, digits, '-', '_' and '.')`);
    }
    return [...problems, ...prefixProblems(p.prefix)];
  },
  async write(artifact, ctx) {
    const { bucket } = ctx.params;
    let gcp: ReturnType<typeof gcpOf>;
    try {
      gcp = gcpOf(ctx.clients);
    } catch (err) {
      await discard(artifact.data);
      throw err;
    }
    const prefix = normalisePrefix(ctx.params.prefix);
    const name = artifactFileName(artifact.name, ctx.objects, new Date(), ctx.traceId);
    const names = candidateNames(name).map((n) => prefix + n);
    const streamed = isAsyncIterable(artifact.data);
    const { source, stop } = artifactSource(artifact.data, ctx.signal);
    const data = streamed ? (source as AsyncIterable<Uint8Array>) : toBytes(artifact.data as string | Uint8Array);
    let stored: Awaited<ReturnType<typeof gcp.upload>>;
    try {
      stored = await gcp.upload({ bucket, names, contentType: artifact.contentType, data, signal: ctx.signal });
    } catch (err) {
      stop();
      if (err instanceof KestrelError) throw err;
      throw new KestrelError("ERR_OUTPUT", `cannot upload the file '${name}' to the bucket '${bucket}'`, { cause: err });
    }
    return {
      summary: `the file '${artifact.name}' has been uploaded as the object '${stored.name}' to the bucket '${bucket}'`,
      location: stored.uri,
      objects: { file: name, bucket, prefix, key: stored.name },
    };
  },
});

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}
