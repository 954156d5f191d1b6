// The Google Cloud client boundary: credentials are found where documented and a bad key file stops the
// start naming its setting; the key's token_uri is honoured and its JWT signature checked by the token
// server; uploads (multipart and resumable), function lookups and calls go through the real SDK clients
// to the test servers; failures become KestrelErrors with the right code, message and retryability.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGcp, startFakeGcp } from "../../test/support/gcp.ts";
import { KestrelError } from "../errors.ts";
import { createGcpClient, type GcpClient, type GcpOperation, gcpError, resolveCredentials, statusOf } from "./gcp.ts";

const NO_GCP = { storage_endpoint: "", functions_endpoint: "" };
const never = new AbortController().signal;
const notOnGoogleCloud = { env: {}, onGoogleCloud: () => false };

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: KestrelError) => {
    assert.ok(err instanceof KestrelError, String(err));
    assert.equal(err.code, "ERR_CONFIG_INVALID");
    assert.match(err.message, pattern);
    return true;
  });
}

async function* chunks(count: number, size: number, seed = 0): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill((i + seed) % 251);
}

describe("GCP credentials", () => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-gcp-creds-"));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("names gcp.credentials_path and the file when it is missing, not JSON or not a key", () => {
    const missing = join(dir, "nope.json");
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: missing }, notOnGoogleCloud),
      new RegExp(`^gcp\\.credentials_path "${missing}": cannot read the credentials file \\(ENOENT\\)`),
    );
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("a.json", "{not json") }, notOnGoogleCloud),
      /^gcp\.credentials_path ".*a\.json": the credentials file is not JSON/,
    );
    configError(() => resolveCredentials({ ...NO_GCP, credentials_path: file("b.json", "[]") }, notOnGoogleCloud), /not a JSON object/);
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("c.json", '{"type":"api_key"}') }, notOnGoogleCloud),
      /unknown credentials type "api_key"/,
    );
    configError(
      () =>
        resolveCredentials(
          { ...NO_GCP, credentials_path: file("d.json", '{"type":"service_account","private_key":"x"}') },
          notOnGoogleCloud,
        ),
      /the service account key has no client_email/,
    );
    configError(
      () =>
        resolveCredentials(
          { ...NO_GCP, credentials_path: file("e.json", '{"type":"service_account","client_email":"a@b","private_key":"garbage"}') },
          notOnGoogleCloud,
        ),
      /the private_key of the service account key cannot be read/,
    );
  });

  it("prefers gcp.credentials_path to $GOOGLE_APPLICATION_CREDENTIALS and checks the key's token_uri", () => {
    const other = file("other.json", JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }));
    const broken = join(dir, "broken.json");
    assert.match(
      resolveCredentials(
        { ...NO_GCP, credentials_path: other },
        { env: { GOOGLE_APPLICATION_CREDENTIALS: broken }, onGoogleCloud: () => false },
      ).label,
      /^gcp\.credentials_path /,
    );
    const key = (tokenUri: string) =>
      JSON.stringify({
        type: "service_account",
        client_email: "a@b",
        private_key: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }),
        token_uri: tokenUri,
      });
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("f.json", key("ftp://x/token")) }, notOnGoogleCloud),
      /the token_uri "ftp:\/\/x\/token" is not an http\(s\) URL/,
    );
    assert.equal(
      resolveCredentials({ ...NO_GCP, credentials_path: file("g.json", key("https://oauth2.googleapis.com/token")) }, notOnGoogleCloud)
        .kind,
      "service_account",
    );
  });

  it("reads Talon's setting as a path (Talon parsed the path itself as JSON)", () => {
    // Talon users wrote a path here; the JSON content itself is not a file name.
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: '{"type":"service_account"}' }, notOnGoogleCloud),
      /^gcp\.credentials_path "\{"type".*cannot read the credentials file/,
    );
  });

  it("falls back to $GOOGLE_APPLICATION_CREDENTIALS, then gcloud's file, then the metadata server, else fails naming the setting", async () => {
    const userCreds = file("adc.json", JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }));
    const fromEnv = resolveCredentials(NO_GCP, { env: { GOOGLE_APPLICATION_CREDENTIALS: userCreds }, onGoogleCloud: () => false });
    assert.equal(fromEnv.kind, "other");
    assert.match(fromEnv.label, /^\$GOOGLE_APPLICATION_CREDENTIALS ".*adc\.json"$/);
    configError(
      () => resolveCredentials(NO_GCP, { env: { GOOGLE_APPLICATION_CREDENTIALS: join(dir, "gone.json") }, onGoogleCloud: () => false }),
      /^\$GOOGLE_APPLICATION_CREDENTIALS/,
    );

    const gcloud = join(dir, "gcloud");
    await mkdir(gcloud, { recursive: true });
    writeFileSync(
      join(gcloud, "application_default_credentials.json"),
      JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }),
    );
    assert.match(
      resolveCredentials(NO_GCP, { env: { CLOUDSDK_CONFIG: gcloud }, onGoogleCloud: () => false }).label,
      /gcloud's application default credentials/,
    );
    const empty = mkdtempSync(join(tmpdir(), "kestrel-home-"));
    assert.equal(resolveCredentials(NO_GCP, { env: { HOME: empty }, onGoogleCloud: () => true }).kind, "default");
    assert.equal(
      resolveCredentials(NO_GCP, { env: { HOME: empty, GCE_METADATA_HOST: "169.254.169.254" }, onGoogleCloud: () => false }).kind,
      "default",
    );
    configError(
      () => resolveCredentials(NO_GCP, { env: { HOME: empty }, onGoogleCloud: () => false }),
      /^gcp\.credentials_path: the rules use Google Cloud but no credentials were found/,
    );
  });

  it("refuses an endpoint setting that is not an http(s) URL, naming it", () => {
    configError(
      () => createGcpClient({ storage_endpoint: "ftp://x", functions_endpoint: "" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.storage_endpoint: "ftp:\/\/x" is not an http\(s\) URL/,
    );
    configError(
      () => createGcpClient({ storage_endpoint: "", functions_endpoint: "not a url" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.functions_endpoint/,
    );
    configError(
      () =>
        createGcpClient({ storage_endpoint: "https://u:s3cr3t@gcs.example", functions_endpoint: "" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.storage_endpoint: "https:\/\/\[redacted\]@gcs\.example" must not carry credentials$/,
    );
  });
});

describe("gcpError", () => {
  const op: GcpOperation = {
    what: "upload the object 'o' to the bucket 'b'",
    code: "ERR_OUTPUT",
    permission: "storage.objects.create on the bucket 'b'",
    notFound: "the bucket 'b' does not exist",
  };
  const creds = 'gcp.credentials_path "/k.json"';
  const http = (status: number, message: string) =>
    Object.assign(new Error(`Request failed with status code ${status}`), {
      status,
      response: { status, data: { error: { code: status, message } } },
    });

  it("maps 403 to the missing permission, 404 to what does not exist, 401 to the credentials", () => {
    const denied = gcpError(http(403, "sa@p does not have storage.objects.create access"), op, creds);
    assert.equal(denied.code, "ERR_FORBIDDEN");
    assert.equal(denied.retryable, false);
    assert.match(
      denied.message,
      /permission denied: gcp\.credentials_path "\/k\.json" needs storage\.objects\.create on the bucket 'b' \(sa@p does not have/,
    );
    const gone = gcpError(http(404, "The specified bucket does not exist."), op, creds);
    assert.equal(gone.code, "ERR_TARGET_GONE");
    assert.match(gone.message, /the bucket 'b' does not exist/);
    assert.match(gcpError(http(401, "Invalid Credentials"), op, creds).message, /credentials were refused \(gcp\.credentials_path/);
  });

  it("makes 429, 5xx and dropped connections retryable, other failures not", () => {
    for (const s of [408, 429, 500, 503]) {
      const e = gcpError(http(s, "busy"), op, creds);
      assert.equal(e.code, "ERR_OUTPUT");
      assert.equal(e.retryable, true, String(s));
    }
    assert.equal(gcpError(http(400, "bad"), op, creds).retryable, false);
    const reset = gcpError(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }), op, creds);
    assert.equal(reset.retryable, true);
    assert.match(reset.message, /ECONNRESET/);
    assert.equal(statusOf(new Error("Retry limit exceeded - status: 503 - response: x")), 503);
    assert.equal(gcpError(new Error("Retry limit exceeded - status: 503"), op, creds).retryable, true);
  });

  it("reports a cancelled call as a timeout and a refused token as the credentials' problem", () => {
    const ctl = new AbortController();
    ctl.abort(new DOMException("The operation timed out", "TimeoutError"));
    assert.equal(gcpError(new Error("aborted"), op, creds, ctl.signal).code, "ERR_TIMEOUT");
    const refused = Object.assign(new Error("invalid_grant: Invalid JWT Signature."), {
      status: 400,
      config: { url: new URL("https://oauth2.googleapis.com/token") },
      response: { status: 400, data: { error: "invalid_grant", error_description: "Invalid JWT Signature." } },
    });
    const e = gcpError(refused, op, creds);
    assert.equal(e.code, "ERR_FORBIDDEN");
    assert.match(e.message, /the token endpoint refused gcp\.credentials_path "\/k\.json": invalid_grant: Invalid JWT Signature\./);
  });
});

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
    const first = await gcp.upload({
      bucket: "artifacts",
      names: ["m/a.log", "m/a-1.log"],
      contentType: "text/plain",
      data: Buffer.from("line 1\n"),
      signal: never,
    });
    const second = await gcp.upload({
      bucket: "artifacts",
      names: ["m/a.log", "m/a-1.log"],
      contentType: "text/plain",
      data: Buffer.from("line 2\n"),
      signal: never,
    });
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
