// The shared HTTP client against a real server on 127.0.0.1: credentials in a URL become an
// `Authorization: Basic` header (fetch refuses such a URL), and no error message shows them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closedPort } from "../../test/support/ports.ts";
import { type Receiver, startReceiver } from "../../test/support/receiver.ts";
import { KestrelError } from "../errors.ts";
import { httpRequest } from "./http.ts";

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
