// `kestrel server` as a process, configured for Google Cloud by its config file (gcp.credentials_path with a
// service-account key whose token_uri is the test token server, gcp.storage_endpoint) and one env var
// (GCP_FUNCTIONS_ENDPOINT, as Talon's viper reads `gcp.functions_endpoint`): one server runs a rule storing
// a command's output with gcp:gcs and a rule calling a function with gcp:function; the bucket, the function
// and the webhook notifications are checked, then SIGTERM exits 0.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGcp, startFakeGcp } from "../support/gcp.ts";
import { postForNotifications } from "../support/kestrel.ts";
import { type KestrelProcess, startKestrelProcess } from "../support/process.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";

describe("kestrel server with Google Cloud", () => {
  let fake: FakeGcp;
  let receiver: Receiver;
  let kestrel: KestrelProcess | undefined;

  before(async () => {
    fake = await startFakeGcp();
    receiver = await startReceiver();
    fake.addBucket("falco-artifacts");
    const dir = await mkdtemp(join(tmpdir(), "kestrel-e2e-gcp-"));
    const key = await fake.writeKeyFile(dir);
    await writeFile(
      join(dir, "config.yaml"),
      `listen_address: 127.0.0.1
listen_port: 0
log_format: json
default_notifiers: [webhook]
notifiers:
  webhook:
    url: ${receiver.url}/hook
gcp:
  credentials_path: ${key}
  storage_endpoint: ${fake.storageUrl}
`,
    );
    await writeFile(
      join(dir, "rules.yaml"),
      `
- rule: Keep the evidence
  match: { rules: [E2E gcs] }
  actions:
    - action: Record the process tree
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo evidence; cat"] }
      output:
        target: gcp:gcs
        parameters: { bucket: falco-artifacts, prefix: kestrel/e2e }

- rule: Ask the function
  match: { rules: [E2E function] }
  actions:
    - action: Invoke GCP function
      actionner: gcp:function
      parameters:
        gcp_function_name: sample-function
        gcp_function_location: us-central1
        gcp_function_timeout: 10
`,
    );
    kestrel = await startKestrelProcess({
      config: join(dir, "config.yaml"),
      rules: join(dir, "rules.yaml"),
      env: { GCP_FUNCTIONS_ENDPOINT: fake.functionsApiUrl },
    });
  });

  after(async () => {
    kestrel?.kill();
    await receiver?.close();
    await fake?.close();
  });

  const post = (rule: string, fields: Record<string, unknown>, count: number) =>
    postForNotifications(kestrel!, receiver, { rule, fields, count, timeoutMs: 15_000 }, () => kestrel!.lines.join("\n"));

  it("stores a command's output in the bucket under the prefix and notifies its gs:// location", async () => {
    const [action, stored] = await post("E2E gcs", { "k8s.pod.name": "web-9" }, 2);
    assert.equal(action!.status, "success", action!.error);
    assert.equal(stored!.message, "output");
    assert.equal(stored!.status, "success", stored!.error);
    const key = stored!.objects!["Key"]!;
    assert.match(key, /^kestrel\/e2e\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}__bin_sh_command-output\.txt$/);
    assert.equal(stored!.location, `gs://falco-artifacts/${key}`);
    const object = fake.object("falco-artifacts", key)!;
    const [first, ...rest] = object.data.toString("utf8").split("\n");
    assert.equal(first, "evidence");
    const event = JSON.parse(rest.join("\n")) as { rule: string; output_fields: Record<string, unknown>; context: Record<string, string> };
    assert.equal(event.rule, "E2E gcs");
    assert.equal(event.output_fields["k8s.pod.name"], "web-9");
    assert.equal(event.context["falco-talon.rule"], "Keep the evidence");
    assert.ok(
      fake.requests.some(
        (r) => r.api === "storage" && r.query.get("name") === key && /^Bearer ya29\./.test(String(r.headers.authorization)),
      ),
      "the upload carried a token from the key's token_uri",
    );
  });

  it("calls the function found through the Cloud Functions API with an ID token and the event", async () => {
    const fn = fake.addFunction("us-central1", "sample-function");
    fn.respond = () => ({ status: 202, body: "accepted", headers: { "content-type": "text/plain" } });
    const [action] = await post("E2E function", { "fd.name": "/etc/shadow" }, 1);
    assert.equal(action!.status, "success", action!.error);
    assert.equal(action!.output, "the function 'sample-function' in the location 'us-central1' has been called: HTTP 202");
    assert.equal(action!.objects!["Function_response"], "accepted");
    const call = fake.functionCalls.at(-1)!;
    assert.equal(call.url, fn.url);
    assert.equal(call.claims?.["aud"], fn.url);
    const body = JSON.parse(call.body) as { rule: string; output_fields: Record<string, unknown>; context: Record<string, string> };
    assert.equal(body.rule, "E2E function");
    assert.equal(body.output_fields["fd.name"], "/etc/shadow");
    assert.equal(body.context["falco-talon.action"], "Invoke GCP function");
    const lookup = fake.requests.find((r) => r.api === "functions")!;
    assert.equal(lookup.path, "/v2/projects/kestrel-test/locations/us-central1/functions/sample-function");
  });

  it("drains and exits 0 on SIGTERM", async () => {
    assert.equal(await kestrel!.stop(), 0);
  });
});
