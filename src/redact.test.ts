// Redaction of what Kestrel shows: URL credentials anywhere in a text, secret keys in objects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { basicAuthorization, REDACTED, redactCredentials, redactSecrets, splitCredentials } from "./redact.ts";

describe("redactCredentials", () => {
  it("replaces the user and password of every URL in a text, keeping the host", () => {
    assert.equal(
      redactCredentials("fetch failed for https://alice:s3cr%40t@hooks.example:8443/x and nats://tok3n@nats:4222"),
      `fetch failed for https://${REDACTED}@hooks.example:8443/x and nats://${REDACTED}@nats:4222`,
    );
    // A password holding an unencoded @: everything up to the last @ of the authority goes.
    assert.equal(redactCredentials("http://u:p@ss@host/"), `http://${REDACTED}@host/`);
  });

  it("leaves texts without credentials alone, and never reaches into the next JSON string", () => {
    const text = "mail admin@example.com about http://host:80/path?a=b@c";
    assert.equal(redactCredentials(text), text);
    const line = '{"url":"http://host","email":"a@b"}';
    assert.equal(redactCredentials(line), line);
  });
});

describe("splitCredentials", () => {
  it("returns the URL without credentials and the decoded user and password", () => {
    assert.deepEqual(splitCredentials("https://al%20ice:p%40ss@host:9/path?q=1"), {
      url: "https://host:9/path?q=1",
      username: "al ice",
      password: "p@ss",
    });
    assert.deepEqual(splitCredentials("nats://token@nats:4222"), { url: "nats://nats:4222", username: "token", password: "" });
    assert.equal(splitCredentials("https://host/path"), undefined);
    assert.equal(splitCredentials("not a url @ all"), undefined);
  });

  it("builds RFC 7617 basic credentials", () => {
    assert.equal(basicAuthorization("al ice", "p@ss"), `Basic ${Buffer.from("al ice:p@ss").toString("base64")}`);
  });
});

describe("redactSecrets", () => {
  it("redacts secret keys and URL credentials in strings, at any depth, copying only what changes", () => {
    const input = { a: { url: "http://u:pw@h/" }, list: ["https://x:y@z", "plain"], token: "t", keep: "fine" };
    assert.deepEqual(redactSecrets(input), {
      a: { url: `http://${REDACTED}@h/` },
      list: [`https://${REDACTED}@z`, "plain"],
      token: REDACTED,
      keep: "fine",
    });
    const clean = { a: { b: "http://h/" } };
    assert.equal(redactSecrets(clean), clean);
  });
});
