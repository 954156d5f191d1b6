// The retry kit, tested once for every client: the policy table of retryable answers, the connection codes
// found where fetch and gaxios put them, and withRetry's attempts, backoff, Retry-After and abort, on mocked
// timers (nothing here waits for real).
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { KestrelError } from "../errors.ts";
import {
  connectionCode,
  isRetryable,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryAfterOption,
  retryDelayMs,
  withRetry,
} from "./retry.ts";

const POLICY: RetryPolicy = { attempts: 4, backoffMs: 100, maxBackoffMs: 1000 };
const retryable = (retryAfterSeconds?: number) =>
  new KestrelError("ERR_ACTION", "busy", { retryable: true, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
const final = () => new KestrelError("ERR_TARGET_GONE", "gone");

/** Lets the awaited promises of withRetry settle, so that its next timer is set (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Mocked setTimeout and a jitter factor of exactly 1 (Math.random() = 0.5). */
function mockTime(t: TestContext): void {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  t.mock.method(Math, "random", () => 0.5);
}

/** The calls made once `ms` more have passed on the mocked clock. */
async function callsAfter(t: TestContext, ms: number, s: { calls: () => number }): Promise<number> {
  t.mock.timers.tick(ms);
  await settle();
  return s.calls();
}

/** A function failing with `failures` in turn, then answering "ok"; counts its calls. */
function scripted(...failures: Error[]): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fn: async () => {
      const failure = failures[calls++];
      if (failure !== undefined) throw failure;
      return "ok";
    },
    calls: () => calls,
  };
}

describe("the policy table", () => {
  it("retries 408, 409, 425, 429 and the 5xx answers except 501 and 505; nothing else", () => {
    const retried = [408, 409, 425, 429, 500, 502, 503, 504, 507, 599];
    const final = [200, 301, 400, 401, 403, 404, 410, 412, 422, 501, 505, 600];
    for (const s of retried) assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of final) assert.equal(isRetryableStatus(s), false, String(s));
  });

  it("finds a connection code on the error, in its cause (fetch) or deeper (gaxios), and nothing else", () => {
    assert.equal(connectionCode(Object.assign(new Error("connect"), { code: "ECONNREFUSED" })), "ECONNREFUSED");
    assert.equal(connectionCode(new TypeError("fetch failed", { cause: { code: "UND_ERR_SOCKET" } })), "UND_ERR_SOCKET");
    const gaxios = new Error("request failed", { cause: new Error("fetch failed", { cause: { code: "EAI_AGAIN" } }) });
    assert.equal(connectionCode(gaxios), "EAI_AGAIN");
    assert.equal(connectionCode(new TypeError("fetch failed", { cause: { code: "DEPTH_ZERO_SELF_SIGNED_CERT" } })), undefined);
    assert.equal(connectionCode(Object.assign(new Error("x"), { code: 503 })), undefined);
    assert.equal(connectionCode("ECONNRESET"), undefined);
    assert.equal(connectionCode(undefined), undefined);
  });

  it("retries only KestrelErrors marked retryable", () => {
    assert.equal(isRetryable(retryable()), true);
    assert.equal(isRetryable(final()), false);
    assert.equal(isRetryable(Object.assign(new Error("x"), { retryable: true })), false);
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates, and nothing else", (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-01-01T00:00:00Z") });
    assert.equal(parseRetryAfter("3"), 3);
    assert.equal(parseRetryAfter("0"), 0);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT"), 30);
    assert.equal(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT"), 0, "a date past is now");
    for (const v of [null, undefined, "", " ", "-1", "soon"]) assert.equal(parseRetryAfter(v), undefined, String(v));
    assert.deepEqual(retryAfterOption("2"), { retryAfterSeconds: 2 });
    assert.deepEqual(retryAfterOption(null), {});
  });
});

describe("retryDelayMs", () => {
  it("doubles from backoffMs up to maxBackoffMs, with ±50 % jitter", (t) => {
    const random = t.mock.method(Math, "random", () => 0.5);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, retryable(), POLICY)),
      [100, 200, 400, 800, 1000, 1000],
    );
    random.mock.mockImplementation(() => 0);
    assert.equal(retryDelayMs(2, retryable(), POLICY), 100);
    random.mock.mockImplementation(() => 0.999_999);
    assert.ok(Math.abs(retryDelayMs(2, retryable(), POLICY) - 300) < 0.01);
  });

  it("takes the server's Retry-After as it is, capped at maxBackoffMs", () => {
    assert.equal(retryDelayMs(1, retryable(0.25), POLICY), 250);
    assert.equal(retryDelayMs(3, retryable(0.25), POLICY), 250);
    assert.equal(retryDelayMs(1, retryable(30), POLICY), 1000);
  });
});

describe("withRetry", () => {
  const never = new AbortController().signal;

  it("waits the backoff between attempts, then returns the first success", async (t) => {
    mockTime(t);
    const s = scripted(retryable(), retryable());
    const result = withRetry(s.fn, POLICY, never);
    await settle();
    assert.equal(s.calls(), 1);
    assert.equal(await callsAfter(t, 99, s), 1, "not before the first backoff (100 ms)");
    assert.equal(await callsAfter(t, 1, s), 2);
    assert.equal(await callsAfter(t, 199, s), 2, "the second backoff is twice as long");
    t.mock.timers.tick(1);
    assert.equal(await result, "ok");
    assert.equal(s.calls(), 3);
  });

  it("throws a failure that is not retryable at once", async (t) => {
    mockTime(t);
    const gone = final();
    const s = scripted(gone);
    await assert.rejects(withRetry(s.fn, POLICY, never), (err) => err === gone);
    assert.equal(s.calls(), 1);
  });

  it("throws the last failure when the attempts are spent", async (t) => {
    mockTime(t);
    const failures = [retryable(), retryable(), retryable(), retryable()];
    const s = scripted(...failures, retryable());
    const result = withRetry(s.fn, POLICY, never);
    const rejected = assert.rejects(result, (err) => err === failures[3]);
    for (const wait of [100, 200, 400]) {
      await settle();
      t.mock.timers.tick(wait);
    }
    await rejected;
    assert.equal(s.calls(), 4);
  });

  it("waits what Retry-After says instead of the backoff", async (t) => {
    mockTime(t);
    const s = scripted(retryable(0.5));
    const result = withRetry(s.fn, POLICY, never);
    await settle();
    assert.equal(await callsAfter(t, 499, s), 1);
    t.mock.timers.tick(1);
    assert.equal(await result, "ok");
  });

  it("stops waiting when the signal aborts, and starts no attempt after it", async (t) => {
    mockTime(t);
    const ctl = new AbortController();
    const first = retryable();
    const s = scripted(first, retryable());
    const result = withRetry(s.fn, POLICY, ctl.signal);
    await settle();
    ctl.abort();
    await assert.rejects(result, (err) => err === first);
    assert.equal(s.calls(), 1);
    const again = scripted(retryable());
    await assert.rejects(withRetry(again.fn, POLICY, ctl.signal), KestrelError);
    assert.equal(again.calls(), 1, "an aborted signal: the one attempt only, no wait");
  });
});
