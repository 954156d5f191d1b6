// Notification delivery against a real HTTP receiver: retries only for retryable answers, Retry-After
// honoured, failures counted, and a slow receiver never slows the intake.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Notify
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Echo
      actionner: local:command
      parameters: { command: ["/bin/echo", "hi"] }
`;

describe("webhook delivery", () => {
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  const metric = async (status: string): Promise<number> => {
    const text = await (await fetch(`${kestrel.url}/metrics`)).text();
    const m = new RegExp(`kestrel_notifications_total\\{notifier="webhook",status="${status}"\\} (\\d+)`).exec(text);
    return m === null ? 0 : Number(m[1]);
  };

  before(async () => {
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/\n    timeout_seconds: 0.5\n`,
    });
  });
  after(async () => {
    await kestrel.close();
    await receiver.close();
  });

  it("retries a 503 and a 429 (honouring Retry-After) until the receiver accepts", async () => {
    receiver.script(503, { status: 429, headers: { "retry-after": "0" } });
    await kestrel.post(falcoEvent());
    await receiver.waitFor(3, 5000);
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent"), "delivery", 3000);
    assert.equal(await metric("success"), 1);
    assert.equal(await metric("failure"), 0);
    const bodies = receiver.requests.map((r) => r.body);
    assert.equal(new Set(bodies).size, 1, "the same notification is sent again");
    // Talon's documented defaults: a receiver written for Talon sees the same request.
    assert.equal(receiver.requests[0]!.method, "POST");
    assert.equal(receiver.requests[0]!.headers["user-agent"], "Falco-Talon");
    assert.equal(receiver.requests[0]!.headers["content-type"], "application/json; charset=utf-8");
  });

  it("does not retry a 400, and counts and logs the failure with its trace id", async () => {
    const start = receiver.requests.length;
    receiver.script(400);
    const res = await kestrel.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification failed" && l["trace_id"] === trace_id), "failure log", 3000);
    await kestrel.settled(); // the failure is final: nothing more is sent
    assert.equal(receiver.requests.length, start + 1);
    assert.equal(await metric("failure"), 1);
  });

  it("keeps answering events at once while the receiver hangs", async () => {
    receiver.script({ status: 200, delayMs: 2000 }, { status: 200, delayMs: 2000 }, { status: 200, delayMs: 2000 });
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await kestrel.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 500, `5 events took ${Date.now() - started} ms`);
  });
});
