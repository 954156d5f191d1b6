// The aws.* and minio.* settings, checked from their text alone: problems name their setting, and
// prepare() checks only the parts the rules use.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rejection } from "../../../test/support/aws.ts";
import { closedPort } from "../../../test/support/ports.ts";
import { createAwsClients } from "./index.ts";
import { awsSettingsProblems, minioTarget } from "./settings.ts";

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
