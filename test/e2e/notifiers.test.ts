// Every notifier from ONE `kestrel server` process started by the CLI, each configured in the config file
// exactly as a user writes it and pointed at its real receiver: a webhook receiver, Slack, PagerDuty, Loki
// and Elasticsearch API receivers, the smtp-server (STARTTLS), Prometheus Alertmanager, rsyslog (UDP), a
// file, a program and the process' own stdout. One event triggers an action whose result must reach every
// default notifier, with the event's trace id; a second event is routed by a rule without actions to
// Alertmanager and PagerDuty only. Then SIGTERM: the process drains and exits 0.
import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { alertmanagerSkipReason, type RunningAlertmanager, startAlertmanager } from "../support/alertmanager.ts";
import { type ApiReceiver, startPagerDutyReceiver, startSlackReceiver } from "../support/api-receivers.ts";
import { type FakeElasticsearch, startFakeElasticsearch } from "../support/elasticsearch.ts";
import { falcoEvent } from "../support/events.ts";
import { type FakeLoki, startFakeLoki } from "../support/loki.ts";
import { type KestrelProcess, startKestrelProcess } from "../support/process.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { type Rsyslog, rsyslogSkipReason, startRsyslog } from "../support/rsyslog.ts";
import { type SmtpTestServer, startSmtpServer } from "../support/smtp.ts";
import { until } from "../support/wait.ts";

const DEFAULTS = ["webhook", "slack", "smtp", "loki", "elasticsearch", "alertmanager", "pagerduty", "stdout", "file", "syslog", "program"];

const RULES = `
- rule: Shell in a container
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Record it
      actionner: local:command
      parameters: { command: ["/bin/true"] }

- rule: Page on crypto miners
  match: { rules: [Detect crypto miners using the Stratum protocol] }
  notifiers: [alertmanager, pagerduty]
`;

