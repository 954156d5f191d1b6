// What the intake does with requests it refuses before reading their body (401, 403, 429, 413), and with
// clients too slow to send their headers or finish a TLS handshake, through the running server and raw
// sockets: a refused body is not consumed (at most about 1 MiB or 2 s, then the connection closes), a
// client that writes its whole body before reading (Python's urllib, many Go clients) still reads its
// answer, and header_timeout_seconds holds to the second.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { falcoEvent } from "../support/events.ts";
import { ACT_OK_RULES, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type TestPki, testPki } from "../support/tls.ts";

const MiB = 1024 * 1024;
const TOKEN = "limits-token-0123456789";

interface Answer {
  status: number;
  headers: string;
  body: string;
}

function parseAnswer(raw: string): Answer {
  const head = raw.indexOf("\r\n\r\n");
  return {
    status: Number(raw.slice(9, 12)),
    headers: raw.slice(0, Math.max(0, head)).toLowerCase(),
    body: head < 0 ? "" : raw.slice(head + 4),
  };
}

function portOf(k: RunningKestrel): number {
  return Number(new URL(k.url).port);
}

function head(contentLength: number, extra = ""): string {
  return `POST / HTTP/1.1\r\nHost: kestrel\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n${extra}\r\n`;
}

interface Streamed {
  answer: Answer;
  /** Body bytes the server's kernel took (write callbacks that succeeded). */
  written: number;
  /** Milliseconds from the first byte until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * Sends `requestHead` and then body bytes as fast as the server takes them, reading the answer meanwhile
 * (like curl or undici), until the server closes the connection or `giveUpMs` passes.
 */
function streamBody(socket: Socket, requestHead: string, giveUpMs: number): Promise<Streamed> {
  return new Promise((resolve) => {
    const start = performance.now();
    const chunk = Buffer.alloc(256 * 1024, "x");
    let written = 0;
    let raw = "";
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: parseAnswer(raw), written, closedAfterMs: performance.now() - start });
    };
    const timer = setTimeout(() => {
      done = true;
      socket.destroy();
      resolve({ answer: parseAnswer(raw), written, closedAfterMs: Number.POSITIVE_INFINITY });
    }, giveUpMs);
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (raw += c));
    socket.on("error", () => {}); // EPIPE/ECONNRESET once the server has had enough: expected
    socket.on("close", finish);
    socket.on("end", finish);
    const pump = (): void => {
      if (done || socket.destroyed) return;
      socket.write(chunk, (err) => {
        if (err !== undefined && err !== null) return;
        written += chunk.length;
        pump();
      });
    };
    socket.write(requestHead);
    pump();
  });
}

/** Writes the whole request first, and only then reads the answer (Python's urllib, many Go clients). */
function wholeBodyFirst(port: number, request: Buffer): Promise<Answer | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.pause();
    let raw = "";
    socket.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.write(request, (err) => {
      if (err !== undefined && err !== null) return; // the 'error' event resolves
      socket.setEncoding("utf8");
      socket.on("data", (c: string) => (raw += c));
      socket.on("end", () => resolve(parseAnswer(raw)));
      socket.resume();
    });
  });
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

