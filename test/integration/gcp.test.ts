// gcp:gcs and gcp:function through the running server, with the Google Cloud client created from config.yaml
// (gcp.credentials_path, gcp.storage_endpoint, gcp.functions_endpoint) and the real SDK clients talking to
// the test servers of test/support/gcp.ts: artifacts land in the bucket under the prefix whatever the event
// says, functions get the event and its context with an ID token issued by the token server, and every
// failure (missing bucket, denied bucket, 5xx, 403, 404, timeouts, deadline) is notified with its reason.
// A 32 MiB artifact from an async generator goes up in resumable chunks, never more than two chunks in memory.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { createGcpClient } from "../../src/clients/gcp/index.ts";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import type { FalcoEvent } from "../../src/events/event.ts";
import gcs from "../../src/outputs/gcp/gcs.ts";
import { falcoEvent } from "../support/events.ts";
import { type FakeGcp, startFakeGcp } from "../support/gcp.ts";
import { notificationsOf, postForNotifications, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Command output to GCS
  match: { rules: [GCS command] }
  actions:
    - action: Record the event
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "cat"] }
      output: { target: gcp:gcs, parameters: { bucket: artifacts, prefix: kestrel/commands } }

- rule: Command output to GCS, retried
  match: { rules: [GCS retry] }
  actions:
    - action: Record the event again
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo retried"] }
      output: { target: gcp:gcs, parameters: { bucket: artifacts, prefix: kestrel/retried } }

- rule: Command output to a missing bucket
  match: { rules: [GCS missing bucket] }
  actions:
    - action: Record nowhere
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo lost"] }
      output: { target: gcp:gcs, parameters: { bucket: no-such-bucket } }

- rule: Command output to a denied bucket
  match: { rules: [GCS denied bucket] }
  actions:
    - action: Record where denied
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo denied"] }
      output: { target: gcp:gcs, parameters: { bucket: locked } }

- rule: Call the function
  match: { rules: [Function] }
  actions:
    - action: Quarantine
      actionner: gcp:function
      parameters: { gcp_function_name: quarantine, gcp_function_location: europe-west1, gcp_function_timeout: 1 }

- rule: Call a missing function
  match: { rules: [Function missing] }
  actions:
    - action: Call the ghost
      actionner: gcp:function
      parameters: { gcp_function_name: ghost, gcp_function_location: us-central1 }
