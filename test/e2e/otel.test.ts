// `kestrel server` as a process with OpenTelemetry on, exporting over OTLP/gRPC to the recording receiver:
// an event is handled, SIGTERM stops the server, and the event's spans and the last metrics reached the
// collector before the process exited 0 (the batch and push intervals had not elapsed: only the flush at
// shutdown can have sent them).
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { startOtlpReceiver } from "../support/otlp.ts";
import { startKestrelProcess, tempFiles } from "../support/process.ts";

describe("kestrel server with OpenTelemetry", () => {
  it("exports the spans and metrics of an event on SIGTERM, before exiting 0", async () => {
    const receiver = await startOtlpReceiver();
    const dir = await tempFiles("kestrel-e2e-otel-", {
      "config.yaml": `listen_address: 127.0.0.1
listen_port: 0
log_format: json
otel:
  traces_enabled: true
  metrics_enabled: true
  collector_endpoint: 127.0.0.1
  collector_port: ${receiver.grpcPort}
  collector_use_insecure_grpc: true
  service_name: kestrel-e2e
`,
      "rules.yaml": `
- rule: Record shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Echo
      actionner: local:command
      parameters: { command: [/bin/echo, hi] }
`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml"), timeoutMs: 10_000 });
    const { lines } = kestrel;
    try {
      assert.ok(lines.some((l) => l.includes("OpenTelemetry export enabled")));
      const res = await kestrel.post(falcoEvent());
      assert.equal(res.status, 200);
      const { trace_id } = (await res.json()) as { trace_id: string };
      await kestrel.waitForLine((l) => l.includes('"action success"') && l.includes(trace_id), 10_000, "the action's result");
      assert.equal(receiver.spans.length, 0, "nothing exported before the shutdown (5 s batches)");

      assert.equal(await kestrel.stop(), 0);

      const spans = receiver.spans.filter((s) => s.traceId === trace_id);
      assert.deepEqual(spans.map((s) => s.name).sort(), ["action", "event", "match"]);
      const ev = spans.find((s) => s.name === "event")!;
      assert.equal(ev.attributes["kestrel.outcome"], "handled");
      assert.equal(ev.resource["service.name"], "kestrel-e2e");
      const events = receiver.latestMetric("kestrel_events");
      assert.equal(events?.resource["service.name"], "kestrel-e2e");
      assert.equal(events?.points[0]?.value, 1, "the last metrics push, at shutdown");
    } finally {
      kestrel.kill();
      await receiver.close();
    }
  });
});