describe("a request refused before its body is read", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({
      rules: ACT_OK_RULES,
      config: `auth:\n  tokens: [${TOKEN}]\nlimits:\n  events_per_second: 0.01\n  burst: 1\n`,
    });
  });
  after(async () => {
    await kestrel.close();
  });

  // A body of 10 GiB announced; the client would stream it all if the server kept reading.
  const cases: [string, string, number][] = [
    ["401 without a token", "", 401],
    ["403 with a wrong token", "Authorization: Bearer not-the-token\r\n", 403],
    ["413 when the announced body is over the limit", `Authorization: Bearer ${TOKEN}\r\n`, 413],
  ];
  for (const [name, auth, status] of cases) {
    it(`is answered ${name}, and closed after at most about 1 MiB or 2 s`, async () => {
      const socket = await connected(portOf(kestrel));
      const r = await streamBody(socket, head(10 * 1024 * MiB, auth), 8000);
      assert.equal(r.answer.status, status);
      assert.match(r.answer.headers, /\r\nconnection: close/);
      assert.ok(JSON.parse(r.answer.body).error.length > 0, "a reason is given");
      assert.ok(r.closedAfterMs < 3500, `closed after ${Math.round(r.closedAfterMs)} ms`);
      // 1 MiB discarded, plus what the kernel buffers on both sides hold (a few MiB on loopback).
      assert.ok(r.written < 24 * MiB, `${(r.written / MiB).toFixed(1)} MiB taken`);
    });
  }

  it("is answered 429 over the client's rate, and closed without reading on", async () => {
    const first = await connected(portOf(kestrel));
    const event = falcoEvent();
    first.write(`${head(Buffer.byteLength(event), `Authorization: Bearer ${TOKEN}\r\n`)}${event}`);
    await new Promise((resolve) => first.once("data", resolve)); // the one event of the burst
    first.destroy();
    const socket = await connected(portOf(kestrel));
    const r = await streamBody(socket, head(10 * 1024 * MiB, `Authorization: Bearer ${TOKEN}\r\n`), 8000);
    assert.equal(r.answer.status, 429);
    assert.ok(r.closedAfterMs < 3500, `closed after ${Math.round(r.closedAfterMs)} ms`);
    assert.ok(r.written < 24 * MiB, `${(r.written / MiB).toFixed(1)} MiB taken`);
  });

  it("is closed after 2 s when the client trickles its body", async () => {
    const socket = await connected(portOf(kestrel));
    const start = performance.now();
    let raw = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (raw += c));
    socket.on("error", () => {});
    socket.write(head(1000));
    const trickle = setInterval(() => socket.write("x"), 100);
    await new Promise((resolve) => socket.on("close", resolve));
    clearInterval(trickle);
    const elapsed = performance.now() - start;
    assert.equal(parseAnswer(raw).status, 401);
    assert.ok(elapsed > 1500 && elapsed < 3500, `closed after ${Math.round(elapsed)} ms`);
  });

  it("refuses a request that waits for 100 Continue without inviting its body, and invites an accepted one", async () => {
    const exchange = (auth: string, localAddress: string): Promise<string> =>
      new Promise((resolve) => {
        const event = falcoEvent();
        const socket = connect({ port: portOf(kestrel), host: "127.0.0.1", localAddress });
        let raw = "";
        socket.setEncoding("utf8");
        socket.on("error", () => {});
        socket.on("data", (c: string) => {
          raw += c;
          if (raw.startsWith("HTTP/1.1 100 ") && raw.endsWith("\r\n\r\n"))
            socket.write(event); // invited: the body follows
          else if (/\r\n\r\n\{.*\}$/s.test(raw)) socket.end();
        });
        socket.on("close", () => resolve(raw));
        socket.write(head(Buffer.byteLength(event), `${auth}Expect: 100-continue\r\n`));
      });
    const refused = await exchange("", "127.0.0.1");
    assert.match(refused, /^HTTP\/1\.1 401 /, "the final answer comes first, no 100 Continue");
    // From another address: this one's one event per 100 s is spent.
    const accepted = await exchange(`Authorization: Bearer ${TOKEN}\r\n`, "127.0.0.5");
    assert.match(accepted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it("still reaches a client that writes its whole body before reading", async () => {
    const body = Buffer.alloc(256 * 1024, "x");
    const answer = await wholeBodyFirst(portOf(kestrel), Buffer.concat([Buffer.from(head(body.length)), body]));
    assert.equal((answer as Answer).status, 401, JSON.stringify(answer));
  });
});

describe("a body over the limit, from a client that writes it whole before reading", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({ rules: ACT_OK_RULES });
  });
  after(async () => {
    await kestrel.close();
  });

  for (const size of [2 * MiB, 8 * MiB]) {
    it(`gets its 413 for ${size / MiB} MiB (the limit is 1 MiB)`, async () => {
      const body = Buffer.alloc(size, "x");
      const answer = await wholeBodyFirst(portOf(kestrel), Buffer.concat([Buffer.from(head(size)), body]));
      assert.equal((answer as Answer).status, 413, JSON.stringify(answer));
      assert.match((answer as Answer).body, /larger than 1048576 bytes/);
    });
  }

  it("keeps serving afterwards", async () => {
    assert.equal((await kestrel.post(falcoEvent())).status, 200);
  });
});