`;

describe("gcp:gcs and gcp:function in the server", () => {
  let fake: FakeGcp;
  let receiver: Receiver;
  let kestrel: RunningKestrel;
  let keyPath: string;
  let dir: string;
  const gcpConfig = () =>
    `gcp:\n  credentials_path: ${keyPath}\n  storage_endpoint: ${fake.storageUrl}\n  functions_endpoint: ${fake.functionsApiUrl}\n`;

  const act = (via: RunningKestrel, rule: string, count: number, fields: Record<string, unknown> = {}, timeoutMs = 15_000) =>
    postForNotifications(via, receiver, { rule, fields, count, timeoutMs });

  before(async () => {
    fake = await startFakeGcp();
    receiver = await startReceiver();
    dir = await mkdtemp(join(tmpdir(), "kestrel-gcp-it-"));
    keyPath = await fake.writeKeyFile(dir);
    fake.addBucket("artifacts");
    fake.addBucket("locked", { denied: true });
    kestrel = await startKestrel({
      rules: RULES,
      config: `${gcpConfig()}action_timeout_seconds: 4\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await fake?.close();
  });

  describe("gcp:gcs", () => {
    it("stores the artifact under the prefix with Talon's name and notifies where it went", async () => {
      const [action, output] = await act(kestrel, "GCS command", 2);
      assert.equal(action!.status, "success", action!.error);
      assert.equal(output!.message, "output");
      assert.equal(output!.status, "success", output!.error);
      assert.equal(output!.output_target, "gcp:gcs");
      const key = output!.objects!["Key"]!;
      assert.match(key, /^kestrel\/commands\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}__bin_sh_command-output\.txt$/);
      assert.equal(output!.location, `gs://artifacts/${key}`);
      assert.equal(output!.objects!["Bucket"], "artifacts");
      const stored = fake.object("artifacts", key)!;
      const body = JSON.parse(stored.data.toString("utf8")) as { rule: string; context: Record<string, string> };
      assert.equal(body.rule, "GCS command");
      assert.equal(body.context["falco-talon.rule"], "Command output to GCS");
      assert.equal(stored.contentType, "text/plain");
      const upload = fake.requests.filter((r) => r.api === "storage" && r.method === "POST" && r.query.get("name") === key);
      assert.equal(upload.length, 1);
      assert.match(String(upload[0]!.headers.authorization), /^Bearer ya29\./, "the token the token server issued");
      assert.ok(
        fake.tokenGrants.some((g) => g.kind === "access" && String(g.claims["iss"]).endsWith(`@${fake.projectId}.iam.gserviceaccount.com`)),
      );
    });

    it("notifies a failure naming the bucket that does not exist, or the permission a bucket refuses", async () => {
      const [, missing] = await act(kestrel, "GCS missing bucket", 2);
      assert.equal(missing!.status, "failure");
      assert.match(missing!.error ?? "", /the bucket 'no-such-bucket' does not exist/);
      const [, denied] = await act(kestrel, "GCS denied bucket", 2);
      assert.equal(denied!.status, "failure");
      assert.match(
        denied!.error ?? "",
        /permission denied: gcp\.credentials_path ".*" needs storage\.objects\.create on the bucket 'locked'/,
      );
      assert.equal(fake.objects("locked").length, 0);
    });

    it("retries a 503 from Cloud Storage and stores the artifact", async () => {
      fake.script("storage", { status: 503, match: (r) => r.method === "POST" && r.path.startsWith("/upload/") });
      const [, output] = await act(kestrel, "GCS retry", 2);
      assert.equal(output!.status, "success", output!.error);
      assert.equal(fake.object("artifacts", output!.objects!["Key"]!)!.data.toString(), "retried\n");
      const posts = fake.requests.filter(
        (r) => r.api === "storage" && r.method === "POST" && r.query.get("name")?.startsWith("kestrel/retried/"),
      );
      assert.deepEqual(
        posts.map((r) => r.status),
        [503, 200],
      );
    });

    it("fails at the action's deadline when Cloud Storage stops answering", async () => {
      fake.script("storage", { stall: true, match: (r) => r.method === "POST" && r.path.startsWith("/upload/") });
      const started = Date.now();
      const [, output] = await act(kestrel, "GCS command", 2);
      assert.equal(output!.status, "failure");
      assert.match(output!.error ?? "", /did not finish within 4 s|cancelled/);
      assert.ok(Date.now() - started < 10_000);
    });
  });

  describe("gcp:function", () => {
    it("POSTs the event and its context with an ID token for the function URL, and notifies the answer", async () => {
      const fn = fake.addFunction("europe-west1", "quarantine");
      fn.respond = () => ({ status: 200, body: '{"quarantined":true}', headers: { "content-type": "application/json" } });
      const before = fake.functionCalls.length;
      const [action] = await act(kestrel, "Function", 1, { "k8s.pod.name": "web-7" });
      assert.equal(action!.status, "success", action!.error);
      assert.equal(action!.output, "the function 'quarantine' in the location 'europe-west1' has been called: HTTP 200");
      assert.equal(action!.objects!["Function_response"], '{"quarantined":true}');
      assert.equal(action!.objects!["Function_response_status"], "200");
      const calls = fake.functionCalls.slice(before);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.url, fn.url);
      assert.equal(calls[0]!.claims?.["aud"], fn.url, "an ID token issued by the token server, for this URL");
      assert.match(String(calls[0]!.claims?.["email"]), /@kestrel-test\.iam\.gserviceaccount\.com$/);
      const body = JSON.parse(calls[0]!.body) as { rule: string; output_fields: Record<string, unknown>; context: Record<string, string> };
      assert.equal(body.rule, "Function");
      assert.equal(body.output_fields["k8s.pod.name"], "web-7");
      assert.equal(body.context["falco-talon.action"], "Quarantine");
      assert.equal(body.context["falco-talon.actionner"], "gcp:function");
      const lookup = fake.requests.filter((r) => r.api === "functions").at(-1)!;
      assert.equal(lookup.path, "/v2/projects/kestrel-test/locations/europe-west1/functions/quarantine");
    });

    it("notifies a failure carrying the answer of a 500, the permission of a 403, and a missing function", async () => {
      const fn = fake.addFunction("europe-west1", "quarantine");
      fn.respond = () => ({ status: 500, body: "cannot reach the firewall", headers: { "content-type": "text/plain" } });
      const [failed] = await act(kestrel, "Function", 1);
      assert.equal(failed!.status, "failure");
      assert.equal(failed!.error, "the function 'quarantine' in the location 'europe-west1' answered HTTP 500: cannot reach the firewall");
      fn.respond = undefined;
      fn.invokers = ["ops@elsewhere.iam.gserviceaccount.com"];
      const [refused] = await act(kestrel, "Function", 1);
      assert.equal(refused!.status, "failure");
      assert.match(refused!.error ?? "", /refused the call with HTTP 403: .* needs the invoker role on the function/);
      const [ghost] = await act(kestrel, "Function missing", 1);
      assert.equal(ghost!.status, "failure");
      assert.match(ghost!.error ?? "", /the function 'ghost' does not exist in the location 'us-central1'/);
    });

    it("gives up after gcp_function_timeout seconds (Talon read them as nanoseconds)", async () => {
      const fn = fake.addFunction("europe-west1", "quarantine");
      fn.respond = () => ({ delayMs: 6000, status: 200, body: "late" });
      const started = Date.now();
      const [slow] = await act(kestrel, "Function", 1);
      const elapsed = Date.now() - started;
      assert.equal(slow!.status, "failure");
      assert.match(slow!.error ?? "", /no answer within 1 s/);
      assert.ok(elapsed >= 1000 && elapsed < 3500, `${elapsed} ms: the 1 s timeout, not the 4 s action deadline nor the 6 s answer`);
    });
  });

  describe("starting", () => {
    it("refuses to start when gcp.credentials_path cannot be read, naming it", async () => {
      const missing = join(dir, "missing.json");
      await assert.rejects(
        startKestrel({ rules: RULES, config: `gcp:\n  credentials_path: ${missing}\n` }),
        new RegExp(`gcp\\.credentials_path "${missing}": cannot read the credentials file \\(ENOENT\\)`),
      );
    });

    it("creates no Google Cloud client when no rule needs one, whatever the gcp settings", async () => {
      const local = await startKestrel({
        rules:
          "- rule: Local\n  match: { rules: [Local] }\n  actions:\n    - action: Echo\n      actionner: local:command\n      parameters: { command: [/bin/true] }\n",
        config: `gcp:\n  credentials_path: ${join(dir, "missing.json")}\n`,
      });
      await local.close();
    });
  });
});

