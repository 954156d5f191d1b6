// aws:s3, minio:s3, aws:lambda and the aws context through the running server. The AWS clients are built
// from config.yaml (static keys + aws.role_arn/external_id; minio.*) and reach the test servers through the
// SDK's own endpoint variables (AWS_ENDPOINT_URL_S3/_LAMBDA/_STS, AWS_EC2_METADATA_SERVICE_ENDPOINT), as they
// would anywhere. Real producers make the artifacts: kubernetes:download (Kubernetes API test server) and
// local:command. Checked on the servers: objects in s3rver (multipart for large ones), Lambda requests
// (signed by the assumed role, qualifier, payload with the event and its context), AssumeRole; and in the
// notifications: locations, failures (function error, missing bucket, deadlines, unreachable IMDS).
// Last, a 160 MB artifact from an async generator goes to S3 in parts without the process growing by its size.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { createAwsClients } from "../../src/clients/aws/index.ts";
import { createClients } from "../../src/clients/index.ts";
import type { FalcoEvent } from "../../src/events/event.ts";
import awsS3 from "../../src/outputs/aws/s3.ts";
import type { ArtifactWrite } from "../../src/plugins/types.ts";
import { createRegistries } from "../../src/registries.ts";
import { loadRules } from "../../src/rules/index.ts";
import { type AccessKey, type AwsTestServers, credentialScope, signer, startAwsServers, TEST_REGION } from "../support/aws.ts";
import { falcoEvent } from "../support/events.ts";
import { postForNotifications, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";

const MIB = 1024 * 1024;
const PROFILE = { arn: "arn:aws:iam::123456789012:instance-profile/kestrel-node", id: "AIPAKESTRELNODE01" };

const RULES = `
- rule: Evidence to S3
  match: { rules: [Evidence to S3] }
  actions:
    - action: Download the file
      actionner: kubernetes:download
      parameters: { file: "\${FD_NAME}" }
      output: { target: aws:s3, parameters: { bucket: evidence, prefix: /falco/evidence/ } }

- rule: Evidence to a missing bucket
  match: { rules: [Evidence to a missing bucket] }
  actions:
    - action: Record
      actionner: local:command
      parameters: { command: [/bin/echo, "\${PROC_NAME}"] }
      output: { target: aws:s3, parameters: { bucket: no-such-bucket } }

- rule: Instance to MinIO
  match: { rules: [Instance to MinIO] }
  actions:
    - action: Record the instance
      actionner: local:command
      additional_contexts: [aws]
      parameters: { command: [/bin/echo, "\${PROC_NAME} in \${AWS_REGION} as \${AWS_INSTANCE_PROFILE_ARN}"] }
      output: { target: minio:s3, parameters: { bucket: minio-evidence, prefix: records } }

- rule: Lambda
  match: { rules: [Lambda] }
  actions:
    - action: Invoke the responder
      actionner: aws:lambda
      additional_contexts: [aws]
      parameters: { aws_lambda_name: responder, aws_lambda_alias_or_version: live }

- rule: Lambda async
  match: { rules: [Lambda async] }
  actions:
    - action: Queue the responder
      actionner: aws:lambda
      parameters: { aws_lambda_name: responder, aws_lambda_invocation_type: Event }

- rule: Lambda broken
  match: { rules: [Lambda broken] }
  actions:
    - action: Invoke the broken one
      actionner: aws:lambda
      parameters: { aws_lambda_name: broken }

- rule: Lambda slow
  match: { rules: [Lambda slow] }
  actions:
    - action: Invoke the slow one
      actionner: aws:lambda
      parameters: { aws_lambda_name: slow }
`;

describe("AWS plugins through the server", () => {
  let servers: AwsTestServers;
  let kubeApi: KubeApiServer;
  let receiver: Receiver;
  let kestrel: RunningKestrel;
  let user: AccessKey;
  let minioUser: AccessKey;
  let role: string;
  let config: string;

  const act = (k: RunningKestrel, rule: string, fields: Record<string, unknown>, count: number, timeoutMs = 15_000) =>
    postForNotifications(k, receiver, { rule, fields, count, timeoutMs });

  before(async () => {
    servers = await startAwsServers({
      functions: [
        {
          name: "responder",
          versions: ["4"],
          aliases: { live: "4" },
          handler: (e) => ({ quarantined: (e as { output_fields: Record<string, unknown> }).output_fields["k8s.pod.name"] }),
        },
        {
          name: "broken",
          handler: () => {
            throw new Error("cannot reach the firewall API");
          },
        },
        { name: "slow", handler: () => "late", durationMs: 5000 },
      ],
      imds: { instanceProfile: PROFILE },
    });
    user = servers.account.addUser("kestrel");
    minioUser = servers.account.addUser("minio-kestrel");
    role = servers.account.addRole("kestrel-responder", "ext-7");
    await servers.s3.createBucket("evidence");
    await servers.s3.createBucket("minio-evidence");
    kubeApi = await startKubeApi();
    receiver = await startReceiver();
    // The SDK's documented endpoint settings, read from the environment as in any deployment.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: servers.s3.url,
      AWS_ENDPOINT_URL_LAMBDA: servers.lambda.url,
      AWS_ENDPOINT_URL_STS: servers.sts.url,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: servers.imds.url,
    });
    const kubeconfig = await kubeApi.writeKubeconfig(await mkdtemp(join(tmpdir(), "kestrel-aws-kube-")));
    config = `kubeconfig: ${kubeconfig}
default_notifiers: [webhook]
notifiers:
  webhook:
    url: ${receiver.url}/hook
aws:
  access_key: ${user.accessKeyId}
  secret_key: ${user.secretAccessKey}
  region: ${TEST_REGION}
  role_arn: ${role}
  external_id: ext-7
minio:
  endpoint: ${new URL(servers.s3.url).host}
  access_key: ${minioUser.accessKeyId}
  secret_key: ${minioUser.secretAccessKey}
  use_ssl: false
`;
    kestrel = await startKestrel({ rules: RULES, config });
    kubeApi.addNamespace("shop");
    kubeApi.addNode("node-a");
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kubeApi?.close();
    await servers?.close();
  });

  it("at start, assumes the role with the static keys and external id, and logs whose credentials these are", () => {
    const assumed = servers.sts.assumed.filter((a) => a.roleArn === role);
    assert.equal(assumed.length, 1);
    assert.equal(assumed[0]!.accessKeyId, user.accessKeyId);
    assert.equal(assumed[0]!.externalId, "ext-7");
    const verified = kestrel.logs.find((l) => l["msg"] === "AWS credentials verified");
    assert.match(String(verified?.["aws_identity"]), /^arn:aws:sts::123456789012:assumed-role\/kestrel-responder\/kestrel-[0-9a-f]{8}$/);
  });

  it("kubernetes:download → aws:s3: 24 MB in parts, under the prefix whatever the event's file name, location notified", async () => {
    kubeApi.addPod("shop", "web-1", { node: "node-a" });
    const content = randomBytes(24 * MIB);
    kubeApi.setFile("shop", "web-1", "app", "/data/dump.bin", content);
    const [action, output] = await act(
      kestrel,
      "Evidence to S3",
      { "k8s.ns.name": "shop", "k8s.pod.name": "web-1", "fd.name": "/data/../../data/dump.bin" },
      2,
      30_000,
    );
    assert.equal(action!.status, "success", action!.error);
    assert.equal(output!.status, "success", output!.error);
    const key = output!.objects!["Key"]!;
    assert.match(key, /^falco\/evidence\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}_shop_web-1__data_.._.._data_dump\.bin$/);
    assert.equal(output!.location, `s3://evidence/${key}`);
    assert.match(output!.output!, new RegExp(`has been uploaded as the key '${key.replace(/[.]/g, "\\.")}' to the bucket 'evidence'`));
    assert.deepEqual(await servers.s3.keys("evidence"), [key]);
    assert.deepEqual(await servers.s3.digest("evidence", key), {
      sha256: createHash("sha256").update(content).digest("hex"),
      size: content.length,
    });
    assert.deepEqual(
      servers.s3.events.filter((e) => e.key === key).map((e) => e.name),
      ["ObjectCreated:Post"],
      "a multipart upload",
    );
    const calls = servers.s3.requests.filter((r) => r.url.startsWith("/evidence/"));
    assert.ok(calls.filter((r) => r.url.includes("partNumber=")).length >= 3, "several parts");
    for (const r of calls) {
      const session = servers.account.key(r.accessKeyId)!;
      assert.match(session.arn, /assumed-role\/kestrel-responder\//, "signed by the role's session");
      assert.equal(r.headers["x-amz-security-token"], session.sessionToken);
      assert.deepEqual(credentialScope(r.headers), { region: TEST_REGION, service: "s3" });
    }
  });

  it("local:command with the aws context → minio:s3 with the minio.* keys; the context reached the template", async () => {
    const [action, output] = await act(kestrel, "Instance to MinIO", { "proc.name": "nc" }, 2);
    assert.equal(action!.status, "success", action!.error);
    assert.equal(output!.status, "success", output!.error);
    const key = output!.objects!["Key"]!;
    assert.match(key, /^records\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}__bin_echo_command-output\.txt$/);
    assert.equal(output!.location, `s3://minio-evidence/${key}`);
    const stored = await servers.s3.object("minio-evidence", key);
    assert.equal(stored?.body.toString(), `nc in ${TEST_REGION} as ${PROFILE.arn}\n`);
    assert.equal(stored?.contentType, "text/plain");
    const put = servers.s3.requests.find((r) => r.url.startsWith(`/minio-evidence/${key.split("/")[0]}`))!;
    assert.equal(put.accessKeyId, minioUser.accessKeyId);
    assert.ok(servers.imds.requests.some((r) => r.method === "PUT" && r.url === "/latest/api/token"));
  });

  it("aws:lambda: the event and its context (Talon's keys, aws.*) to the alias, signed by the role's session", async () => {
    const [action] = await act(kestrel, "Lambda", { "k8s.ns.name": "shop", "k8s.pod.name": "web-9" }, 1);
    assert.equal(action!.status, "success", action!.error);
    assert.equal(action!.output, `the Lambda function 'responder' (version 4) has been invoked: {"quarantined":"web-9"}`);
    assert.deepEqual(action!.objects, { Name: "responder", Version: "4" }); // Talon's Title-cased keys
    const req = servers.lambda.requests.at(-1)!;
    assert.equal(req.url, "/2015-03-31/functions/responder/invocations?Qualifier=live");
    assert.match(
      String(req.headers["authorization"]),
      /^AWS4-HMAC-SHA256 Credential=ASIA[A-Z2-7]{16}\/\d{8}\/eu-west-3\/lambda\/aws4_request, SignedHeaders=[^,]*x-amz-security-token[^,]*, Signature=[0-9a-f]{64}$/,
    );
    assert.match(servers.account.key(signer(req.headers))!.arn, /assumed-role\/kestrel-responder\//);
    const payload = servers.lambda.invocations.at(-1)!.payload as {
      rule: string;
      output_fields: Record<string, unknown>;
      context: Record<string, string>;
    };
    assert.equal(payload.rule, "Lambda");
    assert.equal(payload.output_fields["k8s.pod.name"], "web-9");
    assert.deepEqual(payload.context, {
      "falco-talon.rule": "Lambda",
      "falco-talon.action": "Invoke the responder",
      "falco-talon.action.parameters": JSON.stringify({ aws_lambda_alias_or_version: "live", aws_lambda_name: "responder" }),
      "falco-talon.actionner": "aws:lambda",
      "aws.instance_profile_arn": PROFILE.arn,
      "aws.instance_profile_id": PROFILE.id,
      "aws.region": TEST_REGION,
    });
  });

  it("aws:lambda: an Event invocation (202) is a success; a function error is a failure carrying it", async () => {
    const [queued] = await act(kestrel, "Lambda async", {}, 1);
    assert.equal(queued!.status, "success", queued!.error);
    assert.match(queued!.output!, /invoked asynchronously \(HTTP 202\)/);
    assert.equal(servers.lambda.invocations.at(-1)!.invocationType, "Event");
    const [broken] = await act(kestrel, "Lambda broken", {}, 1);
    assert.equal(broken!.status, "failure");
    assert.equal(broken!.error, "the Lambda function 'broken' (version $LATEST) failed (Unhandled): Error: cannot reach the firewall API");
  });

  it("an upload to a missing bucket is an output failure saying so", async () => {
    const [action, output] = await act(kestrel, "Evidence to a missing bucket", { "proc.name": "sh" }, 2);
    assert.equal(action!.status, "success");
    assert.equal(output!.message, "output");
    assert.equal(output!.status, "failure");
    assert.match(
      output!.error!,
      /cannot upload s3:\/\/no-such-bucket\/.* to AWS S3 \(eu-west-3\): the bucket 'no-such-bucket' does not exist \(NoSuchBucket/,
    );
  });

  it("deadlines: a slow function, a stalled upload and an unanswering IMDS fail the action within action_timeout_seconds", async () => {
    const quick = await startKestrel({ rules: RULES, config: `action_timeout_seconds: 1\n${config}` });
    try {
      let started = Date.now();
      const [slow] = await act(quick, "Lambda slow", {}, 1);
      assert.equal(slow!.status, "failure");
      assert.match(slow!.error!, /did not finish within 1 s|cancelled/);
      assert.ok(Date.now() - started < 3000);

      servers.s3.stall((r) => r.url.startsWith("/no-such-bucket/"));
      started = Date.now();
      const [, output] = await act(quick, "Evidence to a missing bucket", { "proc.name": "sh" }, 2);
      assert.equal(output!.status, "failure");
      assert.match(output!.error!, /did not finish within 1 s|cancelled/);
      assert.ok(Date.now() - started < 3000);

      servers.imds.script({ status: 200, body: "token", delayMs: 5000 });
      const [noContext] = await act(quick, "Lambda", {}, 1);
      assert.equal(noContext!.status, "failure");
      assert.match(
        noContext!.error!,
        /context "aws": the request to the instance metadata service was cancelled|did not finish within 1 s/,
      );
    } finally {
      await quick.close();
    }
  });

  it("a credential problem stops the start, naming the setting; rules without AWS create no AWS client", async () => {
    await assert.rejects(
      startKestrel({ rules: RULES, config: config.replace("external_id: ext-7", "external_id: wrong") }),
      (err: Error) => {
        assert.match(
          err.message,
          /cannot assume the role 'arn:aws:iam::123456789012:role\/kestrel-responder' \(aws\.role_arn with aws\.external_id\)/,
        );
        assert.match(err.message, /AccessDenied/);
        return true;
      },
    );
    await assert.rejects(
      startKestrel({ rules: RULES, config: config.replace(/ {2}secret_key: .*\n/, "") }),
      /aws\.secret_key is not set: aws\.access_key needs it/,
    );
    const minioOnly = `
- rule: M
  match: { rules: [M] }
  actions:
    - action: Record
      actionner: local:command
      parameters: { command: [/bin/true] }
      output: { target: minio:s3, parameters: { bucket: bkt } }
`;
    await assert.rejects(
      startKestrel({ rules: minioOnly, config: "minio:\n  endpoint: minio.local:9000\n" }),
      /minio\.access_key is not set; minio\.secret_key is not set/,
    );
    const stsBefore = servers.sts.requests.length;
    const plain = await startKestrel({
      rules:
        "- rule: P\n  match: { rules: [P] }\n  actions:\n    - action: A\n      actionner: local:command\n      parameters: { command: [/bin/true] }\n",
      config,
    });
    try {
      assert.equal(servers.sts.requests.length, stsBefore, "no STS call");
      assert.ok(!plain.logs.some((l) => l["msg"] === "AWS credentials verified"));
    } finally {
      await plain.close();
    }
  });

  it("a reload that brings AWS rules checks the credentials first: refused, naming the setting, the old rules kept", async () => {
    const plainRules =
      "- rule: P\n  match: { rules: [P] }\n  actions:\n    - action: A\n      actionner: local:command\n      parameters: { command: [/bin/true] }\n";
    const k = await startKestrel({ rules: plainRules, config: config.replace("external_id: ext-7", "external_id: wrong") });
    try {
      const file = join(await mkdtemp(join(tmpdir(), "kestrel-aws-reload-")), "rules.yaml");
      await writeFile(file, RULES);
      const { ruleSet } = await loadRules([file], createRegistries());
      await assert.rejects(k.app.applyRules(ruleSet!), /cannot assume the role .* \(aws\.role_arn with aws\.external_id\).*AccessDenied/);
      const [still] = await act(k, "P", {}, 1);
      assert.equal(still!.status, "success", "the old rules still serve");
      const invocations = servers.lambda.requests.length;
      assert.equal((await k.post(falcoEvent({ rule: "Lambda async" }))).status, 200);
      await k.settled();
      assert.equal(servers.lambda.requests.length, invocations, "the AWS rules were not swapped in");
    } finally {
      await k.close();
    }
  });
});

