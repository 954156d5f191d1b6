// aws:s3 and minio:s3: the object key is the rule's prefix plus Talon's name, and no event value (namespace,
// pod, file name: `../`, absolute paths, NUL, backslashes, dots) can leave the prefix; bucket, prefix and
// region cannot come from an event; artifacts are written through the real SDK into s3rver, a streamed one
// is closed when the upload fails, and the location is s3://bucket/key.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import pino from "pino";
import { type AwsTestServers, startAwsServers, TEST_REGION } from "../../test/support/aws.ts";
import { createAwsClients } from "../clients/aws/index.ts";
import { awsOf, createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import type { Artifact, ArtifactWrite } from "../plugins/types.ts";
import { artifactFileName, timestamp } from "./_artifact.ts";
import { locationProblems, objectKey } from "./_s3.ts";
import awsS3 from "./aws/s3.ts";
import minioS3 from "./minio/s3.ts";

const NOW = new Date("2024-12-30T14:37:27.505Z");

/** The key's segments are plain names: none empty, `.` or `..`; no control character or backslash. */
function assertContained(key: string, prefix: string): void {
  assert.ok(prefix === "" ? !key.includes("/") : key.startsWith(`${prefix}/`), `${JSON.stringify(key)} is not under '${prefix}'`);
  const name = prefix === "" ? key : key.slice(prefix.length + 1);
  assert.ok(!name.includes("/"), `${JSON.stringify(key)} adds a folder`);
  assert.ok(!/^\.+$/.test(name), `${JSON.stringify(key)} ends in dots`);
  assert.ok(!/[\u0000-\u001f\u007f]/.test(key), `${JSON.stringify(key)} holds a control character`);
}

describe("S3 object keys", () => {
  it("follows Talon: <prefix>/<time>_<namespace>_<pod>_<name>, the prefix's slashes normalised", () => {
    const name = artifactFileName("app.log", { namespace: "prod", pod: "web-1" }, NOW);
    assert.equal(name, "2024-12-30T14-37-27Z_prod_web-1_app.log");
    assert.equal(objectKey("/logs/", name), `logs/${name}`);
    assert.equal(objectKey("falco//artifacts", name), `falco/artifacts/${name}`);
    assert.equal(objectKey("", name), name, "no leading slash (Talon's key started with '/')");
  });

  it("neutralises event values: no '..', no absolute path, no NUL can leave the prefix", () => {
    const hostile = [
      { namespace: "../../etc", pod: "passwd" },
      { namespace: "..", pod: ".." },
      { namespace: "/abs", pod: "/root/.ssh/id_rsa" },
      { namespace: "a\u0000b", pod: "c\nd" },
      { namespace: "ns", pod: "..\\..\\windows" },
    ];
    for (const objects of hostile) {
      for (const file of ["../../../etc/shadow", "/etc/passwd", "..", ".", "a\u0000.log", ""]) {
        const key = objectKey("evidence", artifactFileName(file, objects, NOW));
        assertContained(key, "evidence");
      }
    }
    const key = objectKey("evidence", artifactFileName("../x", { namespace: "..", pod: "/p" }, NOW));
    assert.equal(key, "evidence/2024-12-30T14-37-27Z_____p_.._x");
  });

  it("holds for any event values (property)", () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom("/", "\\", ".", "\u0000", "\n", "..", "../"),
        fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      ),
      maxLength: 40,
    });
    fc.assert(
      fc.property(text, text, text, fc.constantFrom("", "logs", "/a/b/", "x//y"), (namespace, pod, file, prefix) => {
        const key = objectKey(prefix, artifactFileName(file, { namespace, pod }, NOW));
        assertContained(
          key,
          prefix
            .split("/")
            .filter((s) => s !== "")
            .join("/"),
        );
        assert.ok(!key.split("/").some((s) => s === ".." || s === "." || s === ""), key);
        assert.ok(Buffer.byteLength(key) <= 1024, "within S3's key length");
      }),
      { numRuns: 500 },
    );
  });

  it("refuses an event-chosen bucket, prefix or region, and prefixes with '..', '.' or control characters", () => {
    assert.deepEqual(locationProblems("evidence", "logs/falco"), []);
    assert.match(locationProblems("${K8S_NS_NAME}", "")[0]!, /the bucket '\$\{K8S_NS_NAME\}' cannot use variables/);
    assert.match(locationProblems("evidence", "logs/${K8S_POD_NAME}")[0]!, /the prefix .* cannot use variables/);
    assert.match(locationProblems("evidence", "logs/../other")[0]!, /holds a '\.' or '\.\.' segment/);
    assert.match(locationProblems("evidence", "./logs")[0]!, /holds a '\.' or '\.\.' segment/);
    assert.match(locationProblems("evidence", "a\u0000b")[0]!, /control characters or a backslash/);
    assert.match(locationProblems("evidence", "a\\b")[0]!, /control characters or a backslash/);
    assert.match(locationProblems("a/b", "")[0]!, /'a\/b' is not a bucket name/);
    assert.throws(() => objectKey("../up", "x"), KestrelError);
    assert.throws(() => objectKey("ok", "a/b"), /cannot be an object name/);
    assert.throws(() => objectKey("ok", ".."), /cannot be an object name/);
    const regionProblems = awsS3.check!({ bucket: "evidence", prefix: "", region: "${AWS_REGION}" });
    assert.match(regionProblems[0]!, /the region .* cannot use variables/);
    assert.match(awsS3.check!({ bucket: "evidence", prefix: "", region: "evil.example.com#" })[0]!, /is not an AWS region/);
    assert.deepEqual(awsS3.check!({ bucket: "evidence", prefix: "", region: "us-gov-west-1" }), []);
    assert.deepEqual(minioS3.check!({ bucket: "evidence", prefix: "/files" }), []);
  });
});

