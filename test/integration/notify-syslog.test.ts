// The syslog notifier through the running server against a real rsyslogd: facility, severity, app name,
// msgid and body as rsyslog parsed them, over UDP (RFC 5424), TCP (RFC 3164, octet counting) and a Unix
// stream socket (LF framing); failures counted when the server is gone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { eventually, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Rsyslog, startRsyslog } from "../support/rsyslog.ts";

const RULES = `
- rule: Act
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Ok
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Fail
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

describe("syslog notifier against rsyslog", () => {
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
    const k = await kestrel(`    transport: udp\n    host: 127.0.0.1\n    port: ${rsyslog.udpPort}\n    rfc: 5424\n    facility: local3\n    app_name: kestrel-udp\n    hostname: node-9\n`);
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
    await eventually(() => k.logs.filter((l) => l["msg"] === "notification sent").length >= 2, 3000, "delivery logs");
    assert.equal(await metric(k, "success"), 2);
  });

  it("TCP, RFC 3164 with octet counting: facility user by default, text body", async () => {
    const before = (await rsyslog.records()).length;
    const k = await kestrel(`    transport: tcp\n    host: 127.0.0.1\n    port: ${rsyslog.tcpPort}\n    rfc: 3164\n    app_name: kestrel-tcp\n    format: text\n`);
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
    const k = await kestrel(`    transport: unix\n    path: ${rsyslog.unixPath}\n    framing: newline\n    facility: local7\n    app_name: kestrel-unix\n`);
    await k.post(falcoEvent({ priority: "Notice" }));
    await k.post(falcoEvent({ priority: "Error" }));
    const records = (await rsyslog.waitFor(before + 2)).filter((r) => r.app === "kestrel-unix");
    assert.deepEqual(records.map((r) => [r.fac, r.sev]).sort(), [["local7", "err"], ["local7", "notice"]]);
    for (const r of records) assert.equal((JSON.parse(r.msg) as Record<string, unknown>)["rule"], "Act");
  });

  it("counts failures when the server is unreachable, and the intake stays fast", async () => {
    const k = await kestrel(`    transport: tcp\n    host: 127.0.0.1\n    port: 1\n    timeout_seconds: 0.5\n`);
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await k.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 1000, `5 events took ${Date.now() - started} ms`);
    await eventually(() => k.logs.filter((l) => l["msg"] === "notification failed").length >= 5, 15_000, "failures");
    assert.equal(await metric(k, "failure"), 5);
    assert.equal(await metric(k, "success"), 0);
  });
});
