// `kestrel server` as a process with a config file and a rules file using aws:s3, minio:s3, aws:lambda and
// the aws context, pointed at the AWS test servers only through the SDK's documented environment variables
// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL_STS, AWS_EC2_METADATA_SERVICE_ENDPOINT);
// the static keys come from Talon's env vars (AWS_ACCESS_KEY, AWS_SECRET_KEY), the role from the file.
// Checked: the start-up identity, the objects in s3rver, the Lambda invocation, the notified locations, a
// clean SIGTERM; and a credential problem that stops the start with exit code 1, naming the setting.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AccessKey, type AwsTestServers, signer, startAwsServers, TEST_REGION } from "../support/aws.ts";
import { falcoEvent } from "../support/events.ts";
import type { WebhookNotification } from "../support/kestrel.ts";
import { spawnKestrel, startKestrelProcess, tempFiles } from "../support/process.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const PROFILE = { arn: "arn:aws:iam::123456789012:instance-profile/kestrel-e2e", id: "AIPAKESTRELE2E001" };

const RULES = `
- action: Record the process
  actionner: local:command
  additional_contexts: [aws]
  parameters:
    command: [/bin/echo, "\${PROC_NAME} on \${HOSTNAME} in \${AWS_REGION}"]

- rule: Exfiltration
  match:
    rules: [Exfiltration]
  actions:
    - action: Record the process
      output:
        target: aws:s3
        parameters: { bucket: evidence, prefix: falco/records, region: ${TEST_REGION} }
    - action: Record the process for MinIO
      actionner: local:command
      parameters: { command: [/bin/echo, "\${K8S_POD_NAME}"] }
      output:
        target: minio:s3
        parameters: { bucket: minio-evidence, prefix: /pods/ }
    - action: Quarantine through Lambda
      actionner: aws:lambda
      additional_contexts: [aws]
      parameters:
        aws_lambda_name: quarantine
        aws_lambda_alias_or_version: prod
        aws_lambda_invocation_type: RequestResponse
`;

