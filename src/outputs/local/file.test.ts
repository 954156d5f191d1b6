// local:file: names built like Talon's, never a way out of the destination, streamed writes that leave
// no partial file behind, and a streamed artifact closed when the output cannot take it.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { createClients } from "../../clients/index.ts";
import type { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import type { Artifact } from "../../plugins/types.ts";
import { tracked } from "../__fixtures__/tracked.ts";
import { artifactFileName, neutralise } from "../_artifact.ts";
import localFile from "./file.ts";

const NOW = new Date("2024-12-30T14:37:27.505Z");

function ctx(destination: string, objects: Record<string, string>, signal = new AbortController().signal) {
  return {
    event: {} as FalcoEvent,
    params: { destination },
    objects,
    clients: createClients(),
    log: pino({ level: "silent" }),
    signal,
    traceId: "t",
  };
}

describe("local:file names", () => {
  it("builds Talon's name: time, namespace, pod, artifact name with / as _", () => {
    assert.equal(
      artifactFileName("/var/log/app.log", { namespace: "prod", pod: "web-1", file: "/var/log/app.log" }, NOW),
      "2024-12-30T14-37-27Z_prod_web-1__var_log_app.log",
    );
    assert.equal(artifactFileName("sysdig.scap.gz", { hostname: "node-1" }, NOW), "2024-12-30T14-37-27Z_node-1_sysdig.scap.gz");
    assert.equal(artifactFileName("out", { b: "two", a: "one", file: "x" }, NOW), "2024-12-30T14-37-27Z_one_two_out");
  });

  it("neutralises separators, NUL, control characters and dot-only parts", () => {
    assert.equal(neutralise("../../etc/passwd"), ".._.._etc_passwd");
    assert.equal(neutralise(".."), "__");
    assert.equal(neutralise("a\\b\u0000c\nd"), "a_b_c_d");
    const name = artifactFileName("../../etc/passwd", { namespace: "..", pod: "/etc" }, NOW);
    assert.equal(name, "2024-12-30T14-37-27Z_____etc_.._.._etc_passwd");
    assert.ok(!name.includes("/"));
  });

  it("keeps long names under the file system limit, with their end", () => {
    const name = artifactFileName(`${"x".repeat(400)}.pcap`, { namespace: "ns", pod: "é".repeat(200) }, NOW);
    assert.ok(Buffer.byteLength(name) <= 240, String(Buffer.byteLength(name)));
    assert.ok(name.startsWith("2024-12-30T14-37-27Z_ns_"));
    assert.ok(name.endsWith(".pcap"));
  });

  it("adds the trace id after the time, and keeps it when a long name is shortened", () => {
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert.equal(
      artifactFileName("app.log", { namespace: "prod", pod: "web-1" }, NOW, trace),
      `2024-12-30T14-37-27Z_${trace}_prod_web-1_app.log`,
    );
    assert.equal(artifactFileName("out", { hostname: "node-1" }, NOW, "../x"), "2024-12-30T14-37-27Z_.._x_node-1_out", "neutralised too");
    const long = artifactFileName(`${"x".repeat(400)}.pcap`, { namespace: "ns", pod: "é".repeat(200) }, NOW, trace);
    assert.ok(Buffer.byteLength(long) <= 240);
    assert.ok(long.startsWith(`2024-12-30T14-37-27Z_${trace}_ns_`));
    assert.ok(long.endsWith(".pcap"));
  });

  it("refuses a destination chosen by the event", () => {
    assert.equal(localFile.check!({ destination: "/captures/${K8S_NS_NAME}" }).length, 1);
    assert.deepEqual(localFile.check!({ destination: "/captures" }), []);
  });
});

describe("local:file writes", () => {
  it("keeps an artifact named ../../etc/passwd inside the destination, with mode 0600", async () => {
    const root = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const dest = join(root, "a", "b");
    await import("node:fs/promises").then((fs) => fs.mkdir(dest, { recursive: true }));
    const artifact: Artifact = { name: "../../etc/passwd", data: "root:x:0:0\n" };
    const res = await localFile.write(artifact, ctx(dest, { namespace: "../..", pod: "../etc" }));
    const files = await readdir(dest);
    assert.equal(files.length, 1);
    assert.ok(!files[0]!.startsWith("."));
    assert.deepEqual(await readdir(join(root, "a")), ["b"], "nothing written beside the destination");
    assert.deepEqual(await readdir(root), ["a"]);
    const path = fileURLToPath(res.location);
    assert.equal(path, join(dest, files[0]!));
    assert.match(res.location, /^file:\/\/\//);
    assert.equal(await readFile(path, "utf8"), "root:x:0:0\n");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(res.objects?.["destination"], dest);
    assert.match(res.summary, /has been copied to/);
  });

  it("streams an async iterable and never overwrites an existing file", async () => {
    const dest = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const chunks = Array.from({ length: 50 }, (_, i) => new Uint8Array(1000).fill(i));
    const first = await localFile.write({ name: "cap.pcap", data: tracked(chunks).iterator }, ctx(dest, { namespace: "ns", pod: "p" }));
    const second = await localFile.write({ name: "cap.pcap", data: new Uint8Array([1, 2, 3]) }, ctx(dest, { namespace: "ns", pod: "p" }));
    assert.notEqual(first.location, second.location);
    const a = await readFile(fileURLToPath(first.location));
    assert.equal(a.length, 50_000);
    assert.equal(a[49_999], 49);
    assert.deepEqual([...(await readFile(fileURLToPath(second.location)))], [1, 2, 3]);
    assert.match(fileURLToPath(second.location), /_ns_p_cap(-1)?\.pcap$/);
  });

  it("never gives two concurrent writers the same file, even with the same trace id (exclusive creation)", async () => {
    const dest = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const n = 50;
    // The same trace id, pod, name and second for all: only the exclusive creation of -1, -2… tells them apart.
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        localFile.write({ name: "cap.pcap", data: `artifact ${i}` }, ctx(dest, { namespace: "ns", pod: "p" })),
      ),
    );
    const files = await readdir(dest);
    assert.equal(files.length, n, files.join(" "));
    assert.equal(new Set(results.map((r) => r.location)).size, n);
    for (const [i, r] of results.entries()) {
      assert.equal(await readFile(fileURLToPath(r.location), "utf8"), `artifact ${i}`, "each result points at its own artifact");
      assert.equal(r.objects?.["file"], fileURLToPath(r.location).slice(dest.length + 1));
    }
  });

  it("leaves a file that exists under the name untouched", async () => {
    const dest = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const now = Date.now();
    const { timestamp } = await import("../_artifact.ts");
    // The names of this second and the next ones exist already (the name holds the time of the write).
    const existing = Array.from({ length: 3 }, (_, s) => `${timestamp(new Date(now + s * 1000))}_t_ns_p_cap.pcap`);
    for (const f of existing) await writeFile(join(dest, f), "older");
    const res = await localFile.write({ name: "cap.pcap", data: "newer" }, ctx(dest, { namespace: "ns", pod: "p" }));
    assert.match(fileURLToPath(res.location), /_t_ns_p_cap-1\.pcap$/);
    assert.equal(await readFile(fileURLToPath(res.location), "utf8"), "newer");
    for (const f of existing) assert.equal(await readFile(join(dest, f), "utf8"), "older");
  });

  it("leaves no partial file when the stream fails, and reports the stream's own error", async () => {
    const dest = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const { iterator } = tracked([new Uint8Array(10), new Uint8Array(10)], 1);
    await assert.rejects(localFile.write({ name: "x", data: iterator }, ctx(dest, { namespace: "ns", pod: "p" })), (err: KestrelError) => {
      assert.equal(err.code, "ERR_ACTION");
      return true;
    });
    assert.deepEqual(await readdir(dest), []);
  });

  it("fails on a missing folder and closes the stream so that its producer stops", async () => {
    const root = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const { iterator, state } = tracked([new Uint8Array(10)]);
    await assert.rejects(localFile.write({ name: "x", data: iterator }, ctx(join(root, "missing"), {})), (err: KestrelError) => {
      assert.equal(err.code, "ERR_OUTPUT");
      assert.match(err.message, /folder '.*missing' does not exist/);
      return true;
    });
    assert.equal(state.closed, true);
    await writeFile(join(root, "plain"), "");
    await assert.rejects(localFile.write({ name: "x", data: "y" }, ctx(join(root, "plain"), {})), /does not exist/);
  });

  it("stops writing when the action's deadline passes", async () => {
    const dest = await mkdtemp(join(tmpdir(), "kestrel-file-"));
    const ac = new AbortController();
    let closed = false;
    const never: AsyncIterableIterator<Uint8Array> = {
      [Symbol.asyncIterator]: () => never,
      next: () => {
        ac.abort();
        return new Promise(() => {});
      },
      async return() {
        closed = true;
        return { value: undefined, done: true };
      },
    };
    await assert.rejects(localFile.write({ name: "x", data: never }, ctx(dest, { namespace: "n", pod: "p" }, ac.signal)), /abort/i);
    assert.deepEqual(await readdir(dest), []);
    assert.equal(closed, true);
  });
});
