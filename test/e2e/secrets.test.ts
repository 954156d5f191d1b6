// Secrets stay secret: ONE `kestrel server` process configured with every kind of secret (URLs with
// user:pass, a Slack webhook token, the intake's bearer token, an SMTP password, API keys, an
// Authorization header), driven through successes and failures (receivers down → errors logged), its
// /metrics and refusals read, `rules check` and `rules print` run on the same files. No secret may appear in
// any output line or HTTP answer. The webhook's URL credentials must reach the receiver as Basic auth.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { falcoEvent } from "../support/events.ts";
import { closedPort } from "../support/ports.ts";
import { KESTREL_BIN, type KestrelProcess, startKestrelProcess, tempFiles } from "../support/process.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";

const run = promisify(execFile);

const SECRETS = {
  hookPassword: "h00k-pa55",
  hookHeader: "hdr-b3arer",
  slackToken: "SLACK-T0KEN-xyz",
  lokiPassword: "l0ki-pa55",
  esPassword: "elast1c-pa55",
  esUrlPassword: "es-url-pa55",
  smtpPassword: "smtp-pa55",
  intakeToken: "intake-t0ken-123",
  pagerdutyKey: "pd0routing0key0pd0routing0key000",
  ruleUrlPassword: "rule-d3sc-pa55",
};

describe("secrets stay secret", () => {
  let webhook: Receiver;
  let kestrel: KestrelProcess;
  let dir: string;
  /** Everything that left Kestrel other than the notifications themselves: answers, CLI output. */
  const shown: string[] = [];

  before(async () => {
    webhook = await startReceiver();
    const down = `127.0.0.1:${await closedPort()}`;
    const hook = webhook.url.replace("http://", `http://kestrel:${SECRETS.hookPassword}@`);
    dir = await tempFiles("kestrel-e2e-secrets-", {
      "config.yaml": `listen_address: 127.0.0.1
listen_port: 0
log_format: json
log_level: debug
watch_rules: false
auth:
  tokens: [${SECRETS.intakeToken}]
default_notifiers: [webhook, slack, loki, elasticsearch, smtp, pagerduty]
notifiers:
  webhook:
    url: ${hook}/falco
    custom_headers: { X-Api-Key: "${SECRETS.hookHeader}" }
  slack:
    webhook_url: http://${down}/services/T000/B000/${SECRETS.slackToken}
    timeout_seconds: 1
  loki:
    host_port: http://${down}
    user: "4242"
    api_key: ${SECRETS.lokiPassword}
    timeout_seconds: 1
  elasticsearch:
    url: http://elastic:${SECRETS.esUrlPassword}@${down}
    user: elastic
    password: ${SECRETS.esPassword}
    timeout_seconds: 1
  smtp:
    host_port: ${down}
    from: falco@example.com
    to: secops@example.com
    user: falco
    password: ${SECRETS.smtpPassword}
  pagerduty:
    routing_key: ${SECRETS.pagerdutyKey}
    api_url: http://pd:${SECRETS.pagerdutyKey}@${down}/v2/enqueue
`,
      "rules.yaml": `
- rule: Shell in a container
  description: "reported to https://ops:${SECRETS.ruleUrlPassword}@ops.example/hook"
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Record it
      actionner: local:command
      parameters: { command: ["/bin/false"] }
`,
    });
    kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
  });

  after(async () => {
    kestrel?.kill();
    await webhook?.close();
  });

  const remember = async (res: Response): Promise<void> => {
    shown.push(JSON.stringify([...res.headers]), await res.text());
  };

  it("sends the webhook URL's credentials as Basic auth", async () => {
    const res = await kestrel.post(falcoEvent({ priority: "Critical" }), { authorization: `Bearer ${SECRETS.intakeToken}` });
    assert.equal(res.status, 200);
    await remember(res);
    const [request] = await webhook.waitFor(1, 15_000);
    assert.equal(request!.url, "/falco");
    assert.equal(request!.headers["authorization"], `Basic ${Buffer.from(`kestrel:${SECRETS.hookPassword}`).toString("base64")}`);
    assert.equal(request!.headers["x-api-key"], SECRETS.hookHeader);
  });

  it("logs the failures of the receivers that are down", async () => {
    const failed = (notifier: string) => kestrel.logs.some((r) => r["msg"] === "notification failed" && r["notifier"] === notifier);
    await kestrel.waitFor(() => ["slack", "loki", "elasticsearch", "smtp", "pagerduty"].every(failed), 60_000, "every failure logged");
  });

  it("answers refusals, /healthz and /metrics without secrets", async () => {
    await remember(await kestrel.post("{}", { authorization: "Bearer wrong" }));
    await remember(await kestrel.post("not json", { authorization: `Bearer ${SECRETS.intakeToken}` }));
    await remember(await fetch(`${kestrel.url}/healthz`));
    const metrics = await fetch(`${kestrel.url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.clone().text();
    assert.match(text, /kestrel_notifications_total\{[^}]*notifier="slack"/);
    await remember(metrics);
  });

  it("rules check and rules print show no secret", async () => {
    const args = ["-c", join(dir, "config.yaml"), "-r", join(dir, "rules.yaml")];
    const env = { PATH: process.env["PATH"] ?? "" };
    for (const command of ["check", "print"]) {
      const { stdout, stderr } = await run(process.execPath, [KESTREL_BIN, "rules", command, ...args], { env });
      shown.push(stdout, stderr);
    }
    assert.match(shown.at(-2)!, /reported to https:\/\/\[redacted\]@ops\.example\/hook/);
  });

  it("no secret appears in any log line, CLI output or HTTP answer, up to the exit summary", async () => {
    assert.equal(await kestrel.stop(), 0);
    const everything = [...kestrel.lines, ...shown];
    assert.ok(kestrel.lines.length > 10, "the server logged");
    for (const [name, secret] of Object.entries(SECRETS)) {
      const leaks = everything.filter((l) => l.includes(secret));
      assert.deepEqual(leaks, [], `${name} leaked`);
    }
  });
});