/** Sends the start of a request's headers and never the rest: resolves with the answer and when it came. */
function stallHeaders(socket: Socket): Promise<{ answer: Answer; afterMs: number }> {
  return new Promise((resolve) => {
    const start = performance.now();
    let raw = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (raw += c));
    socket.on("error", () => {});
    socket.on("close", () => resolve({ answer: parseAnswer(raw), afterMs: performance.now() - start }));
    socket.write("POST / HTTP/1.1\r\nHost: kestrel\r\n");
  });
}

describe("header_timeout_seconds", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({ rules: ACT_OK_RULES, config: "limits:\n  header_timeout_seconds: 1\n" });
  });
  after(async () => {
    await kestrel.close();
  });

  it("answers 408 with a reason to a client that does not finish its headers, to the second", async () => {
    const r = await stallHeaders(await connected(portOf(kestrel)));
    assert.equal(r.answer.status, 408);
    assert.match(JSON.parse(r.answer.body).error, /headers/);
    assert.ok(r.afterMs >= 900 && r.afterMs < 2000, `408 after ${Math.round(r.afterMs)} ms`);
    assert.equal((await kestrel.post(falcoEvent())).status, 200, "others are served");
  });
});

describe("requests that are not HTTP, or whose headers are too large", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({ rules: ACT_OK_RULES });
  });
  after(async () => {
    await kestrel.close();
  });

  const answerTo = (text: string): Promise<Answer> =>
    new Promise((resolve) => {
      const socket = connect(portOf(kestrel), "127.0.0.1");
      let raw = "";
      socket.setEncoding("utf8");
      socket.on("data", (c: string) => (raw += c));
      socket.on("error", () => {});
      socket.on("close", () => resolve(parseAnswer(raw)));
      socket.write(text);
    });

  it("answers 400 with a reason, without echoing the request", async () => {
    const r = await answerTo("<script>alert(1)</script> / HTTP/1.1\r\n\r\n");
    assert.equal(r.status, 400);
    assert.match(r.headers, /content-type: application\/json/);
    assert.match(JSON.parse(r.body).error, /not valid HTTP\/1\.1/);
    assert.doesNotMatch(r.body, /script/);
  });

  it("answers 431 with a reason to headers over node's limit", async () => {
    const r = await answerTo(`POST / HTTP/1.1\r\nHost: kestrel\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
    assert.equal(r.status, 431);
    assert.match(JSON.parse(r.body).error, /headers are too large/);
  });
});

describe("header_timeout_seconds over TLS", () => {
  let pki: TestPki;
  let kestrel: RunningKestrel;
  before(async () => {
    pki = testPki();
    kestrel = await startKestrel({
      rules: ACT_OK_RULES,
      config: `tls:\n  cert_file: ${pki.server.certFile}\n  key_file: ${pki.server.keyFile}\nlimits:\n  header_timeout_seconds: 1\n`,
    });
  });
  after(async () => {
    await kestrel.close();
  });

  it("closes a connection whose TLS handshake does not finish in time", async () => {
    const socket = await connected(portOf(kestrel));
    const start = performance.now();
    socket.on("error", () => {});
    socket.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, and nothing more
    await new Promise((resolve) => socket.on("close", resolve));
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 900 && elapsed < 2500, `closed after ${Math.round(elapsed)} ms`);
  });

  it("answers 408 once the handshake is done and the headers do not come", async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port: portOf(kestrel), ca: pki.ca, servername: "localhost" }, () => resolve(s));
      s.on("error", reject);
    });
    const r = await stallHeaders(socket);
    assert.equal(r.answer.status, 408);
    assert.ok(r.afterMs >= 900 && r.afterMs < 2000, `408 after ${Math.round(r.afterMs)} ms`);
  });
});
