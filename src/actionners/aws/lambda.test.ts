// aws:lambda against the Lambda test server (real SDK client, SigV4 checked): the payload is the event with
// its context, the qualifier and invocation type reach the API, a function error is a failure carrying the
// function's own error, Event (202) and DryRun (204) are successes, and an event cannot choose the function.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { type AwsTestServers, credentialScope, signer, startAwsServers, TEST_REGION } from "../../../test/support/aws.ts";
import { falcoEvent } from "../../../test/support/events.ts";
import { createAwsClients } from "../../clients/aws/index.ts";
import { createClients } from "../../clients/index.ts";
import type { KestrelError } from "../../errors.ts";
import { parseEvent } from "../../events/parse.ts";
import type { ActionRun } from "../../plugins/types.ts";
import lambda from "./lambda.ts";

describe("aws:lambda", () => {
  let servers: AwsTestServers;
  let ctx: (params: Record<string, unknown>, signal?: AbortSignal) => ActionRun;
  let accessKeyId: string;
  const event = parseEvent(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": "web-1", "fd.name": "/etc/shadow" } })).event;
  const context = { "falco-talon.rule": "Shell", "falco-talon.action": "Invoke", "aws.region": TEST_REGION };

  before(async () => {
    servers = await startAwsServers({
      functions: [
        { name: "responder", versions: ["7"], aliases: { live: "7" }, handler: (e) => ({ handled: (e as { rule: string }).rule }) },
        {
          name: "broken",
          handler: () => {
            throw new RangeError("quarantine bucket is full");
          },
        },
        { name: "chatty", handler: () => "x".repeat(10_000) },
        { name: "slow", handler: () => "late", durationMs: 3000 },
      ],
    });
    const user = servers.account.addUser();
    accessKeyId = user.accessKeyId;
    const clients = createClients({
      aws: createAwsClients({
        aws: { access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION },
        minio: { use_ssl: false },
        endpoints: { lambda: servers.lambda.url },
      }),
    });
    ctx = (params, signal = AbortSignal.timeout(10_000)) =>
      ({
        event,
        params: lambda.params.parse(params),
        contextValues: context,
        clients,
        log: pino({ level: "silent" }),
        signal,
        traceId: "t",
        variables: new Map(),
      }) as ActionRun;
  });
  after(() => servers.close());

  it("invokes the alias with the event and its context as payload, signed for lambda in the region", async () => {
    const res = await lambda.run(ctx({ aws_lambda_name: "responder", aws_lambda_alias_or_version: "live" }) as never);
    assert.equal(res.summary, `the Lambda function 'responder' (version 7) has been invoked: {"handled":"Terminal shell in container"}`);
    assert.deepEqual(res.objects, { name: "responder", version: "7" });
    const req = servers.lambda.requests.at(-1)!;
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/2015-03-31/functions/responder/invocations?Qualifier=live");
    assert.equal(req.headers["x-amz-invocation-type"], "RequestResponse");
    assert.equal(signer(req.headers), accessKeyId);
    assert.deepEqual(credentialScope(req.headers), { region: TEST_REGION, service: "lambda" });
    const payload = servers.lambda.invocations.at(-1)!.payload as Record<string, unknown>;
    assert.equal(payload["rule"], "Terminal shell in container");
    assert.equal((payload["output_fields"] as Record<string, unknown>)["fd.name"], "/etc/shadow");
    assert.equal(payload["hostname"], "node-1");
    assert.deepEqual(payload["context"], context);
  });

  it("$LATEST by default; Event (202) and DryRun (204) are successes", async () => {
    const queued = await lambda.run(ctx({ aws_lambda_name: "responder", aws_lambda_invocation_type: "Event" }) as never);
    assert.equal(queued.summary, "the Lambda function 'responder' ($LATEST) has been invoked asynchronously (HTTP 202)");
    assert.equal(servers.lambda.requests.at(-1)!.url, "/2015-03-31/functions/responder/invocations?Qualifier=%24LATEST");
    assert.equal(servers.lambda.invocations.at(-1)!.invocationType, "Event");
    const dry = await lambda.run(ctx({ aws_lambda_name: "responder", aws_lambda_invocation_type: "DryRun" }) as never);
    assert.equal(dry.summary, "the Lambda function 'responder' ($LATEST) can be invoked (DryRun: it was not run)");
    assert.equal(servers.lambda.invocations.at(-1)!.status, 204);
  });

  it("a function error (X-Amz-Function-Error) is a failure with the function's error", async () => {
    await assert.rejects(lambda.run(ctx({ aws_lambda_name: "broken" }) as never), (err: KestrelError) => {
      assert.equal(err.code, "ERR_ACTION");
      assert.equal(err.message, "the Lambda function 'broken' (version $LATEST) failed (Unhandled): RangeError: quarantine bucket is full");
      return true;
    });
  });

  it("a missing function or alias fails clearly; a long answer is cut in the result", async () => {
    await assert.rejects(
      lambda.run(ctx({ aws_lambda_name: "responder", aws_lambda_alias_or_version: "canary" }) as never),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TARGET_GONE");
        assert.match(err.message, /the function 'responder' or its version or alias 'canary' does not exist in eu-west-3/);
        return true;
      },
    );
    const res = await lambda.run(ctx({ aws_lambda_name: "chatty" }) as never);
    assert.ok(res.summary.length < 4300 && res.summary.endsWith("…"), `${res.summary.length}`);
  });

  it("the action's deadline cancels a slow invocation", async () => {
    const started = Date.now();
    await assert.rejects(
      lambda.run(ctx({ aws_lambda_name: "slow" }, AbortSignal.timeout(300)) as never),
      (err: KestrelError) => err.code === "ERR_TIMEOUT",
    );
    assert.ok(Date.now() - started < 2500);
  });

  it("refuses a function or qualifier chosen by an event, and names that are not Lambda names", () => {
    const check = (p: Record<string, unknown>) => lambda.check!(lambda.params.parse(p));
    assert.deepEqual(check({ aws_lambda_name: "responder" }), []);
    assert.deepEqual(
      check({ aws_lambda_name: "arn:aws:lambda:eu-west-3:123456789012:function:responder", aws_lambda_alias_or_version: "7" }),
      [],
    );
    assert.match(
      check({ aws_lambda_name: "${K8S_POD_NAME}" })[0]!,
      /aws_lambda_name '\$\{K8S_POD_NAME\}' cannot use variables: an event must not choose which function runs/,
    );
    assert.match(
      check({ aws_lambda_name: "fn", aws_lambda_alias_or_version: "${X}" })[0]!,
      /aws_lambda_alias_or_version .* cannot use variables/,
    );
    assert.match(check({ aws_lambda_name: "../other" })[0]!, /is not a function name or ARN/);
    assert.match(check({ aws_lambda_name: "fn", aws_lambda_alias_or_version: "a/b" })[0]!, /is not an alias or version/);
    assert.equal(lambda.params.safeParse({ aws_lambda_name: "fn", aws_lambda_invocation_type: "Async" }).success, false);
  });
});
