// The instance metadata comes through IMDSv2 (a token first, kept and renewed once when refused), and
// off EC2 the failure is clear and quick.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AwsTestServers, rejection, startAwsServers, TEST_REGION } from "../../../test/support/aws.ts";
import { closedPort } from "../../../test/support/ports.ts";
import { createAwsClients } from "./index.ts";

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
