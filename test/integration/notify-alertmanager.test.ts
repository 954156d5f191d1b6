// The alertmanager notifier through a running Kestrel against the REAL Prometheus Alertmanager: results
// and routed events become alerts with Falcosidekick's labels, Alertmanager fires its webhook, an HA list
// succeeds while one instance is down, and refusals are retried or not as they should be, and counted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AmAlert, alertmanagerSkipReason, freePort, type RunningAlertmanager, startAlertmanager } from "../support/alertmanager.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Label shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Mark
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Route sensitive reads
  match: { rules: [Read sensitive file untrusted] }
  notifiers: [alertmanager]
`;

/** A Falco event happening now (Alertmanager ignores alerts whose endsAt has passed). */
function eventNow(o: Parameters<typeof falcoEvent>[0]): string {
  const e = JSON.parse(falcoEvent(o)) as Record<string, unknown>;
  e["time"] = new Date().toISOString();
  return JSON.stringify(e);
}

async function metric(kestrel: RunningKestrel, status: string): Promise<number> {
  const text = await (await fetch(`${kestrel.url}/metrics`)).text();
  const m = new RegExp(`kestrel_notifications_total\\{notifier="alertmanager",status="${status}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

interface WebhookBody {
  status: string;
  receiver: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

const skip = alertmanagerSkipReason();

describe("alertmanager notifier against Prometheus Alertmanager", { skip }, () => {
  let am: RunningAlertmanager;
  let hook: Receiver;
  let kestrel: RunningKestrel;

  before(async () => {
    hook = await startReceiver();
    am = await startAlertmanager({ webhookUrl: `${hook.url}/hook` });
    const deadPort = await freePort(); // nothing listens there: one HA instance is down
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [alertmanager]
notifiers:
  alertmanager:
    host_port: "http://127.0.0.1:${deadPort},${am.url}"
    expires_after: 3600
    generator_url: "http://dashboard.example/falco"
    extra_labels: "team:security"
    extra_annotations: { runbook: "http://wiki.example/shell" }
    timeout_seconds: 2
`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await am?.stop();
    await hook?.close();
  });

  it("turns an action result into an alert with Falcosidekick's labels, and Alertmanager fires its webhook", async () => {
    const res = await kestrel.post(
      eventNow({ priority: "Critical", fields: { "k8s.pod.name": "shell-pod", "proc.aname[2]": "sshd", "fd.num": 7 } }),
    );
    assert.equal(res.status, 200);
    const { trace_id } = (await res.json()) as { trace_id: string };
    let alerts: AmAlert[] = [];
    const stored = async (): Promise<boolean> => {
      alerts = await am.alerts('k8s_pod_name="shell-pod"');
      return alerts.length > 0;
    };
    await until(stored, "the alert in Alertmanager", 5000, { intervalMs: 25 });
    assert.equal(alerts.length, 1, "the alert is in Alertmanager");
    const a = alerts[0]!;
    assert.equal(a.status.state, "active");
    assert.deepEqual(
      a.receivers.map((r) => r.name),
      ["webhook"],
    );
    assert.deepEqual(
      { ...a.labels },
      {
        alertname: "Terminal shell in container",
        rule: "Terminal shell in container",
        source: "falco",
        eventsource: "syscall",
        hostname: "node-1",
        priority: "Critical",
        severity: "critical",
        tags: "T1059,container,shell",
        evt_time: "1735573264268296",
        k8s_ns_name: "default",
        k8s_pod_name: "shell-pod",
        proc_name: "bash",
        proc_aname_2: "sshd",
        fd_num: "7",
        kestrel_rule: "Label shells",
        action: "Mark",
        actionner: "local:command",
        status: "success",
        team: "security",
      },
    );
    assert.equal(a.annotations["summary"], "Terminal shell in container");
    assert.match(a.annotations["description"]!, /A shell was spawned/);
    assert.equal(a.annotations["info"], a.annotations["description"]);
    assert.equal(a.annotations["runbook"], "http://wiki.example/shell");
    assert.equal(a.annotations["trace_id"], trace_id);
    assert.equal(a.generatorURL, "http://dashboard.example/falco");
    const ends = Date.parse(a.endsAt) - Date.parse(a.startsAt);
    assert.ok(Math.abs(ends - 3600_000) < 2000, `endsAt − startsAt = ${ends} ms`);

    // Alertmanager routed it to its webhook receiver at once (group_wait 0s).
    await until(
      () => hook.requests.some((r) => (JSON.parse(r.body) as WebhookBody).alerts.some((x) => x.labels["k8s_pod_name"] === "shell-pod")),
      "Alertmanager's webhook",
      5000,
    );
    const fired = hook.requests
      .map((r) => JSON.parse(r.body) as WebhookBody)
      .find((b) => b.alerts.some((x) => x.labels["k8s_pod_name"] === "shell-pod"))!;
    assert.equal(fired.status, "firing");
    assert.equal(fired.receiver, "webhook");
    assert.equal(fired.alerts[0]!.labels["severity"], "critical");
    // one instance of the two was down: still a success, counted once
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent" && l["trace_id"] === trace_id), "delivery log", 3000);
    assert.equal(await metric(kestrel, "failure"), 0);
  });

  it("routes a matched event of a rule without actions, by its priority, with no action labels", async () => {
    const res = await kestrel.post(
      eventNow({ rule: "Read sensitive file untrusted", priority: "Warning", fields: { "k8s.pod.name": "reader-pod" } }),
    );
    assert.equal(res.status, 200);
    let alerts: AmAlert[] = [];
    const stored = async (): Promise<boolean> => {
      alerts = await am.alerts('alertname="Read sensitive file untrusted"');
      return alerts.length > 0;
    };
    await until(stored, "the routed alert in Alertmanager", 5000, { intervalMs: 25 });
    assert.equal(alerts.length, 1);
    const labels = alerts[0]!.labels;
    assert.equal(labels["severity"], "warning");
    assert.equal(labels["priority"], "Warning");
    assert.equal(labels["kestrel_rule"], "Route sensitive reads");
    assert.equal(labels["k8s_pod_name"], "reader-pod");
    for (const k of ["action", "actionner", "status"]) assert.equal(k in labels, false, k);
    await until(
      () =>
        hook.requests.some((r) =>
          (JSON.parse(r.body) as WebhookBody).alerts.some((x) => x.labels["alertname"] === "Read sensitive file untrusted"),
        ),
      "Alertmanager's webhook for the event",
      5000,
    );
  });
});

describe("alertmanager notifier: refusals", () => {
  let receiver: Receiver;
  let kestrel: RunningKestrel;

  before(async () => {
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [alertmanager]\nnotifiers:\n  alertmanager:\n    host_port: [${receiver.url}]\n    timeout_seconds: 1\n`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
  });

  it("posts one alert to /api/v2/alerts, retries a 503, and does not retry a 400 (counted as a failure)", async () => {
    receiver.script({ status: 503, headers: { "retry-after": "0" } });
    await kestrel.post(falcoEvent());
    await receiver.waitFor(2, 5000);
    assert.equal(receiver.requests[0]!.url, "/api/v2/alerts");
    assert.equal(receiver.requests[0]!.method, "POST");
    assert.match(String(receiver.requests[0]!.headers["content-type"]), /^application\/json/);
    const body = JSON.parse(receiver.requests[1]!.body) as unknown[];
    assert.equal(body.length, 1);
    assert.equal(receiver.requests[0]!.body, receiver.requests[1]!.body);
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent"), "delivery", 3000);

    receiver.script(400);
    await kestrel.post(falcoEvent());
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification failed"), "failure log", 3000);
    await kestrel.settled(); // the failure is final: nothing more is sent
    assert.equal(receiver.requests.length, 3, "a 400 is not retried");
    assert.equal(await metric(kestrel, "success"), 1);
    assert.equal(await metric(kestrel, "failure"), 1);
  });
});