describe("aws:s3 and minio:s3 outputs", () => {
  let servers: AwsTestServers;
  let clients: ReturnType<typeof createClients>;

  const ctx = <P>(params: P, objects: Record<string, string>, signal = AbortSignal.timeout(30_000), traceId = "t"): ArtifactWrite =>
    ({ event: {} as FalcoEvent, params, objects, clients, log: pino({ level: "silent" }), signal, traceId }) as unknown as ArtifactWrite;

  before(async () => {
    servers = await startAwsServers({ functions: [] });
    const user = servers.account.addUser();
    clients = createClients({
      aws: createAwsClients({
        aws: { access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION },
        minio: { endpoint: new URL(servers.s3.url).host, access_key: user.accessKeyId, secret_key: user.secretAccessKey, use_ssl: false },
        endpoints: { s3: servers.s3.url },
      }),
    });
    await servers.s3.createBucket("evidence");
  });
  after(() => servers.close());

  it("aws:s3 uploads under the prefix, reports s3://bucket/key and Talon's objects", async () => {
    const artifact: Artifact = { name: "../../etc/passwd", contentType: "text/plain", data: "root:x:0:0" };
    const res = await awsS3.write(
      artifact,
      ctx({ bucket: "evidence", prefix: "/files/", region: TEST_REGION }, { namespace: "..", pod: "/web-1" }),
    );
    const key = res.objects!["key"]!;
    assertContained(key, "files");
    assert.match(key, /^files\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_t_____web-1_\.\._\.\._etc_passwd$/);
    assert.equal(res.location, `s3://evidence/${key}`);
    assert.equal(res.summary, `the file '${key.slice(6)}' has been uploaded as the key '${key}' to the bucket 'evidence'`);
    assert.deepEqual(res.objects, { file: key.slice(6), bucket: "evidence", prefix: "/files/", key, region: TEST_REGION });
    assert.deepEqual(await servers.s3.object("evidence", key), { body: Buffer.from("root:x:0:0"), contentType: "text/plain" });
    assert.match(String(servers.s3.requests.at(-1)!.headers["authorization"]), new RegExp(`/${TEST_REGION}/s3/aws4_request`));
  });

  it("minio:s3 uploads a streamed artifact; without a content type it is application/octet-stream", async () => {
    async function* chunks() {
      yield Buffer.from("line 1\n");
      yield Buffer.from("line 2\n");
    }
    const res = await minioS3.write({ name: "app.log", data: chunks() }, ctx({ bucket: "evidence", prefix: "" }, { hostname: "node-1" }));
    assert.match(res.location, /^s3:\/\/evidence\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_t_node-1_app\.log$/);
    const stored = await servers.s3.object("evidence", res.objects!["key"]!);
    assert.deepEqual(stored, { body: Buffer.from("line 1\nline 2\n"), contentType: "application/octet-stream" });
  });

  it("a failed upload is a failure, and the streamed producer is closed", async () => {
    let closed = false;
    const data: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]() {
        let n = 0;
        return {
          next: async () => (n++ < 1000 ? { value: Buffer.alloc(64 * 1024), done: false } : { value: undefined, done: true }),
          return: async () => {
            closed = true;
            return { value: undefined, done: true };
          },
        };
      },
    };
    await assert.rejects(
      awsS3.write({ name: "cap.pcap", data }, ctx({ bucket: "missing-bucket", prefix: "" }, {})),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TARGET_GONE");
        assert.match(err.message, /the bucket 'missing-bucket' does not exist/);
        return true;
      },
    );
    assert.equal(closed, true);
  });

  it("names each event's artifact with its trace id: concurrent events of one pod never share a key", async () => {
    const writes = Array.from({ length: 30 }, (_, i) =>
      awsS3.write(
        { name: "app.log", data: `event ${i}` },
        ctx({ bucket: "evidence", prefix: "same", region: TEST_REGION }, { namespace: "prod", pod: "web-1" }, undefined, `trace${i}`),
      ),
    );
    const results = await Promise.all(writes);
    const keys = results.map((r) => r.objects!["key"]!);
    assert.equal(new Set(keys).size, 30);
    for (const [i, key] of keys.entries()) {
      assert.match(key, new RegExp(`^same/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ_trace${i}_prod_web-1_app\\.log$`));
      assert.equal(
        (await servers.s3.object("evidence", key))!.body.toString(),
        `event ${i}`,
        "each notification's key holds its own event's artifact",
      );
    }
  });

  it("never replaces an object: the write is conditional, a taken key gets -1 (in memory) or fails (a stream)", async () => {
    const store = awsOf(clients).s3(TEST_REGION);
    // The objects of this second and the next ones exist already (the name holds the time of the write).
    const now = Date.now();
    const taken = Array.from({ length: 5 }, (_, s) => `dup/${timestamp(new Date(now + s * 1000))}_t_node-1_sysdig.scap.gz`);
    for (const key of taken)
      await store.upload({ bucket: "evidence", key, body: Buffer.from("older"), contentType: "x/y", signal: AbortSignal.timeout(10_000) });
    const c = ctx({ bucket: "evidence", prefix: "dup", region: TEST_REGION }, { hostname: "node-1" });
    const res = await awsS3.write({ name: "sysdig.scap.gz", data: "newer" }, c);
    const key = res.objects!["key"]!;
    assert.match(key, /^dup\/[^/]*_t_node-1_sysdig\.scap-1\.gz$/);
    assert.equal(res.location, `s3://evidence/${key}`);
    assert.equal((await servers.s3.object("evidence", key))!.body.toString(), "newer");
    const refused = servers.s3.requests.filter((r) => r.method === "PUT" && r.refused === 412);
    assert.ok(refused.length >= 1 && refused.every((r) => r.headers["if-none-match"] === "*"));
    // A stream is read once: its upload to a taken key fails, nothing is replaced.
    async function* stream() {
      yield Buffer.from("streamed");
    }
    await assert.rejects(
      awsS3.write({ name: "sysdig.scap.gz", data: stream() }, c),
      /exists already in the bucket 'evidence': it is not overwritten/,
    );
    for (const k of taken)
      assert.equal((await servers.s3.object("evidence", k))!.body.toString(), "older", "the existing objects are untouched");
  });

  it("refuses to replace an object with a multipart upload (If-None-Match on CompleteMultipartUpload)", async () => {
    const store = awsOf(clients).s3(TEST_REGION);
    const signal = AbortSignal.timeout(60_000);
    assert.equal(
      await store.upload({ bucket: "evidence", key: "mp/big.bin", body: Buffer.from("original"), contentType: "x/y", signal }),
      "stored",
    );
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, i);
      })(),
    );
    assert.equal(await store.upload({ bucket: "evidence", key: "mp/big.bin", body: big, contentType: "x/y", signal }), "exists");
    assert.ok(
      servers.s3.requests.some((r) => r.method === "POST" && r.url.includes("uploadId=") && r.refused === 412),
      "refused at completion",
    );
    assert.equal((await servers.s3.object("evidence", "mp/big.bin"))!.body.toString(), "original");
    assert.equal(await servers.s3.pendingUploads("evidence"), 0, "the refused upload's parts are cleaned up");
    // Two writers of one key at the same time: exactly one stores it.
    const both = await Promise.all(
      [1, 2].map((n) =>
        store.upload({ bucket: "evidence", key: "mp/race.txt", body: Buffer.from(`writer ${n}`), contentType: "x/y", signal }),
      ),
    );
    assert.deepEqual(both.toSorted(), ["exists", "stored"]);
  });

  it("an invalid location (only reachable by bypassing rules check) fails before any request", async () => {
    const before = servers.s3.requests.length;
    let closed = false;
    const data: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ value: Buffer.from("x"), done: false }),
        return: async () => {
          closed = true;
          return { value: undefined, done: true };
        },
      }),
    };
    await assert.rejects(
      awsS3.write({ name: "x", data }, ctx({ bucket: "evidence", prefix: "../other" }, {})),
      /holds a '\.' or '\.\.' segment/,
    );
    assert.equal(closed, true);
    assert.equal(servers.s3.requests.length, before);
  });
});
