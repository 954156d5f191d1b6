// gcp:gcs: bucket and prefix cannot come from events and must be valid; object names are the prefix plus
// Talon's name with every event value neutralised, so no event can put an object outside the prefix;
// streamed artifacts are closed when they cannot be stored; the result says where the artifact went.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { type FakeGcp, startFakeGcp } from "../../../test/support/gcp.ts";
import { createGcpClient } from "../../clients/gcp/index.ts";
import { type Clients, createClients } from "../../clients/index.ts";
import type { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import type { Artifact } from "../../plugins/types.ts";
import { tracked } from "../__fixtures__/tracked.ts";
import { timestamp } from "../_artifact.ts";
import gcs, { normalisePrefix } from "./gcs.ts";

function ctx(clients: Clients, bucket: string, prefix: string, objects: Record<string, string>, signal = new AbortController().signal) {
  return { event: {} as FalcoEvent, params: { bucket, prefix }, objects, clients, log: pino({ level: "silent" }), signal, traceId: "t" };
}

describe("gcp:gcs parameters", () => {
  it("refuses a bucket or a prefix chosen by the event", () => {
    assert.match(gcs.check!({ bucket: "b-${K8S_NS_NAME}", prefix: "" })[0]!, /the bucket 'b-\$\{K8S_NS_NAME\}' cannot use variables/);
    assert.match(
      gcs.check!({ bucket: "artifacts", prefix: "falco/${K8S_POD_NAME}" })[0]!,
      /the prefix 'falco\/\$\{K8S_POD_NAME\}' cannot use variables/,
    );
    assert.deepEqual(gcs.check!({ bucket: "falco-artifacts", prefix: "kestrel/logs" }), []);
    assert.deepEqual(gcs.check!({ bucket: "my.bucket_1", prefix: "" }), []);
  });

  it("refuses invalid bucket names and prefixes with dot segments or control characters", () => {
    for (const bucket of ["Upper", "ab", "-start", "end-", "a/b", "a..b", "x".repeat(223)]) {
      assert.match(gcs.check!({ bucket, prefix: "" }).join(), /is not a Cloud Storage bucket name/, bucket);
    }
    assert.match(gcs.check!({ bucket: "ok-bucket", prefix: "a/../b" }).join(), /cannot have '\.' or '\.\.' segments/);
    assert.match(gcs.check!({ bucket: "ok-bucket", prefix: "./a" }).join(), /cannot have/);
    assert.match(gcs.check!({ bucket: "ok-bucket", prefix: "a\nb" }).join(), /control characters/);
    assert.match(gcs.check!({ bucket: "ok-bucket", prefix: "p".repeat(513) }).join(), /longer than 512 bytes/);
  });

  it("normalises the prefix to `a/b/` (Talon turned an empty prefix into a leading '/')", () => {
    assert.equal(normalisePrefix(""), "");
    assert.equal(normalisePrefix("/"), "");
    assert.equal(normalisePrefix("files"), "files/");
    assert.equal(normalisePrefix("/a//b/"), "a/b/");
  });
});

describe("gcp:gcs writes", () => {
  let fake: FakeGcp;
  let clients: Clients;

  before(async () => {
    fake = await startFakeGcp();
    const dir = mkdtempSync(join(tmpdir(), "kestrel-gcs-"));
    const gcp = createGcpClient(
      { credentials_path: await fake.writeKeyFile(dir), storage_endpoint: fake.storageUrl, functions_endpoint: fake.functionsApiUrl },
      { env: {}, uploadChunkBytes: 256 * 1024 },
    );
    clients = createClients({ gcp });
    fake.addBucket("artifacts");
  });
  after(() => fake?.close());

  it("stores the artifact as <prefix>/<time>_<namespace>_<pod>_<name> and says where", async () => {
    const artifact: Artifact = { name: "/var/log/app.log", contentType: "text/plain", data: "line 1\nline 2\n" };
    const res = await gcs.write(
      artifact,
      ctx(clients, "artifacts", "/falco/logs/", { namespace: "shop", pod: "web-1", file: "/var/log/app.log" }),
    );
    const key = res.objects!["key"]!;
    assert.match(key, /^falco\/logs\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_t_shop_web-1__var_log_app\.log$/);
    assert.equal(res.location, `gs://artifacts/${key}`);
    assert.equal(res.summary, `the file '/var/log/app.log' has been uploaded as the object '${key}' to the bucket 'artifacts'`);
    assert.deepEqual(res.objects, { file: key.slice("falco/logs/".length), bucket: "artifacts", prefix: "falco/logs/", key });
    const stored = fake.object("artifacts", key)!;
    assert.equal(stored.data.toString(), "line 1\nline 2\n");
    assert.equal(stored.contentType, "text/plain");
  });

  it("keeps event values that try to leave the prefix inside it, as one plain name", async () => {
    const hostile: Artifact = { name: "../../../etc/passwd\u0000.txt", data: "x" };
    const res = await gcs.write(hostile, ctx(clients, "artifacts", "safe", { namespace: "../..", pod: "/root/.ssh\nx" }));
    const key = res.objects!["key"]!;
    assert.ok(key.startsWith("safe/"), key);
    const rest = key.slice("safe/".length);
    assert.ok(!rest.includes("/") && !rest.includes("\u0000") && !rest.includes("\n"), rest);
    assert.match(rest, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_t_\.\._\.\.__root_\.ssh_x_\.\._\.\._\.\._etc_passwd_\.txt$/);
    assert.deepEqual(
      fake
        .objects("artifacts")
        .map((o) => o.name)
        .filter((n) => !n.startsWith("safe/") && !n.startsWith("falco/")),
      [],
      "nothing outside the prefixes",
    );
  });

  it("names an artifact whose name is taken with a -1 suffix instead of overwriting", async () => {
    // The objects of this second and the next ones exist already (the name holds the time of the write).
    const now = Date.now();
    for (let s = 0; s < 5; s++) fake.putObject("artifacts", `dup/${timestamp(new Date(now + s * 1000))}_t_node-1_sysdig.scap.gz`, "older");
    const res = await gcs.write(
      { name: "sysdig.scap.gz", data: new Uint8Array([2]) },
      ctx(clients, "artifacts", "dup", { hostname: "node-1" }),
    );
    const key = res.objects!["key"]!;
    assert.match(key, /^dup\/\d{4}-[^/]*_node-1_sysdig\.scap-1\.gz$/);
    assert.deepEqual([...fake.object("artifacts", key)!.data], [2]);
    assert.equal(fake.object("artifacts", key.replace("-1.gz", ".gz"))!.data.toString(), "older", "the existing object is untouched");
  });

  it("streams an async iterable and closes it when the bucket does not exist", async () => {
    const ok = tracked(Array.from({ length: 10 }, (_, i) => new Uint8Array(100_000).fill(i)));
    const res = await gcs.write({ name: "cap.pcap", data: ok.iterator }, ctx(clients, "artifacts", "", { namespace: "ns", pod: "p" }));
    assert.equal(fake.object("artifacts", res.objects!["key"]!)!.data.length, 1_000_000);
    assert.equal(fake.object("artifacts", res.objects!["key"]!)!.uploadType, "resumable");
    assert.match(res.objects!["key"]!, /^\d{4}-[^/]*_ns_p_cap\.pcap$/, "no prefix, no leading '/'");

    const lost = tracked([new Uint8Array(10), new Uint8Array(10)]);
    await assert.rejects(
      gcs.write({ name: "cap.pcap", data: lost.iterator }, ctx(clients, "nope", "", { namespace: "ns", pod: "p" })),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TARGET_GONE");
        assert.match(err.message, /the bucket 'nope' does not exist/);
        return true;
      },
    );
    assert.equal(lost.state.closed, true, "the producer was told to stop");
  });

  it("fails clearly without a Google Cloud client, closing the artifact", async () => {
    const orphan = tracked([new Uint8Array(1)]);
    await assert.rejects(
      gcs.write({ name: "x", data: orphan.iterator }, ctx(createClients(), "artifacts", "", {})),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_CLIENT_MISSING");
        return true;
      },
    );
    assert.equal(orphan.state.closed, true);
  });
});
