// The slack notifier through a running Kestrel against a receiver that answers like Slack's incoming
// webhooks: Talon's message layout, colours by status, retries of 429 (Retry-After) and 500, no retry of a
// refusal, failures counted, and a slow Slack never slows the intake.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SlackPayload } from "../../src/notifiers/slack.ts";
import { type ApiReceiver, SLACK_RATE_LIMITED, SLACK_SERVER_ERROR, startSlackReceiver } from "../support/api-receivers.ts";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Mark
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Broken
  match: { rules: [Read sensitive file untrusted] }
  actions:
    - action: Fail
      actionner: local:command
      parameters: { command: ["/bin/false"] }
`;

describe("slack notifier against a Slack-like webhook", () => {
  let slack: ApiReceiver;
  let kestrel: RunningKestrel;
  const metric = (status: string): Promise<number> => notificationsTotal(kestrel, "slack", status);
  const payloadOf = (i: number) => JSON.parse(slack.requests[i]!.body) as SlackPayload;

  before(async () => {
    slack = await startSlackReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [slack]
notifiers:
  slack:
    webhook_url: ${slack.url}/services/T000/B000/XXXX
    username: "Kestrel bot"
    icon: ""
    timeout_seconds: 0.5
`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await slack?.close();
  });

  it("posts Talon's long message for a successful action, in green, and Slack accepts it", async () => {
    const res = await kestrel.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    await slack.waitFor(1);
    const r = slack.requests[0]!;
    assert.equal(r.method, "POST");
    assert.equal(r.url, "/services/T000/B000/XXXX");
    assert.match(String(r.headers["content-type"]), /^application\/json/);
    assert.equal(r.status, 200);
    assert.equal(r.answer, "ok");
    const p = payloadOf(0);
    assert.equal(p.text, "[*success*][*action*] Rule: `Shells` Action: `Mark`");
    assert.equal(p.username, "Kestrel bot");
    // An empty setting (as in Talon's documented config) means the default.
    assert.equal(p.icon_url, "https://upload.wikimedia.org/wikipedia/commons/2/26/Circaetus_gallicus_claw.jpg");
    const a = p.attachments[0]!;
    assert.equal(a.color, "#23ba47");
    assert.equal(a.footer, "https://github.com/falcosecurity/falco-talon");
    const f = Object.fromEntries(a.fields!.map((x) => [x.title, x.value]));
    assert.equal(f["Rule"], "`Shells`");
    assert.equal(f["Action"], "`Mark`");
    assert.equal(f["Actionner"], "`local:command`");
    assert.equal(f["Status"], "`success`");
    assert.equal(f["Trace ID"], `\`${trace_id}\``);
    assert.match(f["Event"]!, /A shell was spawned/);
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent"), "delivery", 3000);
    assert.equal(await metric("success"), 1);
  });

  it("shows a failed action in red with its error", async () => {
    const start = slack.requests.length;
    await kestrel.post(falcoEvent({ rule: "Read sensitive file untrusted", priority: "Warning" }));
    await slack.waitFor(start + 1);
    const a = payloadOf(start).attachments[0]!;
    assert.equal(a.color, "#e20b0b");
    assert.match(payloadOf(start).text!, /^\[\*failure\*\]/);
    assert.ok(a.fields!.some((x) => x.title === "Error" && x.value.length > 2));
  });

  it("retries a 429 (after its Retry-After) and a 500, sending the same message", async () => {
    await until(() => kestrel.logs.filter((l) => l["msg"] === "notification sent").length >= 2, "earlier deliveries", 3000);
    const start = slack.requests.length;
    const success = await metric("success");
    slack.script(SLACK_RATE_LIMITED("1"), SLACK_SERVER_ERROR);
    const sent = Date.now();
    await kestrel.post(falcoEvent());
    await slack.waitFor(start + 3, 6000);
    const tries = slack.requests.slice(start);
    assert.deepEqual(
      tries.map((t) => t.status),
      [429, 500, 200],
    );
    assert.equal(new Set(tries.map((t) => t.body)).size, 1);
    assert.ok(Date.now() - sent >= 1000, "Retry-After: 1 was honoured");
    await until(() => kestrel.logs.filter((l) => l["msg"] === "notification sent").length >= 3, "delivery after retries", 3000);
    assert.equal(await metric("success"), success + 1);
  });

  it("does not retry a refusal (404 no_service) and counts the failure", async () => {
    const start = slack.requests.length;
    const failures = await metric("failure");
    slack.script({ status: 404, body: "no_service" });
    await kestrel.post(falcoEvent());
    await until(() => kestrel.logs.filter((l) => l["msg"] === "notification failed").length >= 1, "failure log", 3000);
    await kestrel.settled(); // the failure is final: nothing more is sent
    assert.equal(slack.requests.length, start + 1);
    assert.equal(await metric("failure"), failures + 1);
  });

  it("keeps answering events at once while Slack hangs", async () => {
    slack.script({ status: 200, body: "ok", delayMs: 2000 }, { status: 200, body: "ok", delayMs: 2000 });
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await kestrel.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 500, `5 events took ${Date.now() - started} ms`);
  });
});
