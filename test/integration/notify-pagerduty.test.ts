// The pagerduty notifier through a running Kestrel against a receiver that answers like PagerDuty's
// Events API v2: severity from the priority, one dedup_key per Falco rule and pod (the routed event and the
// containment result update one incident, the success of a resolve_on actionner resolves it, in order),
// 202 success, 429 (Retry-After) and 500 retried, 400 not retried, failures counted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PagerDutyEvent } from "../../src/notifiers/pagerduty.ts";
import {
  type ApiReceiver,
  PAGERDUTY_INVALID,
  PAGERDUTY_SERVER_ERROR,
  PAGERDUTY_THROTTLED,
  startPagerDutyReceiver,
} from "../support/api-receivers.ts";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Page shells
  match: { rules: [Terminal shell in container] }
  notifiers: [pagerduty]
- rule: Contain shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Terminate
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Broken containment
  match: { rules: [Read sensitive file untrusted] }
  actions:
    - action: Fail
      actionner: local:command
      parameters: { command: ["/bin/false"] }
`;

const KEY = "0123456789abcdef0123456789abcdef";

describe("pagerduty notifier against a PagerDuty-like Events API", () => {
  let pd: ApiReceiver;
  let kestrel: RunningKestrel;
  const metric = (status: string): Promise<number> => notificationsTotal(kestrel, "pagerduty", status);
  const eventOf = (i: number) => JSON.parse(pd.requests[i]!.body) as PagerDutyEvent;
  const sentCount = () => kestrel.logs.filter((l) => l["msg"] === "notification sent").length;

  before(async () => {
    pd = await startPagerDutyReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [pagerduty]
notifiers:
  pagerduty:
    routing_key: ${KEY}
    api_url: ${pd.url}/v2/enqueue
    resolve_on: [local:command]
    timeout_seconds: 0.5
`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await pd?.close();
  });

  it("triggers an incident for the routed event and resolves it when containment succeeds, same dedup_key, in order", async () => {
    const res = await kestrel.post(falcoEvent({ priority: "Critical", fields: { "k8s.pod.name": "web-1", "k8s.ns.name": "shop" } }));
    const { trace_id } = (await res.json()) as { trace_id: string };
    await pd.waitFor(2);
    const [trigger, resolve] = [eventOf(0), eventOf(1)];
    assert.equal(pd.requests[0]!.url, "/v2/enqueue");
    assert.match(String(pd.requests[0]!.headers["content-type"]), /^application\/json/);
    assert.deepEqual(
      pd.requests.slice(0, 2).map((r) => [r.status, (JSON.parse(r.answer) as { status: string }).status]),
      [
        [202, "success"],
        [202, "success"],
      ],
    );
    assert.equal(trigger.event_action, "trigger");
    assert.equal(trigger.routing_key, KEY);
    assert.equal(trigger.dedup_key, "falco/Terminal shell in container/shop/web-1");
    assert.equal(trigger.payload!.severity, "critical");
    assert.equal(trigger.payload!.source, "node-1");
    assert.equal(trigger.payload!.component, "shop/web-1");
    assert.match(trigger.payload!.summary, /^Terminal shell in container: A shell was spawned/);
    assert.equal(trigger.payload!.custom_details["trace_id"], trace_id);
    assert.equal(trigger.payload!.custom_details["rule"], "Page shells");
    assert.equal((trigger.payload!.custom_details["output_fields"] as Record<string, unknown>)["k8s.pod.name"], "web-1");
    assert.deepEqual(resolve, { routing_key: KEY, event_action: "resolve", dedup_key: trigger.dedup_key });
    await until(() => sentCount() >= 2, "both deliveries", 3000);
    assert.equal(await metric("success"), 2);
  });

  it("a failed containment triggers with the severity of the priority (warning, not critical)", async () => {
    const start = pd.requests.length;
    await kestrel.post(falcoEvent({ rule: "Read sensitive file untrusted", priority: "Warning", fields: { "k8s.pod.name": "db-0" } }));
    await pd.waitFor(start + 1);
    const e = eventOf(start);
    assert.equal(e.event_action, "trigger");
    assert.equal(e.payload!.severity, "warning");
    assert.equal(e.dedup_key, "falco/Read sensitive file untrusted/default/db-0");
    assert.equal(e.payload!.custom_details["status"], "failure");
    assert.match(e.payload!.summary, /^\[failure\] Broken containment: action Fail \(local:command\)/);
    assert.equal(pd.requests[start]!.status, 202);
  });

  it("retries a 429 after its Retry-After and a 500, then succeeds", async () => {
    await until(() => sentCount() >= 3, "earlier deliveries", 3000);
    const start = pd.requests.length;
    const success = await metric("success");
    pd.script(PAGERDUTY_THROTTLED("1"), PAGERDUTY_SERVER_ERROR);
    const sent = Date.now();
    await kestrel.post(falcoEvent({ rule: "Read sensitive file untrusted", priority: "Error" }));
    await pd.waitFor(start + 3, 6000);
    const tries = pd.requests.slice(start);
    assert.deepEqual(
      tries.map((t) => t.status),
      [429, 500, 202],
    );
    assert.equal(new Set(tries.map((t) => t.body)).size, 1);
    assert.ok(Date.now() - sent >= 1000, "Retry-After: 1 was honoured");
    await until(() => sentCount() >= 4, "delivery after retries", 3000);
    assert.equal(await metric("success"), success + 1);
  });

  it("does not retry a 400 and counts the failure", async () => {
    const start = pd.requests.length;
    const failures = await metric("failure");
    pd.script(PAGERDUTY_INVALID);
    await kestrel.post(falcoEvent({ rule: "Read sensitive file untrusted" }));
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification failed"), "failure log", 3000);
    await kestrel.settled(); // the failure is final: nothing more is sent
    assert.equal(pd.requests.length, start + 1);
    assert.equal(await metric("failure"), failures + 1);
  });

  it("keeps answering events at once while PagerDuty hangs", async () => {
    pd.script({ status: 202, body: "{}", delayMs: 2000 }, { status: 202, body: "{}", delayMs: 2000 });
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await kestrel.post(falcoEvent({ rule: "Read sensitive file untrusted" }))).status, 200);
    assert.ok(Date.now() - started < 500, `5 events took ${Date.now() - started} ms`);
  });
});
