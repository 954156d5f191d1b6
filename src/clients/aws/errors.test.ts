// SDK failures become KestrelErrors with the right code, message and retryability, against the test
// servers and for the errors the SDK makes itself.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AwsTestServers, rejection, startAwsServers, TEST_REGION } from "../../../test/support/aws.ts";
import { closedPort } from "../../../test/support/ports.ts";
import { KestrelError } from "../../errors.ts";
import { awsError } from "./errors.ts";
import { createAwsClients } from "./index.ts";

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