describe("gcp:gcs with artifacts from Kubernetes", () => {
  let fake: FakeGcp;
  let kubeApi: KubeApiServer;
  let receiver: Receiver;
  let kestrel: RunningKestrel;

  before(async () => {
    fake = await startFakeGcp();
    kubeApi = await startKubeApi();
    receiver = await startReceiver();
    const dir = await mkdtemp(join(tmpdir(), "kestrel-gcp-k8s-"));
    fake.addBucket("captures");
    const gcp = createGcpClient(
      { credentials_path: await fake.writeKeyFile(dir), storage_endpoint: fake.storageUrl, functions_endpoint: "" },
      { env: {} },
    );
    kestrel = await startKestrel({
      rules: `
- rule: Download
  match: { rules: [Download] }
  actions:
    - action: Download the file
      actionner: kubernetes:download
      parameters: { file: "\${FD_NAME}" }
      output: { target: gcp:gcs, parameters: { bucket: captures, prefix: /falco/files/ } }
`,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
      clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()), gcp }),
    });
    kubeApi.addNamespace("shop");
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kubeApi?.close();
    await fake?.close();
  });

  it("keeps a file name with ../ from the event inside the prefix, as one plain name", async () => {
    kubeApi.addPod("shop", "web-3");
    kubeApi.setFile("shop", "web-3", "app", "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    const res = await kestrel.post(
      falcoEvent({ rule: "Download", fields: { "k8s.ns.name": "shop", "k8s.pod.name": "web-3", "fd.name": "/data/../../etc/passwd" } }),
    );
    const { trace_id } = (await res.json()) as { trace_id: string };
    const mine = () => notificationsOf(receiver, trace_id);
    await until(() => mine().length >= 2, "the download and its upload", 15_000);
    const output = mine().find((b) => b.message === "output")!;
    assert.equal(output.status, "success", output.error);
    const key = output.objects!["Key"]!;
    assert.match(key, /^falco\/files\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}_shop_web-3__data_\.\._\.\._etc_passwd$/);
    assert.equal(fake.object("captures", key)!.data.toString(), "root:x:0:0:root:/root:/bin/sh\n");
    assert.deepEqual(
      fake.objects("captures").map((o) => o.name.startsWith("falco/files/") && !o.name.slice("falco/files/".length).includes("/")),
      [true],
    );
  });
});

