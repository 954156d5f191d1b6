// What every output does with an artifact: name it like Talon names its objects, plus the event's trace id
// so that two events never share a name, with every part that comes from an event neutralised, and read
// its data as a stream that a deadline can cut.
import { Readable } from "node:stream";
import { untilAborted } from "../abort.ts";
import type { Artifact } from "../plugins/types.ts";

/**
 * The example of an output (as Talon's docs give it): kubernetes:log storing the pod's last 200 log lines
 * through `target`, with these parameters (plain YAML scalars).
 */
export function logsExample(target: string, parameters: Readonly<Record<string, string>>): string {
  const lines = Object.entries(parameters).map(([k, v]) => `      ${k}: ${v}\n`);
  return `
- action: Get logs of the pod
  actionner: kubernetes:log
  parameters:
    tail_lines: 200
  output:
    target: ${target}
    parameters:
${lines.join("")}`;
}

/** Longest file name written, in bytes (file systems allow 255). */
const MAX_NAME_BYTES = 240;

/** One component of a file name, with everything that could leave the folder replaced by `_`. */
export function neutralise(part: string): string {
  const safe = part.replace(/[/\\\u0000-\u001f\u007f]/g, "_");
  return /^\.+$/.test(safe) ? "_".repeat(safe.length) : safe;
}

/** Talon's time prefix, `2006-01-02T15-04-05Z`, in UTC (Talon prints local time with a literal Z). */
export function timestamp(now: Date): string {
  return now.toISOString().slice(0, 19).replaceAll(":", "-") + "Z";
}

/**
 * The file name of an artifact, built like Talon's object key: `<time>_<namespace>_<pod>_<name>` when the
 * action names a pod, else `<time>_<hostname>_<name>`, else the sorted object values (except `file`) joined
 * with `_`, then `_<name>`. Kestrel adds the event's trace id after the time (`<time>_<trace id>_…`): events
 * of the same pod in the same second then get different names, and the id survives the shortening of a
 * long name (which keeps the start). Each part is neutralised, so the result is always one plain file name.
 */
export function artifactFileName(name: string, objects: Readonly<Record<string, string>>, now: Date, traceId = ""): string {
  let parts: string[];
  if (objects["namespace"] && objects["pod"]) parts = [objects["namespace"], objects["pod"]];
  else if (objects["hostname"]) parts = [objects["hostname"]];
  else {
    parts = Object.entries(objects)
      .filter(([k, v]) => k !== "file" && v !== "")
      .map(([, v]) => v)
      .sort();
  }
  const trace = traceId === "" ? [] : [traceId];
  const full = [timestamp(now), ...trace, ...parts, name === "" ? "artifact" : name].map(neutralise).join("_");
  return shorten(full);
}

/** Names tried after `name` is taken: `stem-1.ext`, `stem-2.ext`… (one event storing two equal names in a second). */
export function alternativeName(name: string, attempt: number): string {
  if (attempt === 0) return name;
  const dot = name.lastIndexOf(".");
  // An extension is after the last `_`: a dot in a pod name (`web.1_out`) is not one.
  const [stem, ext] = dot > 0 && !name.includes("_", dot) ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  return `${stem}-${attempt}${ext}`;
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

export function isAsyncIterable(data: Artifact["data"]): data is AsyncIterable<Uint8Array> {
  return typeof data !== "string" && !(data instanceof Uint8Array);
}

/** Tells a streamed artifact that nobody will read it, so that its producer (an exec) stops at once. */
export async function discard(data: Artifact["data"]): Promise<void> {
  if (!isAsyncIterable(data)) return;
  try {
    await data[Symbol.asyncIterator]().return?.();
  } catch {
    // the producer's own failure does not matter any more
  }
}

/** The iterator, with each `next` given up when the signal aborts (a stalled producer cannot hold the write). */
export function abortable(iterator: AsyncIterator<Uint8Array>, signal: AbortSignal): AsyncIterableIterator<Uint8Array> {
  const wrapped: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => wrapped,
    next: () => untilAborted(iterator.next(), signal),
    return: async () => {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
  };
  return wrapped;
}

/** The artifact's data as a readable stream: a buffer or string in one chunk, an iterator abortable by `signal`. */
export function artifactSource(
  data: Artifact["data"],
  signal: AbortSignal,
): { source: Readable | AsyncIterableIterator<Uint8Array>; stop(): void } {
  if (!isAsyncIterable(data)) {
    return { source: Readable.from([typeof data === "string" ? Buffer.from(data, "utf8") : data]), stop() {} };
  }
  const iterator = data[Symbol.asyncIterator]();
  return {
    source: abortable(iterator, signal),
    stop() {
      Promise.resolve(iterator.return?.()).catch(() => {});
    },
  };
}
