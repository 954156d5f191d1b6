import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import pino from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import { until } from "../../test/support/wait.ts";
import { KestrelError } from "../errors.ts";
import syslog, { frame, severityOf, syslogMessage } from "./syslog.ts";

const f = { rfc: "5424", facility: "local0", hostname: "node-1", appName: "kestrel", format: "json", pid: 42 } as const;

describe("syslog message", () => {
  it("maps severity: failure → err, otherwise the event's priority", () => {
    assert.equal(severityOf(makeNotification({ status: "failure", event: { priority: "Debug" } })), 3);
    assert.equal(severityOf(makeNotification({ status: "success", event: { priority: "Critical" } })), 2);
    assert.equal(severityOf(makeNotification({ kind: "event", status: "success", event: { priority: "Emergency" } })), 0);
    assert.equal(severityOf(makeNotification({ kind: "event", status: "success", event: { priority: "Debug" } })), 7);
    assert.equal(severityOf(makeNotification({ status: "ignored", event: { priority: "Informational" } })), 6);
  });

  it("writes RFC 5424: PRI, version, timestamp, host, app, pid, msgid = kind, no SD, JSON body", () => {
    const n = makeNotification({ event: { priority: "Warning" } });
    const m = syslogMessage(n, f);
    const prefix = "<132>1 2024-12-30T14:37:28.123Z node-1 kestrel 42 action - ";
    assert.ok(m.startsWith(prefix), m);
    const body = JSON.parse(m.slice(prefix.length)) as Record<string, unknown>;
    assert.equal(body["rule"], "Terminal shell in container");
    assert.equal(body["priority"], "Warning");
  });

  it("writes RFC 3164 with a local BSD timestamp and TAG[PID], text body", () => {
    const n = makeNotification({ status: "failure", error: "boom" });
    const m = syslogMessage(n, { ...f, rfc: "3164", facility: "user", format: "text" });
    assert.match(
      m,
      /^<11>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d node-1 kestrel\[42\]: \S+: Failure rule="Terminal shell in container" .*error=boom/,
    );
  });

  it("sanitises header fields (no spaces)", () => {
    const m = syslogMessage(makeNotification(), { ...f, hostname: "my host", appName: "my app" });
    assert.match(m, /^<\d+>1 \S+ my_host my_app 42 /);
  });

  it("frames with octet counting (bytes, not characters) or a newline", () => {
    assert.equal(frame("é1", "octet-counting").toString(), "3 é1");
    assert.equal(frame("abc", "newline").toString(), "abc\n");
  });

  it("validates Talon-style settings with Falco-like defaults", () => {
    const s = syslog.params.parse({ rfc: 3164 });
    assert.equal(s.rfc, "3164");
    assert.equal(s.facility, "user");
    assert.equal(s.transport, "udp");
    assert.equal(s.app_name, "kestrel");
    assert.throws(() => syslog.params.parse({ rfc: 5425 }));
    assert.throws(() => syslog.params.parse({ facility: "local9" }));
  });
});

describe("syslog over TCP", () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it("reconnects after the server dropped the connection (the failed send is retryable)", async () => {
    const received: string[] = [];
    const sockets: Socket[] = [];
    const server = createServer((sock) => {
      sockets.push(sock);
      sock.on("data", (d) => received.push(d.toString()));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const settings = syslog.params.parse({ transport: "tcp", host: "127.0.0.1", port, framing: "newline" });
    const inst = await syslog.create(settings, { clients: {} as never, log: pino({ enabled: false }) });
    const signal = new AbortController().signal;
    await inst.send(makeNotification({ summary: "first" }), signal);
    await until(() => received.join("").includes("first"), "the first message", 3000);
    sockets[0]!.destroy();
    // The client notices the close; a send either fails retryable (before) or goes on a new connection.
    for (let i = 0; i < 50 && sockets.length < 2; i++) {
      try {
        await inst.send(makeNotification({ summary: `second-${i}` }), signal);
      } catch (err) {
        assert.ok(err instanceof KestrelError && err.retryable, String(err));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(sockets.length, 2, "a new connection was made");
    await until(() => /second-\d+/.test(received.slice(1).join("")), "a second message on the new connection", 3000);
    await inst.close?.();
  });

  it("fails retryable when nothing listens", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const inst = await syslog.create(syslog.params.parse({ transport: "tcp", host: "127.0.0.1", port }), {
      clients: {} as never,
      log: pino({ enabled: false }),
    });
    await assert.rejects(
      inst.send(makeNotification(), new AbortController().signal),
      (err: unknown) => err instanceof KestrelError && err.retryable && /cannot connect/.test(err.message),
    );
    await inst.close?.();
  });
});
