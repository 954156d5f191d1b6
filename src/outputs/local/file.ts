// local:file: stores an artifact in a folder of the Kestrel host, named as Talon names it
// (`<time>_<namespace>_<pod>_<name>`). The artifact is streamed to disk, never held whole in memory. Every
// part of the name that comes from an event (namespace, pod, file name) is neutralised: path separators,
// NUL and control characters become `_` and a name made only of dots is replaced, so an event can never
// write outside the destination. The file is written under a temporary name and renamed when complete, so
// a failed or cut stream leaves no partial file; an existing file is never overwritten.
import { randomBytes } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { errorMessage, KestrelError } from "../../errors.ts";
import { defineOutput } from "../../plugins/define.ts";
import { artifactFileName, artifactSource, discard } from "../_artifact.ts";

const params = z.strictObject({
  destination: z
    .string()
    .min(1, "must name a folder")
    .describe("folder the files are written to (it must exist); event values (${…}) are not allowed here"),
});

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
    const { source, stop } = artifactSource(artifact.data, ctx.signal);
    let path: string;
    try {
      await pipeline(source, handle.createWriteStream(), { signal: ctx.signal });
      path = await freeName(dir, name);
      await rename(partial, path);
    } catch (err) {
      stop();
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
