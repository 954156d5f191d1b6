// The AWS client boundary against the test servers (real SDK clients, SigV4 checked by the servers):
// settings problems name their setting; credentials come from the static keys, the assumed role (renewed
// before expiry) or the SDK's default chain, and a credential problem is a clear start-up error; SDK
// failures become KestrelErrors with the right code and retryability; uploads stream in parts and clean up
// after a failure; the instance metadata comes through IMDSv2.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { type AwsTestServers, signer, startAwsServers, TEST_REGION } from "../../test/support/aws.ts";
import { closedPort } from "../../test/support/ports.ts";
import { KestrelError } from "../errors.ts";
import { type AwsClientOptions, awsError, awsSettingsProblems, createAwsClients, minioTarget } from "./aws.ts";

const AWS_ONLY = { aws: true, minio: false, metadata: false } as const;
const MIB = 1024 * 1024;

async function rejection(work: Promise<unknown>): Promise<KestrelError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof KestrelError, `not a KestrelError: ${String(err)}`);
    return err;
  }
  assert.fail("expected a failure");
}

async function* bytes(total: number, chunk = 64 * 1024, failAt?: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunk) {
    if (failAt !== undefined && sent >= failAt) throw new Error("the capture broke");
    yield Buffer.alloc(Math.min(chunk, total - sent), sent / chunk);
  }
}

describe("AWS and MinIO settings", () => {
  it("names the missing partner of a static key and refuses a role ARN that is not one", () => {
    assert.deepEqual(awsSettingsProblems({ access_key: "AKIA1" }), ["aws.secret_key is not set: aws.access_key needs it"]);
    assert.deepEqual(awsSettingsProblems({ secret_key: "s" }), ["aws.access_key is not set: aws.secret_key needs it"]);
    assert.match(awsSettingsProblems({ role_arn: "kestrel-role" })[0]!, /aws\.role_arn 'kestrel-role' is not an IAM role ARN/);
    assert.deepEqual(
      awsSettingsProblems({ access_key: "a", secret_key: "b", region: "eu-west-1", role_arn: "arn:aws:iam::123456789012:role/x" }),
      [],
    );
    assert.deepEqual(awsSettingsProblems({}), []);
  });

  it("reads minio.endpoint as host:port (scheme from minio.use_ssl) or as a URL, and names what is missing", () => {
    const keys = { access_key: "k", secret_key: "s" };
    assert.deepEqual(minioTarget({ endpoint: "minio:9000", use_ssl: false, ...keys }), {
      endpoint: "http://minio:9000",
      accessKeyId: "k",
      secretAccessKey: "s",
    });
    assert.equal((minioTarget({ endpoint: "minio:9000", use_ssl: true, ...keys }) as { endpoint: string }).endpoint, "https://minio:9000");
    assert.equal(
      (minioTarget({ endpoint: "https://minio.example", use_ssl: false, ...keys }) as { endpoint: string }).endpoint,
      "https://minio.example",
    );
    assert.deepEqual(minioTarget({ endpoint: "http://minio:9000", use_ssl: true, ...keys }), [
      "minio.endpoint 'http://minio:9000' is http:// but minio.use_ssl is true",
    ]);
    assert.deepEqual(minioTarget({ endpoint: "minio:9000/bucket", use_ssl: false, ...keys }), [
      "minio.endpoint 'minio:9000/bucket' must be host:port, without a path",
    ]);
    // Credentials in the address would never be sent (S3 requests are signed): refused, and not shown.
    assert.deepEqual(minioTarget({ endpoint: "k3y:s3cr3t@minio:9000", use_ssl: false, ...keys }), [
      "minio.endpoint '[redacted]@minio:9000' must not carry credentials: set minio.access_key and minio.secret_key",
    ]);
    assert.deepEqual(minioTarget({ endpoint: "ftp://k3y:s3cr3t@minio:9000", use_ssl: false, ...keys }), [
      "minio.endpoint 'ftp://[redacted]@minio:9000' must be http(s)",
    ]);
    const missing = minioTarget({ use_ssl: false }) as string[];
    assert.equal(missing.length, 3);
    assert.match(missing[0]!, /^minio\.endpoint is not set/);
    assert.deepEqual(missing.slice(1), ["minio.access_key is not set", "minio.secret_key is not set"]);
  });

  it("prepare() checks only the parts the rules use, and contacts nothing without AWS services", async () => {
    const clients = createAwsClients({
      aws: { access_key: "AKIA1" },
      minio: { use_ssl: false },
      endpoints: { sts: `http://127.0.0.1:${await closedPort()}` },
    });
    assert.equal(await clients.prepare({ aws: false, minio: false, metadata: true }), undefined);
    const aws = await rejection(clients.prepare({ aws: true, minio: false, metadata: false }));
    assert.equal(aws.code, "ERR_CONFIG_INVALID");
    assert.match(aws.message, /aws\.secret_key is not set/);
    const minio = await rejection(clients.prepare({ aws: false, minio: true, metadata: false }));
    assert.match(minio.message, /minio\.endpoint is not set.*minio\.access_key is not set/);
    assert.throws(() => clients.minio(), /minio\.endpoint is not set/);
  });
});