describe("kestrel server with every notifier", { skip: alertmanagerSkipReason() ?? rsyslogSkipReason() }, () => {
  let webhook: Receiver;
  let slack: ApiReceiver;
  let pagerduty: ApiReceiver;
  let loki: FakeLoki;
  let es: FakeElasticsearch;
  let smtp: SmtpTestServer;
  let am: RunningAlertmanager;
  let amWebhook: Receiver;
  let rsyslog: Rsyslog;
  let dir: string;
  let kestrel: KestrelProcess;
  let stdout: string[];
  let url: string;

  before(async () => {
    [webhook, slack, pagerduty, loki, es, smtp, amWebhook, rsyslog] = await Promise.all([
      startReceiver(),
      startSlackReceiver(),
      startPagerDutyReceiver(),
      startFakeLoki(),
      startFakeElasticsearch({ authorization: `Basic ${Buffer.from("elastic:changeme").toString("base64")}` }),
      startSmtpServer({ user: "falco", password: "s3cret" }),
      startReceiver(),
      startRsyslog(),
    ]);
    am = await startAlertmanager({ webhookUrl: `${amWebhook.url}/alertmanager` });
    dir = await mkdtemp(join(tmpdir(), "kestrel-e2e-notifiers-"));
    const config = `listen_address: 127.0.0.1
listen_port: 0
log_format: json
default_notifiers: [${DEFAULTS.join(", ")}]
notifiers:
  webhook:
    url: ${webhook.url}/falco
    custom_headers: { Authorization: "Bearer e2e" }
  slack:
    webhook_url: ${slack.url}/services/T000/B000/XXXX
    format: long
  smtp:
    host_port: localhost:${smtp.port}
    from: falco@falcosecurity.org
    to: secops@example.com
    user: falco
    password: s3cret
    format: text
    tls: true
    ca_file: ${smtp.caFile}
  loki:
    host_port: ${loki.url}
    tenant: security
  elasticsearch:
    url: ${es.url}
    user: elastic
    password: changeme
    index: falco-e2e
    suffix: none
  alertmanager:
    host_port: ${am.url}
    extra_labels: "team:security"
  pagerduty:
    routing_key: e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0
    api_url: ${pagerduty.url}/v2/enqueue
  stdout:
    format: json
  file:
    filename: ${join(dir, "notifications.log")}
  syslog:
    transport: udp
    host: 127.0.0.1
    port: ${rsyslog.udpPort}
    app_name: kestrel-e2e
  program:
    program: "cat >> ${join(dir, "program.out")}"
    keep_alive: true
`;
    await writeFile(join(dir, "config.yaml"), config);
    await writeFile(join(dir, "rules.yaml"), RULES);
    kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    stdout = kestrel.lines;
    url = kestrel.url;
  });

  after(async () => {
    kestrel?.kill();
    await Promise.allSettled([webhook, slack, pagerduty, loki, es, smtp, amWebhook].map((r) => r?.close()));
    await am?.stop();
    await rsyslog?.stop();
  });

  async function post(body: string): Promise<string> {
    const res = await kestrel.post(body);
    assert.equal(res.status, 200);
    return ((await res.json()) as { trace_id: string }).trace_id;
  }

  it("delivers an action's result to every default notifier, each with the event's trace id", async () => {
    const traceId = await post(falcoEvent({ priority: "Critical", fields: { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" } }));
    const carries = (text: string) => text.includes(traceId);

    const [hook] = await webhook.waitFor(1, 10_000);
    assert.equal(hook!.url, "/falco");
    assert.equal(hook!.headers["authorization"], "Bearer e2e");
    const result = JSON.parse(hook!.body) as Record<string, unknown>;
    assert.deepEqual(
      [result["rule"], result["action"], result["actionner"], result["status"], result["trace_id"]],
      ["Shell in a container", "Record it", "local:command", "success", traceId],
    );

    assert.ok(carries((await slack.waitFor(1, 10_000))[0]!.body), "slack");
    const pd = JSON.parse((await pagerduty.waitFor(1, 10_000))[0]!.body) as {
      event_action: string;
      payload: { severity: string; custom_details: Record<string, unknown> };
    };
    assert.equal(pd.event_action, "trigger");
    assert.equal(pd.payload.severity, "critical");
    assert.equal(pd.payload.custom_details["trace_id"], traceId);

    await until(() => smtp.mails.length >= 1, "the mail", 10_000);
    assert.deepEqual(smtp.mails[0]!.to, ["secops@example.com"]);
    assert.ok(carries(smtp.mails[0]!.raw), "smtp");

    await until(() => loki.accepted.length >= 1, "the loki push", 10_000);
    const stream = loki.accepted[0]!.json!.streams[0]!;
    assert.equal(stream.stream["rule"], "shell_in_a_container", "Talon's label shaping");
    assert.equal(loki.accepted[0]!.headers["x-scope-orgid"], "security");
    assert.ok(carries(stream.values[0]![1]), "loki");

    await until(() => es.docs.length >= 1, "the elasticsearch document", 10_000);
    assert.equal(es.docs[0]!.index, "falco-e2e");
    assert.equal(es.docs[0]!.doc["trace_id"], traceId);

    await until(async () => (await am.alerts(`kestrel_rule="Shell in a container"`)).length === 1, "the alert in Alertmanager", 10_000);
    const [alert] = await am.alerts(`kestrel_rule="Shell in a container"`);
    assert.equal(alert!.labels["alertname"], "Terminal shell in container");
    assert.equal(alert!.labels["team"], "security");
    assert.equal(alert!.annotations["trace_id"], traceId);

    await until(
      () => stdout.some((l) => carries(l) && !l.includes('"level"') && l.includes('"message":"action"')),
      "the stdout line",
      10_000,
    );

    const records = (await rsyslog.waitFor(1, 10_000)).filter((r) => r.app === "kestrel-e2e");
    assert.equal(records.length, 1);
    assert.equal(records[0]!.sev, "crit");
    assert.ok(carries(records[0]!.msg), "syslog");

    await until(async () => carries(await readFile(join(dir, "notifications.log"), "utf8").catch(() => "")), "the file line", 10_000);
    await until(async () => carries(await readFile(join(dir, "program.out"), "utf8").catch(() => "")), "the program's stdin", 10_000);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of DEFAULTS) {
      assert.match(metrics, new RegExp(`kestrel_notifications_total\\{notifier="${name}",status="success"\\} 1\\b`), name);
    }
    assert.doesNotMatch(metrics, /kestrel_notifications_total\{[^}]*status="failure"\} [1-9]/);
  });

  it("routes an event of a rule without actions to its notifiers only", async () => {
    const before = { webhook: webhook.requests.length, slack: slack.requests.length };
    const traceId = await post(falcoEvent({ rule: "Detect crypto miners using the Stratum protocol", priority: "Error" }));
    await until(
      async () => (await am.alerts(`alertname="Detect crypto miners using the Stratum protocol"`)).length === 1,
      "the routed alert in Alertmanager",
      10_000,
    );
    const [alert] = await am.alerts(`alertname="Detect crypto miners using the Stratum protocol"`);
    assert.equal(alert!.labels["kestrel_rule"], "Page on crypto miners");
    assert.equal(alert!.labels["severity"], "warning");
    assert.equal(alert!.labels["action"], undefined, "an event, not a result");
    const routed = await pagerduty.waitFor(2, 10_000);
    const page = JSON.parse(routed[1]!.body) as { payload: { severity: string; class: string; custom_details: Record<string, unknown> } };
    assert.equal(page.payload.class, "Detect crypto miners using the Stratum protocol");
    assert.equal(page.payload.severity, "error");
    assert.equal(page.payload.custom_details["trace_id"], traceId);
    // Alertmanager fires its own webhook receiver: the whole chain works.
    await until(
      () => amWebhook.requests.some((r) => r.body.includes("Detect crypto miners using the Stratum protocol")),
      "Alertmanager's webhook",
      15_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual({ webhook: webhook.requests.length, slack: slack.requests.length }, before, "default notifiers are for results");
  });

  it("drains and exits 0 on SIGTERM", async () => {
    assert.equal(await kestrel.stop(), 0);
  });
});
