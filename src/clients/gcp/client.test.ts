// The Google Cloud client against the test servers: the key's token_uri is honoured and its JWT signature
// checked by the token server; uploads (multipart and resumable), function lookups and calls go through
// the real SDK clients; failures name the bucket, the function, the permission or the credentials.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGcp, startFakeGcp } from "../../../test/support/gcp.ts";
import { KestrelError } from "../../errors.ts";
import { createGcpClient } from "./index.ts";
import type { GcpClient } from "./types.ts";

const never = new AbortController().signal;

async function* chunks(count: number, size: number, seed = 0): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill((i + seed) % 251);
}

describe("GCP client against the test servers", () => {
  let fake: FakeGcp;
  let gcp: GcpClient;
  let dir: string;
  let keyPath: string;
  const settings = () => ({ credentials_path: keyPath, storage_endpoint: fake.storageUrl, functions_endpoint: fake.functionsApiUrl });

  before(async () => {
    fake = await startFakeGcp();
    dir = mkdtempSync(join(tmpdir(), "kestrel-gcp-"));
    keyPath = await fake.writeKeyFile(dir);
    gcp = createGcpClient(settings(), { env: {}, uploadChunkBytes: 256 * 1024 });
    fake.addBucket("artifacts");
  });
  after(() => fake?.close());

  it("gets tokens from the key's token_uri with a signed JWT-bearer assertion", async () => {
    const before = fake.tokenGrants.length;
    const stored = await gcp.upload({ bucket: "artifacts", names: ["t/one.txt"], data: Buffer.from("hello"), signal: never });
    assert.equal(stored.uri, "gs://artifacts/t/one.txt");
    const grants = fake.tokenGrants.slice(before);
    assert.ok(grants.length >= 1);
    assert.equal(grants[0]!.kind, "access");
    assert.equal(grants[0]!.claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    assert.equal(gcp.credentials, `gcp.credentials_path "${keyPath}"`);
  });

  it("uploads in-memory data in one multipart request with a precondition, and never overwrites", async () => {
    const upload = (text: string) =>
      gcp.upload({
        bucket: "artifacts",
        names: ["m/a.log", "m/a-1.log"],
        contentType: "text/plain",
        data: Buffer.from(text),
        signal: never,
      });
    const first = await upload("line 1\n");
    const second = await upload("line 2\n");
    assert.equal(first.name, "m/a.log");
    assert.equal(second.name, "m/a-1.log");
    assert.equal(fake.object("artifacts", "m/a.log")!.data.toString(), "line 1\n");
    assert.equal(fake.object("artifacts", "m/a-1.log")!.data.toString(), "line 2\n");
    assert.equal(fake.object("artifacts", "m/a.log")!.uploadType, "multipart");
    assert.equal(fake.object("artifacts", "m/a.log")!.contentType, "text/plain");
    const posts = fake.requests.filter((r) => r.api === "storage" && r.method === "POST" && r.query.get("name")?.startsWith("m/a"));
    assert.deepEqual(
      posts.map((r) => [r.query.get("uploadType"), r.query.get("ifGenerationMatch"), r.status]),
      [
        ["multipart", "0", 200],
        ["multipart", "0", 412],
        ["multipart", "0", 200],
      ],
    );
    assert.ok(posts.every((r) => /^Bearer ya29\./.test(String(r.headers.authorization))));
    assert.deepEqual(JSON.parse(posts[0]!.body), { contentType: "text/plain" }, "the metadata part of the multipart body");
    assert.match(String(posts[0]!.headers["content-type"]), /^multipart\/related; boundary=/);
    await assert.rejects(
      gcp.upload({ bucket: "artifacts", names: ["m/a.log"], data: Buffer.from("x"), signal: never }),
      /the objects 'm\/a\.log' all exist/,
    );
  });

  it("streams an async iterable in resumable chunks of the configured size", async () => {
    const stored = await gcp.upload({
      bucket: "artifacts",
      names: ["r/cap.pcap"],
      contentType: "application/vnd.tcpdump.pcap",
      data: chunks(20, 50_000),
      signal: never,
    });
    assert.equal(stored.size, 1_000_000);
    const o = fake.object("artifacts", "r/cap.pcap")!;
    assert.equal(o.uploadType, "resumable");
    assert.equal(o.data.length, 1_000_000);
    assert.equal(o.data[999_999], 19);
    const session = [...fake.sessions.values()].find((s) => s.name === "r/cap.pcap")!;
    assert.deepEqual(session.ranges, ["bytes 0-262143/*", "bytes 262144-524287/*", "bytes 524288-786431/*", "bytes 786432-999999/1000000"]);
    const init = fake.requests.find(
      (r) =>
        r.api === "storage" && r.query.get("uploadType") === "resumable" && r.method === "POST" && r.query.get("name") === "r/cap.pcap",
    )!;
    assert.equal(init.query.get("ifGenerationMatch"), "0");
    assert.match(String(init.headers.authorization), /^Bearer ya29\./);
    assert.equal(init.headers["x-upload-content-type"], "application/vnd.tcpdump.pcap");
  });

  it("fails on a missing or forbidden bucket, naming the bucket or the permission", async () => {
    fake.addBucket("locked", { denied: true });
    await assert.rejects(gcp.upload({ bucket: "nope", names: ["x"], data: Buffer.from("x"), signal: never }), (err: KestrelError) => {
      assert.equal(err.code, "ERR_TARGET_GONE");
      assert.match(err.message, /cannot upload the object 'x' to the bucket 'nope': the bucket 'nope' does not exist/);
      return true;
    });
    await assert.rejects(gcp.upload({ bucket: "locked", names: ["x"], data: chunks(1, 10), signal: never }), (err: KestrelError) => {
      assert.equal(err.code, "ERR_FORBIDDEN");
      assert.match(err.message, /needs storage\.objects\.create on the bucket 'locked'/);
      return true;
    });
  });

  it("detects a stored object that differs from what was sent (CRC32C)", async () => {
    fake.corruptNextObject();
    await assert.rejects(
      gcp.upload({ bucket: "artifacts", names: ["bad/one"], data: chunks(3, 100_000), signal: never }),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_OUTPUT");
        assert.match(err.message, /cannot upload the object 'bad\/one' to the bucket 'artifacts'/);
        return true;
      },
    );
    assert.equal(fake.object("artifacts", "bad/one"), undefined, "the corrupt object was deleted");
  });

  it("cancels the session when the data source fails midway, and reports the source's error", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(300_000);
      throw new KestrelError("ERR_ACTION", "the exec exited with code 1");
    }
    await assert.rejects(
      gcp.upload({ bucket: "artifacts", names: ["cut/x"], data: failing(), signal: never }),
      /the exec exited with code 1/,
    );
    const session = [...fake.sessions.values()].find((s) => s.name === "cut/x")!;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(session.state, "cancelled");
    assert.equal(fake.object("artifacts", "cut/x"), undefined);
  });

  it("stops at the signal when the storage server stalls", async () => {
    fake.script("storage", { stall: true, match: (r) => r.method === "PUT" });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new DOMException("timed out", "TimeoutError")), 300);
    const started = Date.now();
    await assert.rejects(
      gcp.upload({ bucket: "artifacts", names: ["stall/x"], data: chunks(2, 300_000), signal: ctl.signal }),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TIMEOUT");
        return true;
      },
    );
    assert.ok(Date.now() - started < 3000);
  });

  it("finds a function's URL (2nd gen serviceConfig.uri, 1st gen url) and calls it with an ID token for that URL", async () => {
    const gen2 = fake.addFunction("europe-west1", "quarantine");
    const gen1 = fake.addFunction("us-central1", "legacy", { generation: 1 });
    assert.equal(await gcp.functionUrl({ name: "quarantine", location: "europe-west1", signal: never }), gen2.url);
    assert.equal(await gcp.functionUrl({ name: "legacy", location: "us-central1", signal: never }), gen1.url);
    const lookup = fake.requests.filter((r) => r.api === "functions").at(-1)!;
    assert.equal(lookup.path, `/v2/projects/${fake.projectId}/locations/us-central1/functions/legacy`);
    assert.match(String(lookup.headers.authorization), /^Bearer ya29\./);

    const answer = await gcp.invokeFunction({
      name: "quarantine",
      location: "europe-west1",
      url: gen2.url,
      body: '{"rule":"x"}',
      timeoutMs: 5000,
      signal: never,
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '{"received":true}');
    const call = fake.functionCalls.at(-1)!;
    assert.equal(call.method, "POST");
    assert.equal(call.body, '{"rule":"x"}');
    assert.equal(call.headers["content-type"], "application/json");
    assert.equal(call.claims?.["aud"], gen2.url, "an ID token whose audience is the function URL");
    const idGrant = fake.tokenGrants.filter((g) => g.kind === "id").at(-1)!;
    assert.equal(idGrant.claims["target_audience"], gen2.url);
  });

  it("maps a missing or forbidden function, retries a 503, and refuses names that are not names", async () => {
    await assert.rejects(gcp.functionUrl({ name: "ghost", location: "us-central1", signal: never }), (err: KestrelError) => {
      assert.equal(err.code, "ERR_TARGET_GONE");
      assert.match(err.message, /the function 'ghost' does not exist in the location 'us-central1'/);
      return true;
    });
    const secret = fake.addFunction("us-central1", "secret");
    secret.denyGet = true;
    await assert.rejects(gcp.functionUrl({ name: "secret", location: "us-central1", signal: never }), (err: KestrelError) => {
      assert.equal(err.code, "ERR_FORBIDDEN");
      assert.match(
        err.message,
        /needs cloudfunctions\.functions\.get on the function 'projects\/kestrel-test\/locations\/us-central1\/functions\/secret'/,
      );
      return true;
    });
    const flaky = fake.addFunction("us-central1", "flaky");
    fake.script("functions", { status: 503 });
    assert.equal(await gcp.functionUrl({ name: "flaky", location: "us-central1", signal: never }), flaky.url);
    assert.deepEqual(
      fake.requests.filter((r) => r.api === "functions" && r.path.endsWith("/flaky")).map((r) => r.status),
      [503, 200],
    );
    await assert.rejects(gcp.functionUrl({ name: "../../x", location: "us-central1", signal: never }), /is not a Cloud Functions name/);
    await assert.rejects(gcp.functionUrl({ name: "ok", location: "us/central", signal: never }), /is not a Google Cloud location/);
  });

  it("fails on a non-2xx answer with the function's answer, on a refused invoker, and at the call's own timeout", async () => {
    const fn = fake.addFunction("us-central1", "answers");
    fn.respond = () => ({ status: 500, body: "database unavailable", headers: { "content-type": "text/plain" } });
    await assert.rejects(
      gcp.invokeFunction({ name: "answers", location: "us-central1", url: fn.url, body: "{}", timeoutMs: 5000, signal: never }),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_ACTION");
        assert.equal(err.message, "the function 'answers' in the location 'us-central1' answered HTTP 500: database unavailable");
        return true;
      },
    );
    fn.respond = undefined;
    fn.invokers = ["someone-else@p.iam.gserviceaccount.com"];
    await assert.rejects(
      gcp.invokeFunction({ name: "answers", location: "us-central1", url: fn.url, body: "{}", timeoutMs: 5000, signal: never }),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_FORBIDDEN");
        assert.match(err.message, /refused the call with HTTP 403: gcp\.credentials_path ".*" needs the invoker role/);
        return true;
      },
    );
    fn.invokers = undefined;
    fn.respond = () => ({ stall: true });
    const started = Date.now();
    await assert.rejects(
      gcp.invokeFunction({ name: "answers", location: "us-central1", url: fn.url, body: "{}", timeoutMs: 300, signal: never }),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TIMEOUT");
        assert.match(err.message, /no answer within 0\.3 s/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 3000);
  });

  it("reports a key the token endpoint refuses as a credentials problem", async () => {
    const forged = fake.forgedKey(
      JSON.parse(await import("node:fs/promises").then((fs) => fs.readFile(keyPath, "utf8"))) as Record<string, unknown>,
    );
    const forgedPath = await fake.writeKeyFile(dir, forged);
    const bad = createGcpClient({ ...settings(), credentials_path: forgedPath }, { env: {} });
    await assert.rejects(bad.functionUrl({ name: "quarantine", location: "europe-west1", signal: never }), (err: KestrelError) => {
      assert.equal(err.code, "ERR_FORBIDDEN");
      assert.match(err.message, /the token endpoint refused gcp\.credentials_path ".*": invalid_grant: Invalid JWT Signature\./);
      return true;
    });
    for (const data of [Buffer.from("x"), chunks(2, 1000)]) {
      await assert.rejects(bad.upload({ bucket: "artifacts", names: ["f/x"], data, signal: never }), (err: KestrelError) => {
        assert.equal(err.code, "ERR_FORBIDDEN");
        assert.match(err.message, /the token endpoint refused gcp\.credentials_path ".*": invalid_grant: Invalid JWT Signature\./);
        return true;
      });
    }
    assert.equal(fake.object("artifacts", "f/x"), undefined);
  });

  it("uses a service account key named by $GOOGLE_APPLICATION_CREDENTIALS the same way, token_uri included", async () => {
    const viaEnv = createGcpClient(
      { storage_endpoint: fake.storageUrl, functions_endpoint: fake.functionsApiUrl },
      { env: { GOOGLE_APPLICATION_CREDENTIALS: keyPath } },
    );
    assert.equal(viaEnv.credentials, `$GOOGLE_APPLICATION_CREDENTIALS "${keyPath}"`);
    const stored = await viaEnv.upload({ bucket: "artifacts", names: ["env/one"], data: Buffer.from("via env"), signal: never });
    assert.equal(fake.object("artifacts", stored.name)!.data.toString(), "via env");
  });

  it("needs a project for function lookups when the key has none", async () => {
    const key = fake.serviceAccountKey({ projectId: null });
    const path = await fake.writeKeyFile(dir, key);
    const noProject = createGcpClient({ ...settings(), credentials_path: path }, { env: {} });
    // google-auth-library finds no project for a key without project_id and no $GOOGLE_CLOUD_PROJECT.
    await assert.rejects(noProject.functionUrl({ name: "quarantine", location: "europe-west1", signal: never }), /no Google Cloud project/);
  });
});