describe("AWS credentials", () => {
  let servers: AwsTestServers;
  const options = (aws: AwsClientOptions["aws"]): AwsClientOptions => ({
    aws,
    minio: { use_ssl: false },
    endpoints: { s3: servers.s3.url, lambda: servers.lambda.url, sts: servers.sts.url, metadata: servers.imds.url },
  });
  const invoke = (clients: ReturnType<typeof createAwsClients>) =>
    clients.invokeLambda({
      name: "echo",
      qualifier: "$LATEST",
      invocationType: "RequestResponse",
      payload: "{}",
      signal: AbortSignal.timeout(10_000),
    });

  before(async () => {
    servers = await startAwsServers({ functions: [{ name: "echo", handler: (e) => e }] });
  });
  after(() => servers.close());

  it("static keys: STS says whose they are, once; the calls are signed with them", async () => {
    const user = servers.account.addUser("responder");
    const clients = createAwsClients(options({ access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION }));
    const before = servers.sts.requests.length;
    assert.equal(await clients.prepare(AWS_ONLY), `arn:aws:iam::${servers.account.id}:user/responder`);
    assert.equal(await clients.prepare(AWS_ONLY), `arn:aws:iam::${servers.account.id}:user/responder`);
    const calls = servers.sts.requests.slice(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.body, "Action=GetCallerIdentity&Version=2011-06-15");
    assert.equal(signer(calls[0]!.headers), user.accessKeyId);
    await invoke(clients);
    assert.equal(signer(servers.lambda.requests.at(-1)!.headers), user.accessKeyId);
  });

  it("refused static keys stop the start with an error naming aws.access_key and aws.secret_key", async () => {
    const unknown = createAwsClients(options({ access_key: "AKIANOTAREALKEY00000", secret_key: "x", region: TEST_REGION }));
    const e = await rejection(unknown.prepare(AWS_ONLY));
    assert.equal(e.code, "ERR_CONFIG_INVALID");
    assert.match(
      e.message,
      /the credentials were refused \(InvalidClientTokenId: The security token included in the request is invalid\.\): check the static keys aws\.access_key and aws\.secret_key/,
    );
    const user = servers.account.addUser();
    const wrongSecret = createAwsClients(options({ access_key: user.accessKeyId, secret_key: "not-the-secret", region: TEST_REGION }));
    assert.match((await rejection(wrongSecret.prepare(AWS_ONLY))).message, /SignatureDoesNotMatch.*aws\.access_key and aws\.secret_key/);
  });

  it("aws.role_arn + aws.external_id: AssumeRole with the static keys, then every call signed by the role's session", async () => {
    const user = servers.account.addUser();
    const role = servers.account.addRole("kestrel-responder", "ext-42");
    const clients = createAwsClients(
      options({
        access_key: user.accessKeyId,
        secret_key: user.secretAccessKey,
        region: TEST_REGION,
        role_arn: role,
        external_id: "ext-42",
      }),
    );
    const assumedBefore = servers.sts.assumed.length;
    const identity = await clients.prepare(AWS_ONLY);
    assert.match(identity!, new RegExp(`^arn:aws:sts::${servers.account.id}:assumed-role/kestrel-responder/kestrel-[0-9a-f]{8}$`));
    const assumed = servers.sts.assumed.slice(assumedBefore);
    assert.equal(assumed.length, 1);
    assert.deepEqual(
      { ...assumed[0], sessionName: "" },
      { roleArn: role, externalId: "ext-42", sessionName: "", accessKeyId: user.accessKeyId },
    );
    const assumeCall = servers.sts.requests.find((r) => r.body.includes("Action=AssumeRole") && r.body.includes("ext-42"))!;
    assert.match(assumeCall.body, /DurationSeconds=3600/);
    await invoke(clients);
    const lambdaCall = servers.lambda.requests.at(-1)!;
    const session = servers.account.key(signer(lambdaCall.headers))!;
    assert.equal(session.arn, identity);
    assert.equal(lambdaCall.headers["x-amz-security-token"], session.sessionToken);
    // the session lasts an hour: further calls reuse it
    await invoke(clients);
    assert.equal(servers.sts.assumed.length, assumedBefore + 1);
  });

  it("renews the role's credentials 5 minutes before they expire, not before", async (t) => {
    const user = servers.account.addUser();
    const role = servers.account.addRole("short-lived");
    servers.sts.sessionSeconds = 900; // STS's shortest session
    t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
    try {
      const clients = createAwsClients(
        options({ access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION, role_arn: role }),
      );
      const before = servers.sts.assumed.length;
      await invoke(clients);
      t.mock.timers.tick(9 * 60 * 1000); // 6 minutes left: still used
      await invoke(clients);
      assert.equal(servers.sts.assumed.length, before + 1);
      t.mock.timers.tick(60 * 1000 + 1); // 5 minutes left: renewed
      await invoke(clients);
      assert.equal(servers.sts.assumed.length, before + 2);
      const signers = servers.lambda.requests.slice(-3).map((r) => signer(r.headers));
      assert.equal(signers[0], signers[1]);
      assert.notEqual(signers[1], signers[2], "the last call uses the renewed session");
    } finally {
      servers.sts.sessionSeconds = undefined;
    }
  });

  it("a role that cannot be assumed stops the start with an error naming aws.role_arn and sts:AssumeRole", async () => {
    const user = servers.account.addUser();
    const role = servers.account.addRole("needs-external-id", "right");
    const clients = createAwsClients(
      options({
        access_key: user.accessKeyId,
        secret_key: user.secretAccessKey,
        region: TEST_REGION,
        role_arn: role,
        external_id: "wrong",
      }),
    );
    const e = await rejection(clients.prepare(AWS_ONLY));
    assert.equal(e.code, "ERR_CONFIG_INVALID");
    assert.match(
      e.message,
      /cannot assume the role 'arn:aws:iam::123456789012:role\/needs-external-id' \(aws\.role_arn with aws\.external_id\)/,
    );
    assert.match(e.message, /AccessDenied: User: arn:aws:iam::123456789012:user\/kestrel is not authorized to perform: sts:AssumeRole/);
    assert.match(e.message, /needs sts:AssumeRole on/);
    // at run time the same failure is a clear ERR_FORBIDDEN, and the next call tries again
    const runtime = await rejection(invoke(clients));
    assert.equal(runtime.code, "ERR_FORBIDDEN");
    assert.match(runtime.message, /cannot assume the role/);
  });

  it("without keys or role: the SDK's default chain, here the EC2 instance role served by IMDS", async () => {
    const role = servers.account.addRole("instance-role");
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_EC2_METADATA_SERVICE_ENDPOINT: servers.imds.url,
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
      AWS_CONFIG_FILE: "/nonexistent/config",
    });
    for (const k of [
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_PROFILE",
      "AWS_WEB_IDENTITY_TOKEN_FILE",
      "AWS_EC2_METADATA_DISABLED",
    ]) {
      delete process.env[k];
    }
    const imds = await startAwsServers({ functions: [], imds: { role: { name: "instance-role", arn: role } } });
    try {
      // the chain reads the endpoint from the environment: point it at an IMDS serving the role
      process.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.imds.url;
      const account = imds.account; // a separate account: its STS knows the keys its IMDS serves
      const clients = createAwsClients({ aws: { region: TEST_REGION }, minio: { use_ssl: false }, endpoints: { sts: imds.sts.url } });
      const identity = await clients.prepare(AWS_ONLY);
      assert.equal(identity, `arn:aws:sts::${account.id}:assumed-role/instance-role/i-0123456789abcdef0`);
      assert.equal(imds.imds.servedKeys.length, 1);
      assert.equal(signer(imds.sts.requests.at(-1)!.headers), imds.imds.servedKeys[0]!.accessKeyId);
      const seen = imds.imds.requests.map((r) => `${r.method} ${r.url}`);
      assert.equal(seen[0], "PUT /latest/api/token", "IMDSv2: a token first");
      assert.ok(imds.imds.requests.slice(1).every((r) => typeof r.headers["x-aws-ec2-metadata-token"] === "string"));

      process.env["AWS_EC2_METADATA_DISABLED"] = "true";
      const none = createAwsClients({ aws: { region: TEST_REGION }, minio: { use_ssl: false }, endpoints: { sts: imds.sts.url } });
      const e = await rejection(none.prepare(AWS_ONLY));
      assert.equal(e.code, "ERR_CONFIG_INVALID");
      assert.match(
        e.message,
        /^no AWS credentials: set aws\.access_key and aws\.secret_key, or aws\.role_arn, or give them to the SDK's default credential chain/,
      );
    } finally {
      await imds.close();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe("AWS errors", () => {
  let servers: AwsTestServers;
  let clients: ReturnType<typeof createAwsClients>;
  const invoke = (name: string, signal = AbortSignal.timeout(20_000)) =>
    clients.invokeLambda({ name, qualifier: "$LATEST", invocationType: "RequestResponse", payload: "{}", signal });

  before(async () => {
    servers = await startAwsServers({
      functions: [
        { name: "fn", handler: () => "ok" },
        { name: "slow", handler: () => "late", durationMs: 3000 },
      ],
    });
    const user = servers.account.addUser();
    clients = createAwsClients({
      aws: { access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION },
      minio: { use_ssl: false },
      endpoints: { lambda: servers.lambda.url, sts: servers.sts.url, s3: servers.s3.url },
    });
  });
  after(() => servers.close());

  it("a missing function is ERR_TARGET_GONE naming it, its qualifier and the region", async () => {
    const e = await rejection(invoke("nope"));
    assert.equal(e.code, "ERR_TARGET_GONE");
    assert.equal(e.retryable, false);
    assert.match(
      e.message,
      /the function 'nope' or its version or alias '\$LATEST' does not exist in eu-west-3 \(ResourceNotFoundException: Function not found: arn:aws:lambda:eu-west-3:123456789012:function:nope:\$LATEST\)/,
    );
  });

  it("an access denial is ERR_FORBIDDEN naming the IAM permission", async () => {
    const denial = {
      status: 403,
      headers: { "content-type": "application/json", "x-amzn-errortype": "AccessDeniedException" },
      body: JSON.stringify({ Message: "User: arn:aws:iam::123456789012:user/kestrel is not authorized to perform: lambda:InvokeFunction" }),
    };
    servers.lambda.script(denial);
    const e = await rejection(invoke("fn"));
    assert.equal(e.code, "ERR_FORBIDDEN");
    assert.equal(e.retryable, false);
    assert.match(e.message, /access denied \(AccessDeniedException: User: .* is not authorized/);
    assert.match(e.message, /the identity needs lambda:InvokeFunction on arn:aws:lambda:eu-west-3:<account>:function:fn:\$LATEST/);
  });

  it("throttling and 5xx are retryable (after the SDK's own retries), with Retry-After kept", async () => {
    const throttled = {
      status: 429,
      headers: { "content-type": "application/json", "x-amzn-errortype": "TooManyRequestsException", "retry-after": "1" },
      body: JSON.stringify({ Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", Type: "User", message: "Rate Exceeded." }),
    };
    const before = servers.lambda.requests.length;
    servers.lambda.script(throttled, throttled, throttled);
    const e = await rejection(invoke("fn"));
    assert.equal(servers.lambda.requests.length - before, 3, "the SDK tried three times");
    assert.equal(e.code, "ERR_AWS");
    assert.equal(e.retryable, true);
    assert.equal(e.retryAfterSeconds, 1);
    assert.match(e.message, /throttled: TooManyRequestsException: Rate Exceeded\./);
    const down = {
      status: 503,
      headers: { "content-type": "application/json", "x-amzn-errortype": "ServiceException" },
      body: JSON.stringify({ message: "internal" }),
    };
    servers.lambda.script(down, down, down);
    const e5 = await rejection(invoke("fn"));
    assert.equal(e5.retryable, true);
    assert.equal(e5.code, "ERR_AWS");
  });

  it("a service that cannot be reached is a retryable ERR_AWS saying so", async () => {
    const user = servers.account.addUser();
    const nowhere = createAwsClients({
      aws: { access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION },
      minio: { use_ssl: false },
      endpoints: { lambda: `http://127.0.0.1:${await closedPort()}` },
    });
    const e = await rejection(
      nowhere.invokeLambda({
        name: "fn",
        qualifier: "$LATEST",
        invocationType: "Event",
        payload: "{}",
        signal: AbortSignal.timeout(20_000),
      }),
    );
    assert.equal(e.code, "ERR_AWS");
    assert.equal(e.retryable, true);
    assert.match(e.message, /the service cannot be reached \(ECONNREFUSED\)/);
  });

  it("the caller's signal cancels the request itself", async () => {
    const started = Date.now();
    const e = await rejection(invoke("slow", AbortSignal.timeout(300)));
    assert.equal(e.code, "ERR_TIMEOUT");
    assert.ok(Date.now() - started < 2500, "cancelled, not waited for");
  });

  it("keeps KestrelErrors and maps region and credential-chain problems", () => {
    const own = new KestrelError("ERR_OUTPUT", "x");
    const ctx = { what: "do it", permission: "p", credentials: "c" };
    assert.equal(awsError(own, ctx), own);
    assert.match(awsError(new Error("Region is missing"), ctx).message, /no AWS region: set aws\.region/);
    const chain = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
    assert.equal(awsError(chain, ctx).code, "ERR_FORBIDDEN");
    const slowDown = Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });
    assert.equal(awsError(slowDown, ctx).retryable, true);
    const invalid = Object.assign(new Error("bad input"), { name: "InvalidParameterValueException", $metadata: { httpStatusCode: 400 } });
    const mapped = awsError(invalid, ctx);
    assert.equal(mapped.retryable, false);
    assert.equal(mapped.message, "cannot do it: InvalidParameterValueException: bad input (HTTP 400)");
  });
});

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

describe("instance metadata (IMDSv2)", () => {
  let servers: AwsTestServers;
  const profile = { arn: "arn:aws:iam::123456789012:instance-profile/kestrel-node", id: "AIPAJ2EXAMPLEID" };

  before(async () => {
    servers = await startAwsServers({ functions: [], imds: { instanceProfile: profile } });
  });
  after(() => servers.close());

  const clientsFor = (metadata: string, env: NodeJS.ProcessEnv = {}) =>
    createAwsClients({ aws: {}, minio: { use_ssl: false }, env, endpoints: { metadata } });

  it("a token (PUT with its TTL), then iam/info and placement/region with it; kept for a minute", async () => {
    const clients = clientsFor(servers.imds.url);
    const m = await clients.instanceMetadata(AbortSignal.timeout(5000));
    assert.deepEqual(m, { instanceProfileArn: profile.arn, instanceProfileId: profile.id, region: TEST_REGION });
    const [token, info, region] = servers.imds.requests;
    assert.equal(`${token!.method} ${token!.url}`, "PUT /latest/api/token");
    assert.equal(token!.headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
    assert.equal(`${info!.method} ${info!.url}`, "GET /latest/meta-data/iam/info");
    assert.equal(`${region!.method} ${region!.url}`, "GET /latest/meta-data/placement/region");
    assert.equal(info!.headers["x-aws-ec2-metadata-token"], token!.answer);
    await clients.instanceMetadata(AbortSignal.timeout(5000));
    assert.equal(servers.imds.requests.length, 3, "cached");
  });

  it("renews a refused token once; an instance without a profile gives empty profile values", async () => {
    const bare = await startAwsServers({ functions: [] });
    try {
      const clients = clientsFor(bare.imds.url);
      bare.imds.script({ status: 200, body: "stale-token" }, { status: 401 });
      const m = await clients.instanceMetadata(AbortSignal.timeout(5000));
      assert.deepEqual(m, { instanceProfileArn: "", instanceProfileId: "", region: TEST_REGION });
      assert.deepEqual(
        bare.imds.requests.map((r) => `${r.method} ${r.url} ${r.status}`),
        [
          "PUT /latest/api/token 200",
          "GET /latest/meta-data/iam/info 401",
          "PUT /latest/api/token 200",
          "GET /latest/meta-data/iam/info 404",
          "GET /latest/meta-data/placement/region 200",
        ],
      );
    } finally {
      await bare.close();
    }
  });

  it("off EC2: a clear error at once when nothing listens, within 2 s when nothing answers, or when disabled", async () => {
    const port = await closedPort();
    const refused = await rejection(clientsFor(`http://127.0.0.1:${port}`).instanceMetadata(AbortSignal.timeout(5000)));
    assert.equal(refused.code, "ERR_AWS");
    assert.equal(
      refused.message,
      `the instance metadata service at http://127.0.0.1:${port} cannot be reached (ECONNREFUSED): is Kestrel running on EC2?`,
    );
    servers.imds.script({ status: 200, body: "t", delayMs: 4000 });
    const started = Date.now();
    const hung = await rejection(clientsFor(servers.imds.url).instanceMetadata(AbortSignal.timeout(10_000)));
    assert.equal(hung.code, "ERR_TIMEOUT");
    assert.match(
      hung.message,
      /did not answer within 2 s: is Kestrel running on EC2\? \(in a container, IMDSv2 needs the instance's metadata hop limit ≥ 2\)/,
    );
    assert.ok(Date.now() - started < 3000);
    const disabled = await rejection(
      clientsFor(servers.imds.url, { AWS_EC2_METADATA_DISABLED: "true" }).instanceMetadata(AbortSignal.timeout(5000)),
    );
    assert.match(disabled.message, /disabled \(AWS_EC2_METADATA_DISABLED/);
  });

  it("finds the endpoint in $AWS_EC2_METADATA_SERVICE_ENDPOINT, as the SDK does", async () => {
    const clients = createAwsClients({
      aws: {},
      minio: { use_ssl: false },
      env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${servers.imds.url}/` },
    });
    assert.equal((await clients.instanceMetadata(AbortSignal.timeout(5000))).region, TEST_REGION);
  });
});
