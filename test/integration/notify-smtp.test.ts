// The smtp notifier through a running Kestrel against a real SMTP server (smtp-server, STARTTLS with a
// self-signed certificate, authentication required).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { parseMime, type SmtpTestServer, startSmtpServer } from "../support/smtp.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Respond
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Run true
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;

describe("smtp notifier (running server)", () => {
  let kestrel: RunningKestrel;
  let smtp: SmtpTestServer;
  const metric = (status: string): Promise<number> => notificationsTotal(kestrel, "smtp", status);

  before(async () => {
    smtp = await startSmtpServer({ user: "falco", password: "s3cret" });
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [smtp]
notifiers:
  smtp:
    host_port: localhost:${smtp.port}
    from: falco@falcosecurity.org
    to: user@test.com, other@test.com
    user: falco
    password: s3cret
    format: html
    tls: true
    ca_file: ${smtp.caFile}
`,
    });
  });
  after(async () => {
    await kestrel.close();
    await smtp.close();
  });

  it("mails the result as html and text, with the event's fields escaped", async () => {
    const evil = `<b onmouseover="alert(1)">x</b>`;
    const res = await kestrel.post(falcoEvent({ output: `14:37:27.505989596: Notice A shell was spawned ${evil}` }));
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => smtp.mails.length >= 1, "a mail");
    const mail = smtp.mails[0]!;
    assert.equal(mail.secure, true, "STARTTLS was used");
    assert.equal(mail.user, "falco");
    assert.deepEqual(mail.to, ["user@test.com", "other@test.com"]);
    const { headers, parts } = parseMime(mail.raw);
    assert.equal(headers["subject"], "[kestrel][success][action] Action 'Run true' Rule 'Respond'");
    assert.equal(headers["x-kestrel-trace-id"], trace_id);
    const text = parts.find((p) => p.headers["content-type"]?.startsWith("text/plain"))!.body;
    const html = parts.find((p) => p.headers["content-type"]?.startsWith("text/html"))!.body;
    for (const field of ["Status: success", "Rule: Respond", "Action: Run true", "Actionner: local:command", `Trace ID: ${trace_id}`]) {
      assert.ok(text.includes(field), `text body lacks ${field}`);
    }
    assert.ok(text.includes(evil), "the text body keeps the event as is");
    assert.ok(html.includes("local:command") && html.includes(trace_id));
    assert.ok(!html.includes("<b onmouseover"), "no HTML injection");
    assert.ok(html.includes("&#60;b onmouseover=&#34;alert(1)&#34;&#62;"));
    await until(async () => (await metric("success")) === 1, "success counted");
  });

  it("retries a 4xx answer until the mail is accepted", async () => {
    const mails = smtp.mails.length;
    const attempts = smtp.attempts;
    smtp.script(451);
    await kestrel.post(falcoEvent());
    await until(() => smtp.mails.length > mails, "the mail after a retry");
    assert.equal(smtp.attempts, attempts + 2);
    assert.equal(await metric("failure"), 0);
  });

  it("counts a 5xx answer as a failure without retrying, and never slows the intake", async () => {
    const attempts = smtp.attempts;
    smtp.script(554);
    const started = Date.now();
    assert.equal((await kestrel.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 500);
    await until(async () => (await metric("failure")) === 1, "failure counted");
    assert.equal(smtp.attempts, attempts + 1);
  });
});
