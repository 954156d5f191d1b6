// The syslog notifier through the running server against a real rsyslogd: facility, severity, app name,
// msgid and body as rsyslog parsed them, over UDP (RFC 5424), TCP (RFC 3164, octet counting) and a Unix
// stream socket (LF framing); failures counted when the server is gone. TLS (RFC 5425) against a node:tls
// receiver: verified with ca_file, refused without it, reconnected after the server drops the connection.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { ACT_OK_RULES, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { loggedError } from "../support/logs.ts";
import { type Rsyslog, rsyslogSkipReason, startRsyslog } from "../support/rsyslog.ts";
import { startTlsSyslogReceiver, type TlsSyslogReceiver } from "../support/syslog-tls.ts";
import { until } from "../support/wait.ts";

const RULES = `${ACT_OK_RULES}- rule: Fail
  match: { rules: [Failing rule] }
  actions:
    - action: Broken
      actionner: local:command
      parameters: { command: ["/bin/false"] }
`;

async function metric(k: RunningKestrel, status: string): Promise<number> {
  const text = await (await fetch(`${k.url}/metrics`)).text();
  const m = new RegExp(`kestrel_notifications_total\\{notifier="syslog",status="${status}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("syslog notifier against rsyslog", { skip: rsyslogSkipReason() }, () => {
  let rsyslog: Rsyslog;
  const running: RunningKestrel[] = [];
  before(async () => {
    rsyslog = await startRsyslog();
  });
  after(async () => {
    for (const k of running) await k.close();
    await rsyslog.stop();
  });

  async function kestrel(settings: string): Promise<RunningKestrel> {
    const k = await startKestrel({ rules: RULES, config: `default_notifiers: [syslog]\nnotifiers:\n  syslog:\n${settings}` });
    running.push(k);
    return k;
  }

  it("UDP, RFC 5424: facility, severity from the priority (failure → err), app name, msgid, JSON body", async () => {
    const k = await kestrel(
      `    transport: udp\n    host: 127.0.0.1\n    port: ${rsyslog.udpPort}\n    rfc: 5424\n    facility: local3\n    app_name: kestrel-udp\n    hostname: node-9\n`,
    );
    await k.post(falcoEvent({ priority: "Warning" }));
    await k.post(falcoEvent({ rule: "Failing rule", priority: "Debug" }));
    const records = (await rsyslog.waitFor(2)).filter((r) => r.app === "kestrel-udp");
    assert.equal(records.length, 2);
    const ok = records.find((r) => r.msg.includes('"rule":"Act"'))!;
    const failed = records.find((r) => r.msg.includes('"rule":"Fail"'))!;
    assert.equal(ok.proto, "imudp");
    assert.equal(ok.fac, "local3");
    assert.equal(ok.sev, "warning");
    assert.equal(ok.host, "node-9");
    assert.equal(ok.msgid, "action");
    assert.equal(ok.procid, String(process.pid));
    const body = JSON.parse(ok.msg) as Record<string, unknown>;
    assert.equal(body["status"], "success");
    assert.equal(body["priority"], "Warning");
    assert.equal(failed.sev, "err");
    assert.equal((JSON.parse(failed.msg) as Record<string, unknown>)["status"], "failure");
    await until(() => k.logs.filter((l) => l["msg"] === "notification sent").length >= 2, "delivery logs", 3000);
    assert.equal(await metric(k, "success"), 2);
  });

  it("TCP, RFC 3164 with octet counting: facility user by default, text body", async () => {
    const before = (await rsyslog.records()).length;
    const k = await kestrel(
      `    transport: tcp\n    host: 127.0.0.1\n    port: ${rsyslog.tcpPort}\n    rfc: 3164\n    app_name: kestrel-tcp\n    format: text\n`,
    );
    for (let i = 0; i < 3; i++) await k.post(falcoEvent({ priority: "Critical" }));
    const records = (await rsyslog.waitFor(before + 3)).filter((r) => r.app === "kestrel-tcp");
    assert.equal(records.length, 3);
    for (const r of records) {
      assert.equal(r.proto, "imtcp");
      assert.equal(r.fac, "user");
      assert.equal(r.sev, "crit");
      assert.match(r.msg, /^ ?\S+: Success rule=Act action=Ok actionner=local:command .*trace_id=/);
    }
  });

  it("Unix stream socket with LF framing", async () => {
    const before = (await rsyslog.records()).length;
    const k = await kestrel(
      `    transport: unix\n    path: ${rsyslog.unixPath}\n    framing: newline\n    facility: local7\n    app_name: kestrel-unix\n`,
    );
    await k.post(falcoEvent({ priority: "Notice" }));
    await k.post(falcoEvent({ priority: "Error" }));
    const records = (await rsyslog.waitFor(before + 2)).filter((r) => r.app === "kestrel-unix");
    assert.deepEqual(records.map((r) => [r.fac, r.sev]).sort(), [
      ["local7", "err"],
      ["local7", "notice"],
    ]);
    for (const r of records) assert.equal((JSON.parse(r.msg) as Record<string, unknown>)["rule"], "Act");
  });

  it("counts failures when the server is unreachable, and the intake stays fast", async () => {
    const k = await kestrel(`    transport: tcp\n    host: 127.0.0.1\n    port: 1\n    timeout_seconds: 0.5\n`);
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await k.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 1000, `5 events took ${Date.now() - started} ms`);
    await until(() => k.logs.filter((l) => l["msg"] === "notification failed").length >= 5, "failures", 15_000);
    assert.equal(await metric(k, "failure"), 5);
    assert.equal(await metric(k, "success"), 0);
  });
});

describe("syslog notifier over TLS", () => {
  let receiver: TlsSyslogReceiver;
  const running: RunningKestrel[] = [];
  before(async () => {
    receiver = await startTlsSyslogReceiver();
  });
  after(async () => {
    for (const k of running) await k.close();
    await receiver.close();
  });

  async function kestrel(settings: string): Promise<RunningKestrel> {
    const k = await startKestrel({ rules: RULES, config: `default_notifiers: [syslog]\nnotifiers:\n  syslog:\n${settings}` });
    running.push(k);
    return k;
  }

  it("verifies the server with ca_file, sends octet-counted RFC 5424 messages, and reconnects after a drop", async () => {
    const k = await kestrel(
      `    transport: tls\n    host: localhost\n    port: ${receiver.port}\n    ca_file: ${receiver.caFile}\n    app_name: kestrel-tls\n    facility: auth\n`,
    );
    const res = await k.post(falcoEvent({ priority: "Critical" }));
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => receiver.messages.length >= 1, "the first message", 5000);
    const first = receiver.messages[0]!;
    // <PRI> = auth (4) * 8 + crit (2) = 34; MSGID is the notification kind.
    assert.match(first.text, /^<34>1 \d{4}-\d{2}-\d{2}T\S+ \S+ kestrel-tls \d+ action - \{/);
    const body = JSON.parse(first.text.slice(first.text.indexOf("{"))) as Record<string, unknown>;
    assert.equal(body["rule"], "Act");
    assert.equal(body["status"], "success");
    assert.equal(body["trace_id"], trace_id);

    receiver.dropConnections();
    await k.post(falcoEvent({ rule: "Failing rule", priority: "Debug" }));
    await until(() => receiver.messages.length >= 2, "the message after the drop", 10_000);
    const second = receiver.messages[1]!;
    assert.notEqual(second.connection, first.connection, "a new TLS connection");
    assert.match(second.text, /^<35>1 /, "auth (4) * 8 + err (3): a failed result");
    assert.equal(await metric(k, "success"), 2);
  });

  it("refuses a server whose certificate it cannot verify, without retrying, and counts the failure", async () => {
    const handshakes = receiver.handshakeFailures;
    const k = await kestrel(`    transport: tls\n    host: localhost\n    port: ${receiver.port}\n    timeout_seconds: 2\n`);
    const res = await k.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => k.logs.some((l) => l["msg"] === "notification failed" && l["trace_id"] === trace_id), "the failure", 10_000);
    const failure = k.logs.find((l) => l["msg"] === "notification failed")!;
    assert.match(loggedError(failure), /certificate/i);
    assert.equal(await metric(k, "failure"), 1);
    await k.settled(); // the failure is final: nothing more is sent
    assert.equal(receiver.handshakeFailures - handshakes, 1, "a certificate error is not retried");
  });
});
