// Kestrel as an alert router and per-notifier filters, through the running server: a rule with notifiers
// and no actions sends each matched event to exactly those notifiers; min_priority and on_status decide
// which results a notifier takes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

interface Body {
  message: string;
  status: string;
  rule: string;
  priority: string;
  action: string;
  output?: string;
  trace_id: string;
}

describe("routing events to notifiers, and notifier filters", () => {
  let receiver: Receiver;
  let router: RunningKestrel;
  let filtered: RunningKestrel;
  const bodies = (): Body[] => receiver.requests.map((r) => JSON.parse(r.body) as Body);

  before(async () => {
    receiver = await startReceiver();
    router = await startKestrel({
      rules: `
- rule: Route shells to the webhook
  match: { rules: [Terminal shell in container], priority: ">=Warning" }
  notifiers: [webhook]
`,
      config: `notifiers:\n  webhook:\n    url: ${receiver.url}/route\n`,
    });
    filtered = await startKestrel({
      rules: `
- rule: Echo
  match: { rules: [Echo] }
  actions:
    - action: Echo
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Fail
  match: { rules: [Fail] }
  actions:
    - action: Fail
      actionner: local:command
      parameters: { command: ["/bin/false"] }
`,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/filtered\n    min_priority: warning\n    on_status: [failure]\n`,
    });
  });
  after(async () => {
    await router.close();
    await filtered.close();
    await receiver.close();
  });

  it("sends each matched event of a rule without actions to its notifiers, as an event notification", async () => {
    const res = await router.post(
      falcoEvent({ priority: "Critical", output: "14:37:27.505989596: Critical A shell was spawned in web-1" }),
    );
    assert.equal(res.status, 200);
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => bodies().some((b) => b.trace_id === trace_id), "the routed event's notification");
    const body = bodies().find((b) => b.trace_id === trace_id)!;
    assert.equal(body.message, "event");
    assert.equal(body.rule, "Route shells to the webhook");
    assert.equal(body.priority, "Critical");
    assert.equal(body.output, "14:37:27.505989596: Critical A shell was spawned in web-1");
    assert.equal(receiver.requests.find((r) => JSON.parse(r.body).trace_id === trace_id)!.url, "/route");
    // Below the rule's priority filter: not routed.
    const low = await router.post(falcoEvent({ priority: "Notice" }));
    assert.equal(((await low.json()) as { result: string }).result, "unmatched");
  });

  it("keeps only the results a notifier asks for: min_priority and on_status", async () => {
    const post = async (rule: string, priority: string) =>
      ((await (await filtered.post(falcoEvent({ rule, priority }))).json()) as { trace_id: string }).trace_id;
    const successCritical = await post("Echo", "Critical");
    const failureNotice = await post("Fail", "Notice");
    const failureError = await post("Fail", "Error");
    await until(() => bodies().some((b) => b.trace_id === failureError), "the notification of the failure at Error");
    // Once the engine has finished the three events and every notification they produced, the two dropped
    // ones never come.
    await filtered.settled();
    const byStatus = (status: string): number => filtered.app.observer.summary.actionsByStatus.get(status) ?? 0;
    assert.equal(byStatus("success"), 1);
    assert.equal(byStatus("failure"), 2);
    const traces = new Set(bodies().map((b) => b.trace_id));
    assert.equal(traces.has(successCritical), false, "success is filtered out by on_status");
    assert.equal(traces.has(failureNotice), false, "Notice is below min_priority");
    assert.equal(bodies().find((b) => b.trace_id === failureError)!.status, "failure");
  });

  it("refuses an invalid filter with the setting named", async () => {
    await assert.rejects(
      startKestrel({
        rules: "- rule: R\n  match: {}\n  notifiers: [webhook]\n",
        config: "notifiers:\n  webhook:\n    url: http://127.0.0.1:9/\n    min_priority: loud\n",
      }),
      /min_priority.*must be a Falco priority/,
    );
  });
});
