// Google API failures become KestrelErrors with the right code, message and retryability.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gcpError, statusOf } from "./errors.ts";
import type { GcpOperation } from "./types.ts";

describe("gcpError", () => {
  const op: GcpOperation = {
    what: "upload the object 'o' to the bucket 'b'",
    code: "ERR_OUTPUT",
    permission: "storage.objects.create on the bucket 'b'",
    notFound: "the bucket 'b' does not exist",
  };
  const creds = 'gcp.credentials_path "/k.json"';
  const http = (status: number, message: string) =>
    Object.assign(new Error(`Request failed with status code ${status}`), {
      status,
      response: { status, data: { error: { code: status, message } } },
    });

  it("maps 403 to the missing permission, 404 to what does not exist, 401 to the credentials", () => {
    const denied = gcpError(http(403, "sa@p does not have storage.objects.create access"), op, creds);
    assert.equal(denied.code, "ERR_FORBIDDEN");
    assert.equal(denied.retryable, false);
    assert.match(
      denied.message,
      /permission denied: gcp\.credentials_path "\/k\.json" needs storage\.objects\.create on the bucket 'b' \(sa@p does not have/,
    );
    const gone = gcpError(http(404, "The specified bucket does not exist."), op, creds);
    assert.equal(gone.code, "ERR_TARGET_GONE");
    assert.match(gone.message, /the bucket 'b' does not exist/);
    assert.match(gcpError(http(401, "Invalid Credentials"), op, creds).message, /credentials were refused \(gcp\.credentials_path/);
  });

  it("makes 429, 5xx and dropped connections retryable, other failures not", () => {
    for (const s of [408, 429, 500, 503]) {
      const e = gcpError(http(s, "busy"), op, creds);
      assert.equal(e.code, "ERR_OUTPUT");
      assert.equal(e.retryable, true, String(s));
    }
    assert.equal(gcpError(http(400, "bad"), op, creds).retryable, false);
    const reset = gcpError(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }), op, creds);
    assert.equal(reset.retryable, true);
    assert.match(reset.message, /ECONNRESET/);
    assert.equal(statusOf(new Error("Retry limit exceeded - status: 503 - response: x")), 503);
    assert.equal(gcpError(new Error("Retry limit exceeded - status: 503"), op, creds).retryable, true);
  });

  it("reports a cancelled call as a timeout and a refused token as the credentials' problem", () => {
    const ctl = new AbortController();
    ctl.abort(new DOMException("The operation timed out", "TimeoutError"));
    assert.equal(gcpError(new Error("aborted"), op, creds, ctl.signal).code, "ERR_TIMEOUT");
    const refused = Object.assign(new Error("invalid_grant: Invalid JWT Signature."), {
      status: 400,
      config: { url: new URL("https://oauth2.googleapis.com/token") },
      response: { status: 400, data: { error: "invalid_grant", error_description: "Invalid JWT Signature." } },
    });
    const e = gcpError(refused, op, creds);
    assert.equal(e.code, "ERR_FORBIDDEN");
    assert.match(e.message, /the token endpoint refused gcp\.credentials_path "\/k\.json": invalid_grant: Invalid JWT Signature\./);
  });
});
