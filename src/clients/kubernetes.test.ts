// The Kubernetes client boundary: API failures become KestrelErrors with the right code and retryability,
// kubeCall retries only what may succeed later, and the cluster is found where Talon looks for it.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ApiException, PatchStrategy } from "@kubernetes/client-node";
import { KestrelError } from "../errors.ts";
import { answeredStatus, isApiException, kubeCall, kubeError, MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "./kubernetes/calls.ts";
import { exitCodeOf } from "./kubernetes/exec.ts";
import { loadKubeConfig } from "./kubernetes.ts";

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason, message, code });

const apiError = (code: number, reason: string, message: string, headers: Record<string, string> = {}) =>
  new ApiException(code, `HTTP-Code: ${code}`, status(code, reason, message), headers);

describe("kubeError", () => {
  it("maps 404 to a gone target and 403 to a permission problem, neither retryable", () => {
    const gone = kubeError(apiError(404, "NotFound", 'pods "web-1" not found'), "read the pod 'web-1'");
    assert.equal(gone.code, "ERR_TARGET_GONE");
    assert.equal(gone.retryable, false);
    assert.match(gone.message, /cannot read the pod 'web-1': not found \(pods "web-1" not found\)/);
    const forbidden = kubeError(apiError(403, "Forbidden", "pods is forbidden: User cannot delete"), "delete the pod");
    assert.equal(forbidden.code, "ERR_FORBIDDEN");
    assert.equal(forbidden.retryable, false);
    assert.match(forbidden.message, /RBAC/);
  });

  it("makes conflicts, throttling, server errors and dropped connections retryable, keeping Retry-After", () => {
    for (const code of [409, 429, 500, 503]) {
      const e = kubeError(apiError(code, "x", "y"), "patch");
      assert.equal(e.code, "ERR_KUBERNETES");
      assert.equal(e.retryable, true, String(code));
    }
    assert.equal(kubeError(apiError(429, "TooManyRequests", "slow down", { "retry-after": "3" }), "evict").retryAfterSeconds, 3);
    assert.equal(kubeError(apiError(422, "Invalid", "bad"), "create").retryable, false);
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    assert.equal(kubeError(refused, "list").retryable, true);
    assert.equal(kubeError(new Error("something else"), "list").retryable, false);
  });

  it("reads the message of a WebSocket error event (an object, not an Error)", () => {
    const event = { type: "error", message: "Unexpected server response: 403", error: new Error("Unexpected server response: 403") };
    assert.match(kubeError(event, "exec in prod/web-1").message, /cannot exec in prod\/web-1: Unexpected server response: 403/);
  });

  it("keeps the API's answer as the cause: answeredStatus reads its HTTP status", () => {
    assert.equal(answeredStatus(kubeError(apiError(429, "TooManyRequests", "budget"), "evict")), 429);
    assert.equal(answeredStatus(apiError(404, "NotFound", "gone")), 404);
    assert.equal(answeredStatus(kubeError(new Error("reset"), "list")), undefined);
  });

  it("keeps a body that is not JSON readable", () => {
    const e = kubeError(new ApiException(502, "bad gateway", "<html>upstream down</html>", {}), "get");
    assert.match(e.message, /upstream down/);
  });
});

describe("kubeCall", () => {
  const signal = new AbortController().signal;

  it("retries retryable failures with backoff, then succeeds", async () => {
    let calls = 0;
    const result = await kubeCall("replace the policy", { signal, backoffMs: 1 }, async () => {
      calls++;
      if (calls < 3) throw apiError(409, "Conflict", "the object has been modified");
      return "ok";
    });
    assert.equal(result, "ok");
    assert.equal(calls, 3);
  });

  it("does not retry a 404 and gives up after the attempts", async () => {
    let calls = 0;
    await assert.rejects(
      kubeCall("read", { signal, backoffMs: 1 }, async () => {
        calls++;
        throw apiError(404, "NotFound", "gone");
      }),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_TARGET_GONE",
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(
      kubeCall("read", { signal, backoffMs: 1, attempts: 2 }, async () => {
        calls++;
        throw apiError(503, "ServiceUnavailable", "busy");
      }),
      (e: unknown) => e instanceof KestrelError && e.retryable,
    );
    assert.equal(calls, 2);
  });
});

describe("what plugins use without loading client-node", () => {
  it("names the patch content types as client-node's PatchStrategy does", () => {
    assert.equal(MERGE_PATCH, PatchStrategy.MergePatch);
    assert.equal(STRATEGIC_MERGE_PATCH, PatchStrategy.StrategicMergePatch);
  });

  it("recognises client-node's ApiException by its shape, and no other error", () => {
    assert.equal(isApiException(apiError(404, "NotFound", "gone")), true);
    assert.equal(isApiException(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })), false);
    assert.equal(isApiException({ code: 404, body: "", headers: {} }), false);
  });
});

describe("exitCodeOf", () => {
  it("reads the v5 exec status", () => {
    assert.equal(exitCodeOf({ status: "Success" }), 0);
    assert.equal(
      exitCodeOf({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } }),
      3,
    );
    assert.equal(exitCodeOf({ status: "Failure", reason: "InternalError", message: "boom" }), undefined);
  });
});

describe("loadKubeConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-kubeconfig-"));
  const file = join(dir, "config");
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: prod}}]
current-context: x
`,
  );

  it("reads the kubeconfig setting first, then $KUBECONFIG", () => {
    assert.equal(loadKubeConfig(file, {}).getCurrentCluster()?.server, "https://127.0.0.1:6443");
    assert.equal(loadKubeConfig("", { KUBECONFIG: `${file}:/elsewhere` }).getCurrentCluster()?.server, "https://127.0.0.1:6443");
  });

  it("names the setting that points nowhere", () => {
    assert.throws(
      () => loadKubeConfig(join(dir, "missing"), {}),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_CONFIG_INVALID" && /kubeconfig ".*missing"/.test(e.message),
    );
  });
});
