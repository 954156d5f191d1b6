// gcp:function: the parameters Talon documents (timeout in seconds, name and location that no event can
// choose), the event and its context POSTed to the URL the Cloud Functions API gives, and the function's
// answer in the result, or in the failure when it is not 2xx.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { type FakeGcp, startFakeGcp } from "../../../test/support/gcp.ts";
import { createGcpClient } from "../../clients/gcp/index.ts";
import { type Clients, createClients } from "../../clients/index.ts";
import type { KestrelError } from "../../errors.ts";
import { parseEvent } from "../../events/parse.ts";
import gcpFunction from "./function.ts";

// evt.time as Falco sends it: a 64-bit integer that JSON.parse alone would round.
const event = parseEvent(
  '{"output":"12:00:00.000000000: Critical Shell in container (user=root)","priority":"Critical","rule":"Terminal shell in container",' +
    '"time":"2024-12-30T12:00:00.123456789Z","source":"syscall","hostname":"node-1",' +
    '"output_fields":{"k8s.ns.name":"shop","k8s.pod.name":"web-1","evt.time":1735560000123456789}}',
).event;

function ctx(clients: Clients, params: Record<string, unknown>, signal = new AbortController().signal) {
  return {
    event,
    params: gcpFunction.params.parse(params),
    contextValues: { "falco-talon.rule": "Shell", "falco-talon.action": "Call" },
    clients,
    log: pino({ level: "silent" }),
    signal,
    traceId: "trace-1",
    variables: new Map(),
  };
}

describe("gcp:function parameters", () => {
  it("requires name and location, takes the timeout in seconds (default 30)", () => {
    const p = gcpFunction.params.parse({ gcp_function_name: "sample-function", gcp_function_location: "us-central1" });
    assert.equal(p.gcp_function_timeout, 30);
    assert.equal(gcpFunction.params.safeParse({ gcp_function_name: "f" }).success, false);
    assert.equal(gcpFunction.params.safeParse({ gcp_function_location: "us-central1" }).success, false);
    assert.equal(
      gcpFunction.params.safeParse({ gcp_function_name: "f", gcp_function_location: "us-central1", gcp_function_timeout: -1 }).success,
      false,
    );
  });

  it("refuses a name or location chosen by the event, or that could change the API path", () => {
    for (const name of ["${PROC_NAME}", "../other", "a/b", "a?b", "", "9starts-with-digit"]) {
      assert.equal(gcpFunction.params.safeParse({ gcp_function_name: name, gcp_function_location: "us-central1" }).success, false, name);
    }
    for (const location of ["${LOCATION}", "us-central1/functions/x", "US"]) {
      assert.equal(gcpFunction.params.safeParse({ gcp_function_name: "f", gcp_function_location: location }).success, false, location);
    }
  });
});

describe("gcp:function calls", () => {
  let fake: FakeGcp;
  let clients: Clients;

  before(async () => {
    fake = await startFakeGcp();
    const dir = mkdtempSync(join(tmpdir(), "kestrel-fn-"));
    clients = createClients({
      gcp: createGcpClient(
        { credentials_path: await fake.writeKeyFile(dir), storage_endpoint: fake.storageUrl, functions_endpoint: fake.functionsApiUrl },
        { env: {} },
      ),
    });
  });
  after(() => fake?.close());

  it("POSTs the event and its context, big integers exact, and returns the answer", async () => {
    const fn = fake.addFunction("us-central1", "quarantine");
    fn.respond = () => ({ status: 200, body: '{"isolated":"web-1"}', headers: { "content-type": "application/json" } });
    const res = await gcpFunction.run(ctx(clients, { gcp_function_name: "quarantine", gcp_function_location: "us-central1" }));
    assert.equal(res.summary, "the function 'quarantine' in the location 'us-central1' has been called: HTTP 200");
    assert.deepEqual(res.objects, {
      name: "quarantine",
      location: "us-central1",
      url: fn.url,
      function_response_status: "200",
      function_response: '{"isolated":"web-1"}',
    });
    const call = fake.functionCalls.at(-1)!;
    assert.equal(call.claims?.["aud"], fn.url);
    assert.match(call.body, /"evt\.time":1735560000123456789[,}]/, "64-bit integers are not rounded");
    const body = JSON.parse(call.body) as Record<string, unknown>;
    assert.equal(body["rule"], "Terminal shell in container");
    assert.equal(body["priority"], "Critical");
    assert.deepEqual(body["context"], { "falco-talon.rule": "Shell", "falco-talon.action": "Call" });
    assert.equal((body["output_fields"] as Record<string, unknown>)["k8s.pod.name"], "web-1");
  });

  it("fails with the function's answer when it is not 2xx, and when the function does not exist", async () => {
    const fn = fake.addFunction("us-central1", "broken");
    fn.respond = () => ({ status: 502, body: "upstream exploded", headers: { "content-type": "text/plain" } });
    await assert.rejects(
      gcpFunction.run(ctx(clients, { gcp_function_name: "broken", gcp_function_location: "us-central1" })),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_ACTION");
        assert.equal(err.message, "the function 'broken' in the location 'us-central1' answered HTTP 502: upstream exploded");
        return true;
      },
    );
    await assert.rejects(
      gcpFunction.run(ctx(clients, { gcp_function_name: "absent", gcp_function_location: "asia-east1" })),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_TARGET_GONE");
        assert.match(err.message, /the function 'absent' does not exist in the location 'asia-east1'/);
        return true;
      },
    );
  });

  it("fails clearly without a Google Cloud client", async () => {
    await assert.rejects(
      gcpFunction.run(ctx(createClients(), { gcp_function_name: "f", gcp_function_location: "us-central1" })),
      (err: KestrelError) => {
        assert.equal(err.code, "ERR_CLIENT_MISSING");
        return true;
      },
    );
  });
});