describe("a large artifact to aws:s3", () => {
  let servers: AwsTestServers;
  before(async () => {
    servers = await startAwsServers({ functions: [] });
    await servers.s3.createBucket("captures");
  });
  after(() => servers?.close());

  it("streams 160 MB from an async generator in parts; the process does not grow by its size", async () => {
    const user = servers.account.addUser();
    const clients = createClients({
      aws: createAwsClients({
        aws: { access_key: user.accessKeyId, secret_key: user.secretAccessKey, region: TEST_REGION },
        minio: { use_ssl: false },
        endpoints: { s3: servers.s3.url },
      }),
    });
    const ctx = {
      event: {} as FalcoEvent,
      params: { bucket: "captures", prefix: "pcap" },
      objects: { namespace: "shop", pod: "web-1" },
      clients,
      log: pino({ level: "silent" }),
      signal: AbortSignal.timeout(120_000),
      traceId: "t",
    } as unknown as ArtifactWrite<typeof awsS3.params>;
    const capture = async function* (total: number, hash = createHash("sha256")): AsyncGenerator<Uint8Array> {
      const chunk = 256 * 1024;
      for (let sent = 0; sent < total; sent += chunk) {
        const part = randomBytes(chunk);
        hash.update(part);
        yield part;
      }
    };
    // A first upload loads the SDK's code and fills its pools, which are not the artifact's memory.
    await awsS3.write({ name: "warm-up.pcap", data: capture(16 * MIB) }, ctx);
    const eventsBefore = servers.s3.events.length;
    const partsBefore = servers.s3.requests.filter((r) => r.url.includes("partNumber=")).length;

    const total = 160 * MIB;
    const hash = createHash("sha256");
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    let res: Awaited<ReturnType<typeof awsS3.write>>;
    try {
      res = await awsS3.write({ name: "capture.pcap", contentType: "application/vnd.tcpdump.pcap", data: capture(total, hash) }, ctx);
    } finally {
      clearInterval(sampler);
    }
    const key = res.objects!["key"]!;
    assert.deepEqual(await servers.s3.digest("captures", key), { sha256: hash.digest("hex"), size: total });
    assert.deepEqual(
      servers.s3.events.slice(eventsBefore).map((e) => e.name),
      ["ObjectCreated:Post"],
      "one multipart upload",
    );
    assert.equal(servers.s3.requests.filter((r) => r.url.includes("partNumber=")).length - partsBefore, 20, "20 parts of 8 MiB");
    const grown = peak - baseline;
    assert.ok(grown < total / 2, `RSS grew by ${(grown / MIB).toFixed(1)} MiB for a ${total / MIB} MiB artifact`);
  });
});
