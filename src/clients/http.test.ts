// The shared HTTP client against a real server on 127.0.0.1: credentials in a URL become an
// `Authorization: Basic` header (fetch refuses such a URL), and no error message shows them; sendHttp
// hands back any answer, read up to a cap, with the caller's words in its errors.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closedPort } from "../../test/support/ports.ts";
import { type ApiReceiver, type Receiver, startReceiver, startRecordingServer } from "../../test/support/receiver.ts";
import { KestrelError } from "../errors.ts";
import { httpRequest, sendHttp } from "./http.ts";

const request = { timeoutMs: 5000, errorCode: "ERR_NOTIFY" } as const;

describe("httpRequest", () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
  });

  it("sends a URL's credentials as an Authorization: Basic header, and the URL without them", async () => {
    const withCredentials = receiver.url.replace("http://", "http://al%20ice:p%40ss%3Aword@");
    const res = await httpRequest(`${withCredentials}/hook?x=1`, { ...request, body: "{}" });
    assert.equal(res.status, 200);
    const got = receiver.requests.at(-1)!;
    assert.equal(got.url, "/hook?x=1");
    assert.equal(got.headers["authorization"], `Basic ${Buffer.from("al ice:p@ss:word").toString("base64")}`);
  });

  it("keeps an Authorization header given explicitly", async () => {
    const withCredentials = receiver.url.replace("http://", "http://user:pass@");
    await httpRequest(`${withCredentials}/explicit`, { ...request, headers: { Authorization: "Bearer abc" } });
    assert.equal(receiver.requests.at(-1)!.headers["authorization"], "Bearer abc");
  });

  it("never shows the credentials in its errors", async () => {
    receiver.script(503);
    const failing = receiver.url.replace("http://", "http://user:hunter2@");
    const refused = `http://user:hunter2@127.0.0.1:${await closedPort()}/x`;
    for (const url of [failing, refused]) {
      const err = await httpRequest(url, request).then(
        () => assert.fail("the request should fail"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KestrelError);
      assert.equal(err.retryable, true);
      assert.doesNotMatch(`${err.message} ${String((err.cause as Error | undefined)?.message)}`, /hunter2|user/);
      assert.match(err.message, /^http:\/\/127\.0\.0\.1:\d+: (HTTP 503|ECONNREFUSED)/);
    }
  });
});

describe("sendHttp", () => {
  let api: ApiReceiver;
  before(async () => {
    api = await startRecordingServer(() => ({ status: 200, body: "x".repeat(100_000) }));
  });
  after(async () => {
    await api?.close();
  });

  it("resolves with any status, reads at most maxBodyBytes, and follows no redirect when told so", async () => {
    api.script({ status: 302, headers: { location: "/elsewhere" }, body: "moved" });
    const moved = await sendHttp(`${api.url}/f`, { ...request, method: "GET", redirect: "manual" });
    assert.deepEqual([moved.status, moved.headers.get("location"), moved.body], [302, "/elsewhere", "moved"]);
    assert.equal(api.requests.length, 1, "the redirect was not followed");
    const capped = await sendHttp(`${api.url}/big`, { ...request, method: "GET", maxBodyBytes: 1000 });
    assert.equal(capped.body, "x".repeat(1000));
    api.script({ status: 503, headers: { "retry-after": "2" }, body: "busy" });
    const busy = await sendHttp(`${api.url}/f`, { ...request, method: "GET" });
    assert.deepEqual([busy.status, busy.body], [503, "busy"]);
  });

  it("starts its errors with the caller's label; its own deadline is a retryable ERR_TIMEOUT, in seconds", async () => {
    api.script({ status: 200, delayMs: 2000 });
    const err = await sendHttp(`${api.url}/slow`, { ...request, timeoutMs: 300, label: "cannot call the function" }).then(
      () => assert.fail("the request should time out"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KestrelError);
    assert.equal(err.code, "ERR_TIMEOUT");
    assert.equal(err.retryable, true);
    assert.equal(err.message, "cannot call the function: no answer within 0.3 s");
  });

  it("marks a 503 retryable with its Retry-After, and a 400 final", async () => {
    api.script({ status: 503, headers: { "retry-after": "2" } }, { status: 400, body: "bad" });
    const busy = await httpRequest(`${api.url}/x`, request).catch((e: unknown) => e);
    assert.ok(busy instanceof KestrelError && busy.retryable && busy.retryAfterSeconds === 2, String(busy));
    const bad = await httpRequest(`${api.url}/x`, request).catch((e: unknown) => e);
    assert.ok(bad instanceof KestrelError && !bad.retryable && /HTTP 400: bad$/.test(bad.message), String(bad));
  });
});
