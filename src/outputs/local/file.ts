// local:file: stores an artifact in a folder of the Kestrel host, named as Talon names it
// (`<time>_<namespace>_<pod>_<name>`). The artifact is streamed to disk, never held whole in memory. Every
// part of the name that comes from an event (namespace, pod, file name) is neutralised: path separators,
// NUL and control characters become `_` and a name made only of dots is replaced, so an event can never
// write outside the destination. The name holds the event's trace id, and it is reserved by creating the
// file exclusively (O_EXCL) before anything is written: two writers, in this process or another, can never
// get the same file, so no artifact is overwritten and each notification points at its own event's file
// (a clash, the same event storing two equal names in a second, takes `-1`, `-2`…). The data is written
// under a temporary name and renamed over the reserved file when complete, so a failed or cut stream
// leaves no partial file.
import { randomBytes } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { errorMessage, KestrelError } from "../../errors.ts";
import { defineOutput } from "../../plugins/define.ts";
import { alternativeName, artifactFileName, artifactSource, discard, logsExample } from "../_artifact.ts";

const params = z.strictObject({
  destination: z
    .string()
    .min(1, "must name a folder")
    .describe("folder the files are written to (it must exist); event values (${…}) are not allowed here"),
});

/** Names tried before giving up: with the trace id in the name, more than a few clashes means something else is wrong. */
const NAME_ATTEMPTS = 100;

/**
 * Creates `name` (else `name-1.ext`, `name-2.ext`…) in `dir` exclusively, empty: whoever creates it owns
 * it. stat-then-write let concurrent writers pick the same name and overwrite each other.
 */
async function reserve(dir: string, name: string): Promise<string> {
  for (let i = 0; i < NAME_ATTEMPTS; i++) {
    const candidate = join(dir, alternativeName(name, i));
    try {
      await (await open(candidate, "wx", 0o600)).close();
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new KestrelError("ERR_OUTPUT", `the file '${name}' and ${NAME_ATTEMPTS - 1} alternatives exist already in '${dir}'`);
}

export default defineOutput({
  category: "local",
  name: "file",
  needs: [],
  notes: {
    behaviour:
      "Streams the artifact into `destination` as `<UTC time>_<trace id>_<namespace>_<pod>_<name>`; event values cannot leave the folder (`../`, `/`, NUL neutralised); the name is reserved by creating the file exclusively (`O_EXCL`, mode 0600), the data streamed to a temporary name and renamed onto it when complete; a taken name gets `-1`, `-2`…",
  },
  description: "Store the artifact in a folder of the Kestrel host",
  params,
  example: logsExample("local:file", { destination: "/var/lib/kestrel/artifacts" }),
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
    const name = artifactFileName(artifact.name, ctx.objects, new Date(), ctx.traceId);
    const partial = join(dir, `.kestrel-${randomBytes(6).toString("hex")}.partial`);
    let handle: Awaited<ReturnType<typeof open>>;
    let path: string;
    try {
      path = await reserve(dir, name);
    } catch (err) {
      await discard(artifact.data);
      if (err instanceof KestrelError) throw err;
      throw new KestrelError("ERR_OUTPUT", `cannot write in the folder '${dir}': ${errorMessage(err)}`, { cause: err });
    }
    try {
      handle = await open(partial, "wx", 0o600);
    } catch (err) {
      await rm(path, { force: true });
      await discard(artifact.data);
      throw new KestrelError("ERR_OUTPUT", `cannot write in the folder '${dir}': ${errorMessage(err)}`, { cause: err });
    }
    const { source, stop } = artifactSource(artifact.data, ctx.signal);
    try {
      await pipeline(source, handle.createWriteStream(), { signal: ctx.signal });
      await rename(partial, path); // over the empty file reserved above: ours alone
    } catch (err) {
      stop();
      await handle.close().catch(() => {});
      await rm(partial, { force: true });
      await rm(path, { force: true });
      if (err instanceof KestrelError) throw err;
      throw new KestrelError("ERR_OUTPUT", `cannot write the file '${name}' in '${dir}': ${errorMessage(err)}`, { cause: err });
    }
    const file = basename(path);
    return {
      summary: `the file '${file}' has been copied to '${path}'`,
      location: pathToFileURL(path).href,
      objects: { file, destination: dir },
    };
  },
});
