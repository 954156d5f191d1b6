// The aws context: IMDSv2 values under Talon's keys, reaching templates as AWS_INSTANCE_PROFILE_ARN,
// AWS_INSTANCE_PROFILE_ID and AWS_REGION; a clear error without the AWS client or off EC2.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { type AwsTestServers, startAwsServers, TEST_REGION } from "../../test/support/aws.ts";
import { createAwsClients } from "../clients/aws/index.ts";
import { createClients } from "../clients/index.ts";
import type { FalcoEvent } from "../events/event.ts";
import { actionVariables } from "../template/action-variables.ts";
import aws from "./aws.ts";

const event = {
  outputFields: {},
  tags: [],
  hostname: "",
  rule: "r",
  priority: "Notice",
  source: "syscall",
  output: "",
  time: "",
} as unknown as FalcoEvent;
const log = pino({ level: "silent" });

describe("aws context", () => {
  let servers: AwsTestServers;
  const profile = { arn: "arn:aws:iam::123456789012:instance-profile/eks-node", id: "AIPAEXAMPLEID1234" };

  before(async () => {
    servers = await startAwsServers({ functions: [], imds: { instanceProfile: profile } });
  });
  after(() => servers.close());

  it("gives the instance profile and region under Talon's keys and template names", async () => {
    const clients = createClients({
      aws: createAwsClients({ aws: {}, minio: { use_ssl: false }, endpoints: { metadata: servers.imds.url } }),
    });
    const gathered = await aws.gather(event, { clients, log, signal: AbortSignal.timeout(5000) });
    assert.deepEqual(gathered, {
      "aws.instance_profile_arn": profile.arn,
      "aws.instance_profile_id": profile.id,
      "aws.region": TEST_REGION,
    });
    const vars = actionVariables(event, gathered, "t");
    assert.equal(vars.get("AWS_INSTANCE_PROFILE_ARN"), profile.arn);
    assert.equal(vars.get("AWS_INSTANCE_PROFILE_ID"), profile.id);
    assert.equal(vars.get("AWS_REGION"), TEST_REGION);
    assert.equal(servers.imds.requests[0]!.method, "PUT");
  });

  it("fails clearly without the AWS client, or when the metadata service does not answer", async () => {
    await assert.rejects(aws.gather(event, { clients: createClients(), log, signal: AbortSignal.timeout(5000) }), /no AWS client/);
    servers.imds.script({ status: 200, body: "token", delayMs: 5000 });
    const clients = createClients({
      aws: createAwsClients({ aws: {}, minio: { use_ssl: false }, endpoints: { metadata: servers.imds.url } }),
    });
    await assert.rejects(
      aws.gather(event, { clients, log, signal: AbortSignal.timeout(10_000) }),
      /did not answer within 2 s: is Kestrel running on EC2\?/,
    );
  });
});
