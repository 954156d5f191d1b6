// The secured intake through the running server: HTTPS, mutual TLS, bearer tokens (inline and from a file
// that is rotated), per-client rate limits. Refusals are 401/403/429, counted by reason, logged without the
// token, and nothing refused reaches the engine.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { laterBy } from "../support/clock.ts";
import { falcoEvent } from "../support/events.ts";
import { ACT_OK_RULES, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type TestPki, testPki } from "../support/tls.ts";
import { until } from "../support/wait.ts";

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface RequestOptions {
  headers?: Record<string, string>;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  localAddress?: string;
  method?: string;
  path?: string;
}

/** One request with node:http(s), so that TLS client certificates and the source address can be chosen. */
function send(url: string, body: string, o: RequestOptions = {}): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: o.path ?? "/",
        method: o.method ?? "POST",
        headers: { "content-type": "application/json", ...o.headers },
        ...(o.ca === undefined ? {} : { ca: o.ca }),
        ...(o.cert === undefined ? {} : { cert: o.cert, key: o.key }),
        ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function rejected(k: RunningKestrel, reason: string): Promise<number> {
  const text = await (await fetch(`${k.url.replace("https:", "http:")}/metrics`).catch(() => undefined))?.text();
  const m = text === undefined ? null : new RegExp(`kestrel_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("intake over HTTPS with mutual TLS", () => {
  let pki: TestPki;
  let kestrel: RunningKestrel;
  before(async () => {
    pki = testPki();
    kestrel = await startKestrel({
      rules: ACT_OK_RULES,
      config: `tls:\n  cert_file: ${pki.server.certFile}\n  key_file: ${pki.server.keyFile}\n  client_ca_file: ${pki.caFile}\n`,
    });
  });
  after(async () => {
    await kestrel.close();
  });

  it("listens on https and accepts a client certificate signed by the CA", async () => {
    assert.match(kestrel.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await send(kestrel.url, falcoEvent(), { ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { result: string }).result, "queued");
    const health = await send(kestrel.url, "", { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, method: "GET", path: "/healthz" });
    assert.equal(health.status, 200);
  });

  it("refuses, in the handshake, a client without a certificate or with one the CA did not sign, and plain HTTP", async () => {
    await assert.rejects(send(kestrel.url, falcoEvent(), { ca: pki.ca }));
    await assert.rejects(send(kestrel.url, falcoEvent(), { ca: pki.ca, cert: pki.stranger.cert, key: pki.stranger.key }));
    await assert.rejects(send(kestrel.url.replace("https:", "http:"), falcoEvent()), "plain HTTP on the TLS port");
    // A client that does not trust Kestrel's certificate refuses it too.
    await assert.rejects(send(kestrel.url, falcoEvent(), { cert: pki.client.cert, key: pki.client.key }));
    assert.equal(kestrel.app.observer.summary.events, 1, "only the first test's event reached the engine");
  });
});

describe("intake with bearer tokens", () => {
  let kestrel: RunningKestrel;
  let tokensFile: string;
  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-tokens-"));
    tokensFile = join(dir, "tokens");
    await writeFile(tokensFile, "# one token per line\nfile-token-1\n\n");
    kestrel = await startKestrel({
      rules: ACT_OK_RULES,
      config: `auth:\n  tokens: [inline-token-AAAA]\n  tokens_file: ${tokensFile}\n`,
    });
  });
  after(async () => {
    await kestrel.close();
  });

  it("accepts the inline and the file's tokens", async () => {
    for (const token of ["inline-token-AAAA", "file-token-1"]) {
      const res = await send(kestrel.url, falcoEvent(), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, token);
    }
    assert.equal(
      (await send(kestrel.url, falcoEvent(), { headers: { authorization: "bearer   inline-token-AAAA" } })).status,
      200,
      "scheme case-insensitive",
    );
  });

  it("answers 401 without a token and 403 with a wrong one; counted, logged without the token, never reaching the engine", async () => {
    const events = kestrel.app.observer.summary.events;
    const none = await send(kestrel.url, falcoEvent());
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer realm="kestrel"/);
    assert.match((JSON.parse(none.body) as { error: string }).error, /Authorization: Bearer/);
    const wrong = await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer not-the-token-XYZ" } });
    assert.equal(wrong.status, 403);
    assert.match(String(wrong.headers["www-authenticate"]), /invalid_token/);
    const basic = await send(kestrel.url, falcoEvent(), { headers: { authorization: "Basic aW5saW5lLXRva2VuLUFBQUE=" } });
    assert.equal(basic.status, 403);
    const prefix = await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer inline-token-AAA" } });
    assert.equal(prefix.status, 403, "a prefix of a token is not the token");
    assert.equal(kestrel.app.observer.summary.events, events);
    assert.equal(await rejected(kestrel, "unauthorized"), 1);
    assert.equal(await rejected(kestrel, "forbidden"), 3);
    await until(() => kestrel.logs.filter((l) => l["msg"] === "event rejected").length >= 4, "the rejection logs", 2000);
    const logged = JSON.stringify(kestrel.logs);
    assert.ok(!logged.includes("not-the-token-XYZ") && !logged.includes("inline-token-AAAA"), "tokens never reach the logs");
    assert.ok(kestrel.logs.some((l) => l["msg"] === "event rejected" && l["reason"] === "forbidden" && l["client"] === "127.0.0.1"));
  });

  it("keeps /metrics and /healthz open for Prometheus and probes", async () => {
    assert.equal((await fetch(`${kestrel.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${kestrel.url}/metrics`)).status, 200);
  });

  it("re-reads a rotated tokens file: the new token works, the old one stops working", async () => {
    await writeFile(tokensFile, "file-token-2\n");
    let status = 0;
    // The failures while the file is not re-read yet may get this address throttled for a while (429).
    const accepted = async (): Promise<boolean> => {
      const headers = { authorization: "Bearer file-token-2" };
      status = (await send(kestrel.url, falcoEvent(), { headers, localAddress: "127.0.0.3" })).status;
      return status === 200;
    };
    await until(accepted, "the rotated token to be accepted", 10_000, { intervalMs: 200 });
    assert.equal(status, 200, "the rotated token is accepted");
    const fresh = { localAddress: "127.0.0.4" }; // an address with no failures
    assert.equal((await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer file-token-1" }, ...fresh })).status, 403);
    assert.equal((await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer inline-token-AAAA" }, ...fresh })).status, 200);
  });
});

async function authFailures(k: RunningKestrel, reason: string): Promise<number> {
  const text = await (await fetch(`${k.url}/metrics`)).text();
  const m = new RegExp(`kestrel_auth_failures_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("intake with bearer tokens: repeated failures", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({ rules: ACT_OK_RULES, config: "auth:\n  tokens: [right-token-BBBB]\n" });
  });
  after(async () => {
    await kestrel.close();
  });

  it("throttles a client after 10 failed authentications (429, even with the right token), counted and logged at debug", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const headers: Record<string, string> = i % 2 === 0 ? {} : { authorization: `Bearer guess-${i}-ZZZZ` };
      statuses.push((await send(kestrel.url, falcoEvent(), { headers })).status);
    }
    assert.deepEqual(statuses, [401, 403, 401, 403, 401, 403, 401, 403, 401, 403]);
    const throttled = await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer right-token-BBBB" } });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers["retry-after"], "1");
    assert.match((JSON.parse(throttled.body) as { error: string }).error, /too many failed authentications/);
    assert.equal((await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer guess-x-ZZZZ" } })).status, 429);
    // Another client is not affected.
    assert.equal(
      (await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer right-token-BBBB" }, localAddress: "127.0.0.2" })).status,
      200,
    );
    assert.equal(await authFailures(kestrel, "unauthorized"), 5);
    assert.equal(await authFailures(kestrel, "forbidden"), 5);
    assert.equal(await authFailures(kestrel, "auth_throttled"), 2);
    assert.equal(await rejected(kestrel, "auth_throttled"), 2);
    assert.equal(kestrel.app.observer.summary.events, 1, "only the other client's event reached the engine");
    await until(() => kestrel.logs.filter((l) => l["reason"] === "auth_throttled").length === 2, "the throttling logs", 2000);
    assert.ok(
      kestrel.logs.filter((l) => l["reason"] === "auth_throttled").every((l) => l["level"] === "debug"),
      "at debug: a flood does not flood the log",
    );
    const logged = JSON.stringify(kestrel.logs);
    assert.ok(!logged.includes("right-token-BBBB") && !logged.includes("guess-"), "tokens never reach the logs");
    const metrics = await (await fetch(`${kestrel.url}/metrics`)).text();
    assert.ok(!metrics.includes("right-token-BBBB") && !metrics.includes("guess-"), "nor the metrics");
  });

  it("lets the client back once its failures have aged (one a second)", async (t) => {
    laterBy(t, 1100);
    assert.equal((await send(kestrel.url, falcoEvent(), { headers: { authorization: "Bearer right-token-BBBB" } })).status, 200);
  });
});

describe("intake rate limit per client", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({ rules: ACT_OK_RULES, config: "limits:\n  events_per_second: 0.5\n  burst: 4\n" });
  });
  after(async () => {
    await kestrel.close();
  });

  it("answers 429 with Retry-After beyond the burst, per client address, and recovers at the rate", async (t) => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await send(kestrel.url, falcoEvent())).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    const limited = await send(kestrel.url, falcoEvent());
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["retry-after"], "2", "one event every 2 s");
    // Another client (another loopback address) has its own bucket.
    assert.equal((await send(kestrel.url, falcoEvent(), { localAddress: "127.0.0.2" })).status, 200);
    assert.equal(await rejected(kestrel, "rate_limited"), 3);
    // One more event after 2 s; a second one would need 2 s more.
    laterBy(t, 2100);
    assert.equal((await send(kestrel.url, falcoEvent())).status, 200);
    assert.equal((await send(kestrel.url, falcoEvent())).status, 429);
  });
});