describe("gcp:gcs with a large streamed artifact", () => {
  let fake: FakeGcp;
  after(() => fake?.close());

  it("uploads 32 MiB from an async generator in 4 MiB resumable chunks, never more than two chunks ahead of the server", async () => {
    fake = await startFakeGcp();
    fake.addBucket("big");
    const dir = await mkdtemp(join(tmpdir(), "kestrel-gcp-big-"));
    const MiB = 1024 * 1024;
    const gcp = createGcpClient(
      { credentials_path: await fake.writeKeyFile(dir), storage_endpoint: fake.storageUrl, functions_endpoint: "" },
      { env: {}, uploadChunkBytes: 4 * MiB },
    );
    const CHUNK = 64 * 1024;
    const TOTAL = 32 * 1024 * 1024;
    const hash = createHash("sha256");
    let produced = 0;
    let maxAhead = 0;
    async function* capture(): AsyncGenerator<Uint8Array> {
      for (let i = 0; produced < TOTAL; i++) {
        const chunk = Buffer.alloc(CHUNK, i % 251);
        chunk.writeUInt32BE(i, 0);
        hash.update(chunk);
        produced += chunk.length;
        // Bytes handed to Kestrel that the server has not received yet: what Kestrel holds in memory.
        maxAhead = Math.max(maxAhead, produced - fake.storageBytesReceived());
        yield chunk;
      }
    }
    const ctx = {
      event: {} as FalcoEvent,
      params: { bucket: "big", prefix: "captures" },
      objects: { namespace: "shop", pod: "web-1" },
      clients: createClients({ gcp }),
      log: pino({ level: "silent" }),
      signal: AbortSignal.timeout(60_000),
      traceId: "t",
    };
    const res = await gcs.write({ name: "tcpdump.pcap", contentType: "application/vnd.tcpdump.pcap", data: capture() }, ctx);
    const stored = fake.object("big", res.objects!["key"]!)!;
    assert.equal(stored.data.length, TOTAL);
    assert.equal(createHash("sha256").update(stored.data).digest("hex"), hash.digest("hex"));
    const session = [...fake.sessions.values()].find((s) => s.name === stored.name)!;
    assert.deepEqual(
      session.ranges,
      Array.from({ length: 8 }, (_, i) => `bytes ${i * 4 * MiB}-${(i + 1) * 4 * MiB - 1}/${i === 7 ? 32 * MiB : "*"}`),
    );
    // The library gathers one chunk to send while the next one fills: two chunks at most, whatever the size.
    assert.ok(maxAhead <= 2 * 4 * MiB + 2 * MiB, `Kestrel held ${(maxAhead / MiB).toFixed(1)} MiB ahead of the server`);
    assert.ok(maxAhead >= 2 * MiB, "the measurement saw a chunk being gathered");
  });
});
