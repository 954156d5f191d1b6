// local:file: stores an artifact in a folder of the Kestrel host, named as Talon names it
// (`<time>_<namespace>_<pod>_<name>`). The artifact is streamed to disk, never held whole in memory. Every
// part of the name that comes from an event (namespace, pod, file name) is neutralised: path separators,
// NUL and control characters become `_` and a name made only of dots is replaced, so an event can never
// write outside the destination. The file is written under a temporary name and renamed when complete, so
// a failed or cut stream leaves no partial file; an existing file is never overwritten.
import { randomBytes } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { errorMessage, KestrelError } from "../../errors.ts";
import { defineOutput } from "../../plugins/define.ts";
import type { Artifact } from "../../plugins/types.ts";

const params = z.strictObject({
  destination: z
    .string()
    .min(1, "must name a folder")
    .describe("folder the files are written to (it must exist); event values (${…}) are not allowed here"),
});

/** Longest file name written, in bytes (file systems allow 255). */
const MAX_NAME_BYTES = 240;

/** One component of a file name, with everything that could leave the folder replaced by `_`. */
export function neutralise(part: string): string {
  const safe = part.replace(/[/\\\u0000-\u001f\u007f]/g, "_");
  return /^\.+$/.test(safe) ? "_".repeat(safe.length) : safe;
}

/** Talon's time prefix, `2006-01-02T15-04-05Z`, in UTC (Talon prints local time with a literal Z). */
function timestamp(now: Date): string {
  return now.toISOString().slice(0, 19).replaceAll(":", "-") + "Z";
}

/**
 * The file name of an artifact, built like Talon's object key: `<time>_<namespace>_<pod>_<name>` when the
 * action names a pod, else `<time>_<hostname>_<name>`, else the sorted object values (except `file`) joined
 * with `_`, then `_<name>`. Each part is neutralised, so the result is always one plain file name.
 */
export function artifactFileName(name: string, objects: Readonly<Record<string, string>>, now: Date): string {
  let parts: string[];
  if (objects["namespace"] && objects["pod"]) parts = [objects["namespace"], objects["pod"]];
  else if (objects["hostname"]) parts = [objects["hostname"]];
  else {
    parts = Object.entries(objects)
      .filter(([k, v]) => k !== "file" && v !== "")
      .map(([, v]) => v)
      .sort();
  }
  const full = [timestamp(now), ...parts, name === "" ? "artifact" : name].map(neutralise).join("_");
  return shorten(full);
}

/** Cuts the middle of a name longer than MAX_NAME_BYTES, keeping its start (time, pod) and end (extension). */
function shorten(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const chars = Array.from(name);
  let head = chars.slice(0, 120);
  let tail = chars.slice(-100);
  while (Buffer.byteLength(head.join("")) > 130) head = head.slice(0, -1);
  while (Buffer.byteLength(tail.join("")) > 100) tail = tail.slice(1);
  return `${head.join("")}_${tail.join("")}`;
}

/** `name`, or `name-1.ext`, `name-2.ext`… for the first one not present in `dir`. */
async function freeName(dir: string, name: string): Promise<string> {
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let i = 0; ; i++) {
    const candidate = join(dir, i === 0 ? name : `${stem}-${i}${ext}`);
    try {
      await stat(candidate);
    } catch {
      return candidate;
    }
  }
}

function isAsyncIterable(data: Artifact["data"]): data is AsyncIterable<Uint8Array> {
  return typeof data !== "string" && !(data instanceof Uint8Array);
}

/** Tells a streamed artifact that nobody will read it, so that its producer (an exec) stops at once. */
async function discard(data: Artifact["data"]): Promise<void> {
  if (!isAsyncIterable(data)) return;
  try {
    await data[Symbol.asyncIterator]().return?.();
  } catch {
    // the producer's own failure does not matter any more
  }
}

/** The iterator, with each `next` given up when the signal aborts (a stalled producer cannot hold the write). */
function abortable(iterator: AsyncIterator<Uint8Array>, signal: AbortSignal): AsyncIterableIterator<Uint8Array> {
  const wrapped: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => wrapped,
    next: () =>
      new Promise((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener("abort", onAbort, { once: true });
        iterator.next().then(
          (r) => {
            signal.removeEventListener("abort", onAbort);
            resolve(r);
          },
          (e: unknown) => {
            signal.removeEventListener("abort", onAbort);
            reject(e);
          },
        );
      }),
    return: async () => {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
  };
  return wrapped;
}

export default defineOutput({
  category: "local",
  name: "file",
  description: "Store the artifact in a folder of the Kestrel host",
  params,
  example: `
- action: Download the file
  actionner: kubernetes:download
  parameters:
    file: "\${FD_NAME}"
  output:
    target: local:file
    parameters:
      destination: /var/lib/kestrel/artifacts
`,
  check(p) {
    return p.destination.includes("${")
      ? [`the destination '${p.destination}' cannot use variables: an event must not choose where files are written`]
      : [];
  },
  async write(artifact, ctx) {
    const dir = resolve(ctx.params.destination);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error("not a folder");
    } catch {
      await discard(artifact.data);
      throw new KestrelError("ERR_OUTPUT", `folder '${ctx.params.destination}' does not exist`);
    }
    const name = artifactFileName(artifact.name, ctx.objects, new Date());
    const partial = join(dir, `.kestrel-${randomBytes(6).toString("hex")}.partial`);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(partial, "wx", 0o600);
    } catch (err) {
      await discard(artifact.data);
      throw new KestrelError("ERR_OUTPUT", `cannot write in the folder '${dir}': ${errorMessage(err)}`, { cause: err });
    }
    const { data } = artifact;
    const iterator = isAsyncIterable(data) ? data[Symbol.asyncIterator]() : undefined;
    const source =
      iterator === undefined
        ? Readable.from([typeof data === "string" ? Buffer.from(data, "utf8") : (data as Uint8Array)])
        : abortable(iterator, ctx.signal);
    let path: string;
    try {
      await pipeline(source, handle.createWriteStream(), { signal: ctx.signal });
      path = await freeName(dir, name);
      await rename(partial, path);
    } catch (err) {
      if (iterator !== undefined) Promise.resolve(iterator.return?.()).catch(() => {});
      await handle.close().catch(() => {});
      await rm(partial, { force: true });
      if (err instanceof KestrelError) throw err;
      throw new KestrelError("ERR_OUTPUT", `cannot write the file '${name}' in '${dir}': ${errorMessage(err)}`, { cause: err });
    }
    return {
      output: `the file '${name}' has been copied to '${path}'`,
      location: pathToFileURL(path).href,
      objects: { file: name, destination: dir },
    };
  },
});
