import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import { parseMime, type SmtpTestServer, startSmtpServer } from "../../test/support/smtp.ts";
import { createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import smtp, { mailHtml, mailSubject, mailText, smtpError } from "./smtp.ts";

const log = pino({ level: "silent" });
const EVIL = `<script>alert("x")</script><img src=x onerror='y'>&amp;`;

describe("smtp message shaping", () => {
  it("puts status, kind, action and rule in the subject, on one line", () => {
    assert.equal(mailSubject(makeNotification()), "[kestrel][success][action] Action 'Label the pod' Rule 'Terminal shell in container'");
    const event = makeNotification({
      kind: "event",
      action: "",
      actionner: "",
      rule: "Bad\r\nBcc: victim@example.com",
      event: { priority: "Critical" },
    });
    assert.equal(mailSubject(event), "[kestrel][Critical][event] Rule 'Bad Bcc: victim@example.com'");
  });

  it("escapes every value in the html body", () => {
    const n = makeNotification({
      rule: EVIL,
      action: EVIL,
      summary: EVIL,
      error: EVIL,
      objects: { pod: EVIL },
      event: { output: `12:00:00.000000000: Notice ${EVIL}` },
    });
    const html = mailHtml(n);
    assert.ok(!html.includes("<script"), html);
    assert.ok(!html.includes("<img"), html);
    assert.ok(!/onerror='/.test(html));
    assert.ok(html.includes("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"));
    assert.ok(html.includes("&#38;amp;"));
  });

  it("lists the fields in the text body", () => {
    const text = mailText(makeNotification({ status: "failure", error: "pods is forbidden" }));
    for (const line of [
      "Status: failure",
      "Rule: Terminal shell in container",
      "Action: Label the pod",
      "Actionner: kubernetes:label",
      "Pod: nginx",
      "Namespace: default",
      "Error: pods is forbidden",
      "Trace ID: 0b5e1f0c-3a4e-4c1e-9a43-4a7d9d6c2f11",
    ]) {
      assert.ok(text.includes(`${line}\n`), `missing ${line}`);
    }
  });

  it("maps SMTP failures: 4xx and connection problems retryable, auth and 5xx final", () => {
    assert.equal(smtpError(Object.assign(new Error("x"), { code: "EMESSAGE", responseCode: 451 })).retryable, true);
    assert.equal(smtpError(Object.assign(new Error("x"), { code: "EMESSAGE", responseCode: 554 })).retryable, false);
    assert.equal(smtpError(Object.assign(new Error("x"), { code: "EAUTH", responseCode: 535 })).retryable, false);
    assert.equal(smtpError(Object.assign(new Error("x"), { code: "EAUTH" })).retryable, false);
    assert.equal(smtpError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ESOCKET" })).retryable, true);
    assert.equal(smtpError(Object.assign(new Error("self-signed certificate"), { code: "ESOCKET" })).retryable, false);
  });

  it("validates Talon's settings", () => {
    const s = smtp.params.parse({ host_port: "localhost:1025", from: "a@b", to: "c@d, e@f" });
    assert.equal(s.format, "html");
    assert.equal(s.tls, false);
    assert.equal(smtp.params.safeParse({ host_port: "localhost", from: "a@b", to: "c@d" }).success, false);
    assert.equal(smtp.params.safeParse({ host_port: "localhost:25", to: "c@d" }).success, false);
  });
});

describe("smtp delivery through a real SMTP server with STARTTLS", () => {
  let server: SmtpTestServer;
  before(async () => {
    server = await startSmtpServer({ user: "falco", password: "s3cret" });
  });
  after(() => server.close());

  const create = async (extra: Record<string, unknown> = {}) =>
    smtp.create(
      smtp.params.parse({
        host_port: `localhost:${server.port}`,
        from: "falco@example.com",
        to: "secops@example.com, oncall@example.com",
        user: "falco",
        password: "s3cret",
        tls: true,
        ca_file: server.caFile,
        timeout_seconds: 5,
        ...extra,
      }),
      { clients: createClients(), log },
    );

  it("sends an html mail with a text alternative over STARTTLS, authenticated", async () => {
    const inst = await create();
    await inst.send(makeNotification({ summary: EVIL }), AbortSignal.timeout(5000));
    await inst.close?.();
    const mail = server.mails.at(-1)!;
    assert.equal(mail.secure, true);
    assert.equal(mail.user, "falco");
    assert.equal(mail.from, "falco@example.com");
    assert.deepEqual(mail.to, ["secops@example.com", "oncall@example.com"]);
    const { headers, parts } = parseMime(mail.raw);
    assert.equal(headers["subject"], "[kestrel][success][action] Action 'Label the pod' Rule 'Terminal shell in container'");
    assert.equal(headers["from"], "falco@example.com");
    assert.equal(headers["to"], "secops@example.com, oncall@example.com");
    assert.equal(headers["x-kestrel-trace-id"], "0b5e1f0c-3a4e-4c1e-9a43-4a7d9d6c2f11");
    assert.match(headers["content-type"]!, /^multipart\/alternative/);
    const text = parts.find((p) => p.headers["content-type"]?.startsWith("text/plain"))!;
    const html = parts.find((p) => p.headers["content-type"]?.startsWith("text/html"))!;
    assert.ok(text.body.includes("Rule: Terminal shell in container"));
    assert.ok(text.body.includes("Pod: nginx"));
    assert.ok(html.body.includes("Terminal shell in container"));
    assert.ok(html.body.includes("nginx"));
    assert.ok(!html.body.includes("<script"), "attacker HTML is escaped");
  });

  it("sends a text-only mail with format: text", async () => {
    const inst = await create({ format: "text" });
    await inst.send(makeNotification({ status: "failure", error: "boom" }), AbortSignal.timeout(5000));
    const { headers, parts } = parseMime(server.mails.at(-1)!.raw);
    assert.match(headers["content-type"]!, /^text\/plain/);
    assert.equal(parts.length, 1);
    assert.ok(parts[0]!.body.includes("Status: failure\n") || parts[0]!.body.includes("Status: failure\r\n"));
    assert.ok(parts[0]!.body.includes("Error: boom"));
    assert.match(headers["subject"]!, /^\[kestrel\]\[failure\]\[action\]/);
  });

  it("fails without retry when authentication is refused", async () => {
    const before = server.authFailures;
    const inst = await create({ password: "wrong" });
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(5000)),
      (err: unknown) => err instanceof KestrelError && !err.retryable && /535|auth/i.test(err.message),
    );
    assert.equal(server.authFailures, before + 1);
  });

  it("fails retryably on a 4xx answer and finally on a 5xx answer", async () => {
    const inst = await create();
    server.script(451, 554);
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(5000)),
      (err: unknown) => err instanceof KestrelError && err.retryable,
    );
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(5000)),
      (err: unknown) => err instanceof KestrelError && !err.retryable,
    );
  });

  it("refuses an untrusted certificate, without retry", async () => {
    const inst = await create({ ca_file: "" });
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(5000)),
      (err: unknown) => err instanceof KestrelError && !err.retryable && /certificate/i.test(err.message),
    );
  });
});

describe("smtp with implicit TLS", () => {
  it("speaks TLS from the first byte when implicit_tls is set", async () => {
    const server = await startSmtpServer({ user: "falco", password: "s3cret", implicitTls: true });
    try {
      const inst = await smtp.create(
        smtp.params.parse({
          host_port: `127.0.0.1:${server.port}`,
          from: "f@example.com",
          to: "t@example.com",
          user: "falco",
          password: "s3cret",
          implicit_tls: true,
          ca_file: server.caFile,
        }),
        { clients: createClients(), log },
      );
      await inst.send(makeNotification(), AbortSignal.timeout(5000));
      assert.equal(server.mails.length, 1);
      assert.equal(server.mails[0]!.secure, true);
    } finally {
      await server.close();
    }
  });
});
