// The container image (deploy/image): built without a daemon by the real build script, read back by
// skopeo as both an OCI and a Docker archive, unpacked by umoci and run by runc the way a pod runs it —
// user 65532, read-only root filesystem, a tmpfs on /tmp, Talon's config.yaml and rules.yaml mounted at
// /etc/falco-talon (no -c: the fallback of config/paths.ts) — then an event is posted, its local:command
// action (a Node script: the image has no shell) must run, /healthz and /metrics must answer, and SIGTERM
// must exit 0. A second build must give the same digests. Needs root, runc, umoci and skopeo (.ci/run
// installs them); elsewhere it is skipped, except under CI where that is a failure.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BuiltImage, buildImage, IMAGE_USER, SIZE_BUDGET_BYTES, sameDigests, summary } from "../../deploy/image/build.ts";
import { NODE_VERSION } from "../../deploy/image/stage.ts";
import { falcoEvent } from "../support/events.ts";
import { until } from "../support/wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function missingTools(): string | undefined {
  if (process.getuid?.() !== 0) return "runc needs root";
  for (const tool of ["runc", "umoci", "skopeo", "dpkg-deb", "apt-get", "tar"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed`;
    }
  }
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) return "dist/ is missing (npm run build)";
  return undefined;
}
const missing = missingTools();
if (missing !== undefined && process.env["CI"] !== undefined) throw new Error(`the image test cannot run under CI: ${missing}`);

let work = "";
let image: BuiltImage;
let rootfs = "";
let bundle = "";

before(async () => {
  if (missing !== undefined) return;
  work = mkdtempSync(join(tmpdir(), "kestrel-image-test-"));
  image = await buildImage({ out: join(work, "kestrel.tar"), log: () => {} });
  process.stdout.write(`${summary(image)}\n`);
  const layout = join(work, "layout");
  mkdirSync(layout);
  execFileSync("tar", ["-xf", image.archive, "-C", layout]);
  bundle = join(work, "bundle");
  execFileSync("umoci", ["unpack", "--image", `${layout}:${image.tag}`, bundle], { stdio: ["ignore", "ignore", "pipe"] });
  rootfs = join(bundle, "rootfs");
});

after(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("the container image", { skip: missing }, () => {
  it("is an OCI and a Docker archive, within the size budget, with the entry point, user and contents the issue asks for", () => {
    assert.ok(image.compressedSize <= SIZE_BUDGET_BYTES, `compressed size ${image.compressedSize} > ${SIZE_BUDGET_BYTES}`);
    for (const transport of ["oci-archive", "docker-archive"]) {
      const info = JSON.parse(execFileSync("skopeo", ["inspect", "--config", `${transport}:${image.archive}`]).toString()) as {
        config: { User: string; Entrypoint: string[]; Cmd: string[]; Env: string[] };
        rootfs: { diff_ids: string[] };
      };
      assert.equal(info.config.User, `${IMAGE_USER}:${IMAGE_USER}`, transport);
      assert.deepEqual(info.config.Entrypoint, ["/usr/local/bin/kestrel"], transport);
      assert.deepEqual(info.config.Cmd, ["server"], transport);
      assert.deepEqual(
        info.rootfs.diff_ids,
        image.layers.map((l) => l.diffId),
        transport,
      );
    }
    const nodeVersion = execFileSync("chroot", ["--userspec", `${IMAGE_USER}:${IMAGE_USER}`, rootfs, "/usr/local/bin/node", "--version"])
      .toString()
      .trim();
    assert.equal(nodeVersion, `v${NODE_VERSION}`);
    // Every compiled module loads in the image, with the pruned production dependencies it imports.
    const importAll =
      "import { readdirSync } from 'node:fs'; let n = 0; for (const f of readdirSync('/app/dist', { recursive: true })) if (f.endsWith('.js')) { await import('/app/dist/' + f); n++; } console.log(n);";
    const modules = execFileSync("chroot", [
      "--userspec",
      `${IMAGE_USER}:${IMAGE_USER}`,
      rootfs,
      "/usr/local/bin/node",
      "--input-type=module",
      "-e",
      importAll,
    ])
      .toString()
      .trim();
    assert.ok(Number(modules) > 50, `${modules} modules`);
    // No shell, no package manager, no development files.
    for (const absent of [
      "bin/sh",
      "bin/bash",
      "usr/bin/apt",
      "usr/bin/dpkg",
      "usr/local/bin/npm",
      "app/node_modules/typescript",
      "app/node_modules/@biomejs",
      "app/src",
    ]) {
      assert.ok(!existsSync(join(rootfs, absent)), `/${absent} is in the image`);
    }
    const app = join(rootfs, "app");
    const leftovers = readdirSync(app, { recursive: true })
      .map(String)
      .filter((f) => /\.(map|d\.ts|ts|md)$/.test(f));
    assert.deepEqual(leftovers.slice(0, 5), []);
    assert.ok(existsSync(join(app, "dist/cli/main.js")));
    assert.ok(existsSync(join(rootfs, "etc/ssl/certs/ca-certificates.crt")));
    assert.match(readFileSync(join(rootfs, "etc/passwd"), "utf8"), new RegExp(`:${IMAGE_USER}:${IMAGE_USER}:`));
  });

  it("runs with a read-only root as user 65532 from Talon's mounts: an event's local:command runs, /healthz and /metrics answer, SIGTERM exits 0", async () => {
    const etc = join(work, "falco-talon");
    const out = join(work, "out");
    mkdirSync(etc);
    mkdirSync(out);
    chmodSync(etc, 0o755);
    chmodSync(out, 0o777); // the container's user writes the action's proof here
    // No rules_files: the default /etc/kestrel/rules.yaml is absent, so Talon's /etc/falco-talon/rules.yaml is read.
    writeFileSync(join(etc, "config.yaml"), "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nshutdown_timeout_seconds: 5\n");
    const script =
      "const fs = require('node:fs'); fs.writeFileSync('/out/ran.json', JSON.stringify({ uid: process.getuid(), cwd: process.cwd(), event: JSON.parse(fs.readFileSync(0, 'utf8')) }))";
    writeFileSync(
      join(etc, "rules.yaml"),
      `- rule: Act in the image\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Record\n      actionner: local:command\n      parameters:\n        command: ["/usr/local/bin/node", "-e", ${JSON.stringify(script)}]\n`,
    );
    for (const f of ["config.yaml", "rules.yaml"]) chmodSync(join(etc, f), 0o644);

    const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as RuntimeSpec;
    spec.process.terminal = false;
    spec.root.readonly = true;
    // The host's network namespace: the intake listens on the host's loopback, where the test reaches it.
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "network");
    spec.mounts.push(
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=64m"] },
      { destination: "/etc/falco-talon", type: "bind", source: etc, options: ["rbind", "ro"] },
      { destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] },
    );
    writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));

    const id = `kestrel-image-test-${process.pid}`;
    const container = startContainer(bundle, id);
    try {
      const listening = await container.waitForLine((l) => l.includes('"Kestrel is listening"'), 30_000);
      const record = JSON.parse(listening) as { url: string; files: string[] };
      assert.deepEqual(record.files, ["/etc/falco-talon/rules.yaml"]);
      const url = record.url;
      assert.equal((await fetch(`${url}/healthz`)).status, 200);

      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: falcoEvent({ fields: { "k8s.pod.name": "in-image" } }),
      });
      assert.equal(res.status, 200);
      const proof = join(out, "ran.json");
      await container.waitFor(() => existsSync(proof) && readFileSync(proof, "utf8").endsWith("}"), 15_000, "the local:command action");
      const ran = JSON.parse(readFileSync(proof, "utf8")) as {
        uid: number;
        cwd: string;
        event: { rule: string; output_fields: Record<string, unknown> };
      };
      assert.equal(ran.uid, IMAGE_USER);
      assert.equal(ran.cwd, "/app");
      assert.equal(ran.event.rule, "Terminal shell in container");
      assert.equal(ran.event.output_fields["k8s.pod.name"], "in-image");

      // The program wrote its proof before it exited; the action is counted once the server saw it exit.
      const counted = /^kestrel_actions_total\{rule="Act in the image",action="Record",actionner="local:command",status="success"\} 1$/m;
      let metrics = "";
      const scrape = async (): Promise<boolean> => {
        metrics = await (await fetch(`${url}/metrics`)).text();
        return counted.test(metrics);
      };
      await until(scrape, "the action counted in /metrics", 10_000, { detail: () => metrics });
      assert.match(metrics, counted);

      // Read-only root: the server itself wrote nothing outside /tmp, or it would have failed above.
      execFileSync("runc", ["kill", id, "SIGTERM"]);
      assert.equal(await container.exited(20_000), 0, container.output());
      assert.match(container.output(), /Actions by status:\s+success: 1\b/);
    } finally {
      container.kill();
    }
  });

  it("is reproducible: a second build gives the same layer, config, manifest and archive digests", async () => {
    const again = await buildImage({ out: join(work, "kestrel-again.tar"), log: () => {} });
    assert.ok(sameDigests(image, again), `first:\n${summary(image)}\nsecond:\n${summary(again)}`);
  });

  it("the Dockerfile stages the same file list with the same Node version", () => {
    const dockerfile = readFileSync(join(ROOT, "deploy/image/Dockerfile"), "utf8");
    assert.match(dockerfile, new RegExp(`^ARG NODE_VERSION=${NODE_VERSION.replaceAll(".", "\\.")}$`, "m"));
    assert.match(dockerfile, /^RUN .*node deploy\/image\/stage\.ts \/stage$/m);
    assert.match(dockerfile, /^COPY --from=build \/stage\/ \/$/m);
    assert.match(dockerfile, /^USER 65532:65532$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/local\/bin\/kestrel"\]$/m);
    assert.match(dockerfile, /^CMD \["server"\]$/m);
  });
});

interface RuntimeSpec {
  process: { terminal: boolean };
  root: { path: string; readonly?: boolean };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: { namespaces: { type: string }[] };
}

interface Container {
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void>;
  exited(timeoutMs: number): Promise<number | null>;
  output(): string;
  kill(): void;
}

/** `runc run` in the foreground, its output collected; kill() force-deletes the container. */
function startContainer(bundle: string, id: string): Container {
  const child: ChildProcessWithoutNullStreams = spawn("runc", ["run", "--bundle", bundle, id]);
  const lines: string[] = [];
  let partial = { stdout: "", stderr: "" };
  for (const name of ["stdout", "stderr"] as const) {
    child[name].on("data", (chunk: Buffer) => {
      const parts = (partial[name] + chunk.toString("utf8")).split("\n");
      partial = { ...partial, [name]: parts.pop() ?? "" };
      lines.push(...parts);
    });
  }
  let code: number | null | undefined;
  const closed = new Promise<number | null>((resolve) =>
    child.once("close", (c) => {
      lines.push(partial.stdout, partial.stderr);
      code = c;
      resolve(c);
    }),
  );
  const output = () => lines.join("\n");
  const waitFor = async (check: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    await until(check, what, timeoutMs, {
      intervalMs: 50,
      failIf: () => (code === undefined ? undefined : `the container exited (${code})`),
      detail: output,
    });
  };
  return {
    async waitForLine(match, timeoutMs) {
      await waitFor(() => lines.some(match), timeoutMs, "a log line");
      return lines.find(match)!;
    },
    waitFor,
    async exited(timeoutMs) {
      const timer = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms:\n${output()}`)), timeoutMs).unref(),
      );
      return Promise.race([closed, timer]);
    },
    output,
    kill() {
      if (code === undefined && child.pid !== undefined) child.kill("SIGKILL");
      try {
        execFileSync("runc", ["delete", "--force", id], { stdio: "ignore" });
      } catch {
        // already gone
      }
    },
  };
}
