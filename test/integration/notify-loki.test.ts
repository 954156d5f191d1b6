// The loki notifier through a running Kestrel against a receiver answering like Loki's push API.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type FakeLoki, startFakeLoki } from "../support/loki.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Respond
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Run true
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;

describe("loki notifier (running server)", () => {
  let kestrel: RunningKestrel;
  let loki: FakeLoki;
  const metric = (status: string): Promise<number> => notificationsTotal(kestrel, "loki", status);

  before(async () => {
    loki = await startFakeLoki();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [loki]
notifiers:
  loki:
    host_port: ${loki.url}
    user: 99999
    api_key: xxxxx
    tenant: security
    custom_headers: { X-Source: kestrel-test }
`,
    });
  });
  after(async () => {
    await kestrel.close();
    await loki.close();
  });

  it("pushes the action result with bounded labels, auth and tenant", async () => {
    const res = await kestrel.post(falcoEvent({ priority: "Critical" }));
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => loki.accepted.length >= 1, "a push", 5000);
    const push = loki.accepted[0]!;
    assert.equal(push.headers.authorization, `Basic ${Buffer.from("99999:xxxxx").toString("base64")}`);
    assert.equal(push.headers["x-scope-orgid"], "security");
    assert.equal(push.headers["x-source"], "kestrel-test");
    const stream = push.json!.streams[0]!;
    assert.deepEqual(stream.stream, {
      app: "kestrel",
      message: "action",
      status: "success",
      rule: "respond",
      action: "run_true",
      actionner: "local:command",
      priority: "Critical",
      source: "syscall",
    });
    const [ts, line] = stream.values[0]!;
    assert.match(ts, /^\d{19}$/);
    const payload = JSON.parse(line) as Record<string, unknown>;
    assert.equal(payload["trace_id"], trace_id);
    assert.equal(payload["actionner"], "local:command");
    assert.ok(!JSON.stringify(stream.stream).includes(trace_id));
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent" && l["notifier"] === "loki"), "sent log", 3000);
  });

  it("retries 429 and 500, gives up at once on 400, and counts both outcomes", async () => {
    const okBefore = await metric("success");
    loki.script({ status: 429, headers: { "retry-after": "0" } }, 500);
    const pushesBefore = loki.pushes.length;
    await kestrel.post(falcoEvent());
    await until(() => loki.pushes.length >= pushesBefore + 3, "three attempts", 5000);
    await until(() => loki.accepted.length >= 2, "accepted after retries", 3000);
    await until(async () => (await metric("success")) > okBefore, "success counted");
    assert.equal(await metric("failure"), 0, "a retried push that went through is no failure");

    const failBefore = await metric("failure");
    loki.script(400);
    const start = loki.pushes.length;
    const started = Date.now();
    assert.equal((await kestrel.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 500);
    await until(async () => (await metric("failure")) === failBefore + 1, "failure counted");
    assert.equal(loki.pushes.length, start + 1, "a 400 is not retried");
  });
});