describe("kestrel server with AWS and MinIO", () => {
  let servers: AwsTestServers;
  let receiver: Receiver;
  let user: AccessKey;
  let minioUser: AccessKey;
  let role: string;
  let dir: string;

  const config = (externalId: string) => `listen_address: 127.0.0.1
listen_port: 0
log_format: json
watch_rules: false
default_notifiers: [webhook]
notifiers:
  webhook:
    url: ${receiver.url}/hook
aws:
  region: ${TEST_REGION}
  role_arn: ${role}
  external_id: ${externalId}
minio:
  endpoint: ${new URL(servers.s3.url).host}
  access_key: ${minioUser.accessKeyId}
  secret_key: ${minioUser.secretAccessKey}
  use_ssl: false
`;
  const env = (): Record<string, string> => ({
    AWS_ACCESS_KEY: user.accessKeyId,
    AWS_SECRET_KEY: user.secretAccessKey,
    AWS_ENDPOINT_URL_S3: servers.s3.url,
    AWS_ENDPOINT_URL_LAMBDA: servers.lambda.url,
    AWS_ENDPOINT_URL_STS: servers.sts.url,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: servers.imds.url,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
    AWS_CONFIG_FILE: join(dir, "no-config"),
  });

  before(async () => {
    servers = await startAwsServers({
      functions: [
        {
          name: "quarantine",
          versions: ["12"],
          aliases: { prod: "12" },
          handler: (e) => ({ isolated: (e as { context: Record<string, string> }).context["aws.region"] }),
        },
      ],
      imds: { instanceProfile: PROFILE },
    });
    receiver = await startReceiver();
    user = servers.account.addUser("kestrel");
    minioUser = servers.account.addUser("minio");
    role = servers.account.addRole("kestrel-e2e", "e2e-external-id");
    await servers.s3.createBucket("evidence");
    await servers.s3.createBucket("minio-evidence");
    dir = await tempFiles("kestrel-e2e-aws-", {
      "rules.yaml": RULES,
      "config.yaml": config("e2e-external-id"),
      "wrong.yaml": config("not-the-external-id"),
    });
  });
  after(async () => {
    await receiver?.close();
    await servers?.close();
  });

  it("stores artifacts in S3 and MinIO and invokes Lambda with the aws context, from one server process", async () => {
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml"), env: env() });
    const { lines } = kestrel;
    try {
      const verified = JSON.parse(lines.find((l) => l.includes("AWS credentials verified"))!) as { aws_identity: string };
      assert.match(verified.aws_identity, /^arn:aws:sts::123456789012:assumed-role\/kestrel-e2e\/kestrel-[0-9a-f]{8}$/);
      assert.equal(servers.sts.assumed.at(-1)!.accessKeyId, user.accessKeyId, "the role was assumed with AWS_ACCESS_KEY/AWS_SECRET_KEY");
      assert.equal(servers.sts.assumed.at(-1)!.externalId, "e2e-external-id");

      const res = await kestrel.post(
        falcoEvent({ rule: "Exfiltration", fields: { "proc.name": "curl", "k8s.ns.name": "prod", "k8s.pod.name": "../../../etc/web-7" } }),
      );
      assert.equal(res.status, 200);
      await until(() => receiver.requests.length >= 5, `5 notifications, got:\n${receiver.requests.map((r) => r.body).join("\n")}`, 15_000);
      const bodies = receiver.requests.map((r) => JSON.parse(r.body) as WebhookNotification);
      for (const b of bodies) assert.equal(b.status, "success", `${b.action} (${b.message}): ${b.error}`);

      const s3Out = bodies.find((b) => b.message === "output" && b.output_target === "aws:s3")!;
      const s3Key = s3Out.objects!["Key"]!;
      assert.match(s3Key, /^falco\/records\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}__bin_echo_command-output\.txt$/);
      assert.equal(s3Out.location, `s3://evidence/${s3Key}`);
      assert.equal((await servers.s3.object("evidence", s3Key))?.body.toString(), `curl on node-1 in ${TEST_REGION}\n`);
      const s3Put = servers.s3.requests.find((r) => r.url.startsWith("/evidence/"))!;
      assert.match(servers.account.key(s3Put.accessKeyId)!.arn, /assumed-role\/kestrel-e2e\//);

      const minioOut = bodies.find((b) => b.message === "output" && b.output_target === "minio:s3")!;
      const minioKey = minioOut.objects!["Key"]!;
      assert.match(minioKey, /^pods\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}__bin_echo_command-output\.txt$/);
      assert.equal(minioOut.location, `s3://minio-evidence/${minioKey}`);
      assert.equal((await servers.s3.object("minio-evidence", minioKey))?.body.toString(), "../../../etc/web-7\n");
      assert.equal(servers.s3.requests.find((r) => r.url.startsWith("/minio-evidence/"))!.accessKeyId, minioUser.accessKeyId);

      const lambda = bodies.find((b) => b.message === "action" && b.action === "Quarantine through Lambda")!;
      assert.equal(lambda.output, `the Lambda function 'quarantine' (version 12) has been invoked: {"isolated":"${TEST_REGION}"}`);
      const invocation = servers.lambda.invocations.at(-1)!;
      assert.equal(invocation.qualifier, "prod");
      const payload = invocation.payload as { rule: string; output_fields: Record<string, unknown>; context: Record<string, string> };
      assert.equal(payload.rule, "Exfiltration");
      assert.equal(payload.output_fields["proc.name"], "curl");
      assert.equal(payload.context["falco-talon.actionner"], "aws:lambda");
      assert.equal(payload.context["aws.instance_profile_arn"], PROFILE.arn);
      assert.equal(payload.context["aws.instance_profile_id"], PROFILE.id);
      assert.match(servers.account.key(signer(servers.lambda.requests.at(-1)!.headers))!.arn, /assumed-role\/kestrel-e2e\//);

      assert.equal(await kestrel.stop(), 0);
    } finally {
      kestrel.kill();
    }
  });

  it("a role that cannot be assumed stops the start: exit code 1, the setting named", async () => {
    const kestrel = spawnKestrel({ config: join(dir, "wrong.yaml"), rules: join(dir, "rules.yaml"), env: env() });
    const { lines } = kestrel;
    try {
      assert.equal(await kestrel.waitForExit(), 1);
      const fatal = lines.find((l) => l.includes("cannot start"));
      assert.ok(fatal !== undefined, lines.join("\n"));
      assert.match(fatal, /cannot assume the role 'arn:aws:iam::123456789012:role\/kestrel-e2e' \(aws\.role_arn with aws\.external_id\)/);
      assert.match(fatal, /AccessDenied/);
      assert.ok(!lines.some((l) => l.includes("Kestrel is listening")));
    } finally {
      kestrel.kill();
    }
  });
});
