// S3 and MinIO uploads against the S3 test server: a buffer in one PutObject, a stream in 8 MiB parts,
// a failed or cancelled multipart upload cleaned up, a missing bucket and a denial named.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { type AwsTestServers, rejection, startAwsServers, TEST_REGION } from "../../../test/support/aws.ts";
import { createAwsClients } from "./index.ts";

const MIB = 1024 * 1024;

async function* bytes(total: number, chunk = 64 * 1024, failAt?: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunk) {
    if (failAt !== undefined && sent >= failAt) throw new Error("the capture broke");
    yield Buffer.alloc(Math.min(chunk, total - sent), sent / chunk);
  }
}

describe("S3 and MinIO uploads", () => {
  let servers: AwsTestServers;
  let clients: ReturnType<typeof createAwsClients>;
  let user: { accessKeyId: string };
  const signal = () => AbortSignal.timeout(30_000);

  before(async () => {
    servers = await startAwsServers({ functions: [] });
    const u = servers.account.addUser();
    user = u;
    clients = createAwsClients({
      aws: { access_key: u.accessKeyId, secret_key: u.secretAccessKey, region: TEST_REGION },
      minio: { endpoint: new URL(servers.s3.url).host, access_key: u.accessKeyId, secret_key: u.secretAccessKey, use_ssl: false },
      endpoints: { s3: servers.s3.url },
    });
    await servers.s3.createBucket("evidence");
  });
  after(() => servers.close());

  it("a buffer goes in one PutObject, signed for s3 in the region, with its content type", async () => {
    await clients
      .s3()
      .upload({ bucket: "evidence", key: "logs/a.txt", body: Buffer.from("hello"), contentType: "text/plain", signal: signal() });
    const put = servers.s3.requests.at(-1)!;
    assert.equal(put.method, "PUT");
    assert.match(put.url, /^\/evidence\/logs\/a\.txt\?x-id=PutObject$/);
    assert.match(String(put.headers["authorization"]), new RegExp(`Credential=${user.accessKeyId}/\\d{8}/${TEST_REGION}/s3/aws4_request`));
    assert.deepEqual(await servers.s3.object("evidence", "logs/a.txt"), { body: Buffer.from("hello"), contentType: "text/plain" });
  });

  it("a stream goes in 8 MiB parts (multipart upload) and arrives whole", async () => {
    const before = servers.s3.requests.length;
    await clients.s3().upload({
      bucket: "evidence",
      key: "big.bin",
      body: Readable.from(bytes(20 * MIB)),
      contentType: "application/octet-stream",
      signal: signal(),
    });
    const calls = servers.s3.requests.slice(before).map((r) => `${r.method} ${r.url.replace(/uploadId=[0-9a-f]+/, "uploadId=U")}`);
    assert.deepEqual(calls, [
      "POST /evidence/big.bin?uploads=",
      "PUT /evidence/big.bin?partNumber=1&uploadId=U&x-id=UploadPart",
      "PUT /evidence/big.bin?partNumber=2&uploadId=U&x-id=UploadPart",
      "PUT /evidence/big.bin?partNumber=3&uploadId=U&x-id=UploadPart",
      "POST /evidence/big.bin?uploadId=U",
    ]);
    assert.deepEqual(servers.s3.events.at(-1), { name: "ObjectCreated:Post", key: "big.bin", size: 20 * MIB });
    const expected = await (async () => {
      const { createHash } = await import("node:crypto");
      const h = createHash("sha256");
      for await (const c of bytes(20 * MIB)) h.update(c);
      return h.digest("hex");
    })();
    assert.deepEqual(await servers.s3.digest("evidence", "big.bin"), { sha256: expected, size: 20 * MIB });
  });

  it("a stream that breaks midway fails the upload, which is aborted: no object, no parts left", async () => {
    const e = await rejection(
      clients.s3().upload({
        bucket: "evidence",
        key: "broken.bin",
        body: Readable.from(bytes(30 * MIB, 64 * 1024, 17 * MIB)),
        contentType: "x/y",
        signal: signal(),
      }),
    );
    assert.equal(e.code, "ERR_AWS");
    assert.match(e.message, /cannot upload s3:\/\/evidence\/broken\.bin to AWS S3 \(eu-west-3\): the capture broke/);
    const abort = servers.s3.requests.find((r) => r.method === "DELETE" && r.url.startsWith("/evidence/broken.bin?uploadId="));
    assert.ok(abort !== undefined, "AbortMultipartUpload was sent");
    assert.equal(abort.refused, 204);
    assert.equal(await servers.s3.pendingUploads("evidence"), 0);
    assert.equal(await servers.s3.object("evidence", "broken.bin"), undefined);
  });

  it("a cancelled upload stops at once and still aborts the multipart upload", async () => {
    servers.s3.stall((r) => r.url.startsWith("/evidence/stalled.bin?partNumber=2"));
    const started = Date.now();
    const e = await rejection(
      clients.s3().upload({
        bucket: "evidence",
        key: "stalled.bin",
        body: Readable.from(bytes(30 * MIB)),
        contentType: "x/y",
        signal: AbortSignal.timeout(1500),
      }),
    );
    assert.equal(e.code, "ERR_TIMEOUT");
    assert.ok(Date.now() - started < 5000);
    for (let i = 0; i < 50 && (await servers.s3.pendingUploads("evidence")) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await servers.s3.pendingUploads("evidence"), 0, "the multipart upload was aborted");
    assert.equal(await servers.s3.object("evidence", "stalled.bin"), undefined);
  });

  it("a missing bucket and a denied write are clear, not retryable", async () => {
    const gone = await rejection(
      clients.s3().upload({ bucket: "no-such-bucket", key: "k", body: Buffer.from("x"), contentType: "x/y", signal: signal() }),
    );
    assert.equal(gone.code, "ERR_TARGET_GONE");
    assert.match(gone.message, /the bucket 'no-such-bucket' does not exist \(NoSuchBucket/);
    servers.s3.deny((r) => r.url.startsWith("/evidence/secret/"));
    const denied = await rejection(
      clients.s3().upload({ bucket: "evidence", key: "secret/k", body: Buffer.from("x"), contentType: "x/y", signal: signal() }),
    );
    assert.equal(denied.code, "ERR_FORBIDDEN");
    assert.equal(denied.retryable, false);
    assert.match(
      denied.message,
      /access denied \(AccessDenied: Access Denied\): the identity needs s3:PutObject \(and s3:AbortMultipartUpload\) on arn:aws:s3:::evidence\/secret\/k/,
    );
  });

  it("MinIO: the minio.* endpoint and keys, path-style, without the SDK's optional checksums", async () => {
    await clients
      .minio()
      .upload({ bucket: "evidence", key: "m/x.txt", body: Buffer.from("minio"), contentType: "text/plain", signal: signal() });
    const put = servers.s3.requests.at(-1)!;
    assert.match(put.url, /^\/evidence\/m\/x\.txt\?x-id=PutObject$/);
    assert.equal(put.headers["host"], new URL(servers.s3.url).host);
    assert.equal(put.accessKeyId, user.accessKeyId);
    assert.match(String(put.headers["authorization"]), /\/us-east-1\/s3\/aws4_request/);
    assert.equal(put.headers["x-amz-checksum-crc32"], undefined);
    assert.equal((await servers.s3.object("evidence", "m/x.txt"))?.body.toString(), "minio");
    const refused = createAwsClients({
      aws: {},
      minio: { endpoint: new URL(servers.s3.url).host, access_key: "AKIANOSUCHKEY0000000", secret_key: "x", use_ssl: false },
    });
    const e = await rejection(
      refused.minio().upload({ bucket: "evidence", key: "k", body: Buffer.from("x"), contentType: "x/y", signal: signal() }),
    );
    assert.equal(e.code, "ERR_FORBIDDEN");
    assert.match(e.message, /the credentials were refused \(InvalidAccessKeyId: .*\): check minio\.access_key and minio\.secret_key/);
  });
});
