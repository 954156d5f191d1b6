// AWS credentials against the test servers (real SDK clients, SigV4 checked by the servers): the static
// keys, the assumed role (renewed before expiry) or the SDK's default chain, and a credential problem is a
// clear start-up error naming the setting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AccessKey, type AwsTestServers, rejection, signer, startAwsServers, TEST_REGION } from "../../../test/support/aws.ts";
import { createAwsClients } from "./index.ts";
import type { AwsClientOptions } from "./types.ts";

const AWS_ONLY = { aws: true, minio: false, metadata: false } as const;

describe("AWS credentials", () => {
  let servers: AwsTestServers;
  const options = (aws: AwsClientOptions["aws"]): AwsClientOptions => ({
    aws,
    minio: { use_ssl: false },
    endpoints: { s3: servers.s3.url, lambda: servers.lambda.url, sts: servers.sts.url, metadata: servers.imds.url },
  });
  /** Clients with a test user's static keys, and any further aws settings (the role to assume). */
  const clientsOf = (user: AccessKey, more: Partial<AwsClientOptions["aws"]> = {}) =>
    createAwsClients(options({ access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION, ...more }));
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
    const clients = clientsOf(user);
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
    const wrongSecret = clientsOf(user, { secret_key: "not-the-secret" });
    assert.match((await rejection(wrongSecret.prepare(AWS_ONLY))).message, /SignatureDoesNotMatch.*aws\.access_key and aws\.secret_key/);
  });

  it("aws.role_arn + aws.external_id: AssumeRole with the static keys, then every call signed by the role's session", async () => {
    const user = servers.account.addUser();
    const role = servers.account.addRole("kestrel-responder", "ext-42");
    const clients = clientsOf(user, { role_arn: role, external_id: "ext-42" });
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
      const clients = clientsOf(user, { role_arn: role });
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
    const clients = clientsOf(user, { role_arn: role, external_id: "wrong" });
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
