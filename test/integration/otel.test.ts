// OpenTelemetry traces and the OTLP metrics push, end to end through a real Kestrel (startKestrel) and a
// recording OTLP receiver (test/support/otlp.ts) that decodes the requests with the opentelemetry-proto
// definitions, over OTLP/gRPC and over OTLP/HTTP (protobuf). Checked on the decoded spans: names,
// parent/child structure, the trace id (the one answered to the HTTP post, logged and notified), the
// caller's traceparent continued, error statuses, bounded attributes; on the decoded metrics: names and
// values equal to /metrics; and the failure modes: a collector that answers UNAVAILABLE/503 (retried), one
// that is down (the intake stays fast, the failure is logged and counted), and the flush at close.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ProtobufMetricsSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { version } from "../../src/version.ts";
import { falcoEvent } from "../support/events.ts";
import { startKestrel } from "../support/kestrel.ts";
import {
  decodeMetricsRequest,
  decodeTraceRequest,
  type OtlpReceiver,
  type ReceivedMetric,
  type ReceivedSpan,
  startOtlpReceiver,
} from "../support/otlp.ts";
import { closedPort } from "../support/ports.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const PROTOCOLS = [
  { protocol: "grpc", transport: "grpc", port: (r: OtlpReceiver) => r.grpcPort },
  { protocol: "http/protobuf", transport: "http", port: (r: OtlpReceiver) => r.httpPort },
] as const;

function rules(dir: string): string {
  return `
- rule: Respond to shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Record the shell
      actionner: local:command
      parameters: { command: [/bin/echo, recorded] }
      output: { target: local:file, parameters: { destination: ${dir} } }
    - action: Fail on purpose
      actionner: local:command
      parameters: { command: [/bin/false] }
`;
}

function otelConfig(o: {
  port: number;
  protocol: string;
  traces?: boolean;
  metrics?: boolean;
  service?: string;
  timeout?: number;
}): string {
  return `otel:
  traces_enabled: ${o.traces ?? true}
  metrics_enabled: ${o.metrics ?? false}
  collector_endpoint: 127.0.0.1
  collector_port: ${o.port}
  collector_use_insecure_grpc: true
  protocol: ${o.protocol}
  timeout: ${o.timeout ?? 5}
  metrics_interval: 1
${o.service === undefined ? "" : `  service_name: ${o.service}\n`}`;
}

function traceOf(r: OtlpReceiver, traceId: string): ReceivedSpan[] {
  return r.spans.filter((s) => s.traceId === traceId);
}

function only(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one ${name} span, got ${found.length}`);
  return found[0]!;
}

/** The metric from the latest export of the given service. */
function latest(r: OtlpReceiver, service: string, name: string): ReceivedMetric | undefined {
  for (let i = r.metricExports.length - 1; i >= 0; i--) {
    const m = r.metricExports[i]!.find((x) => x.name === name && x.resource["service.name"] === service);
    if (m !== undefined) return m;
  }
  return undefined;
}

function pointValue(m: ReceivedMetric | undefined, attributes: Record<string, string> = {}): number | undefined {
  return m?.points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value;
}

let receiver: OtlpReceiver;
let webhook: Receiver;

before(async () => {
  receiver = await startOtlpReceiver();
  webhook = await startReceiver();
});
after(async () => {
  await receiver.close();
  await webhook.close();
});

for (const { protocol, transport, port } of PROTOCOLS) {
  describe(`OpenTelemetry over ${protocol}`, () => {
    it("exports each event's trace (its id answered, logged, notified), continues a traceparent, and pushes the metrics", async () => {
      const service = `kestrel-it-${transport}`;
      const dir = await mkdtemp(join(tmpdir(), "kestrel-otel-"));
      const kestrel = await startKestrel({
        rules: rules(dir),
        config: `${otelConfig({ port: port(receiver), protocol, metrics: true, service })}default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${webhook.url}/${transport}\n`,
      });
      const notified = () => webhook.requests.filter((r) => r.url === `/${transport}`);
      // The caller's traceparent, for the second event.
      const callerTrace = randomBytes(16).toString("hex");
      const callerSpan = randomBytes(8).toString("hex");
      let own = "";
      let closed = false;
      try {
        // Without a traceparent: a new trace, whose id Kestrel answers.
        const res1 = await kestrel.post(falcoEvent());
        assert.equal(res1.status, 200);
        own = ((await res1.json()) as { trace_id: string }).trace_id;
        // With a traceparent: Kestrel's spans join the caller's trace under the caller's span.
        const res2 = await kestrel.post(falcoEvent(), { traceparent: `00-${callerTrace}-${callerSpan}-01` });
        assert.equal(((await res2.json()) as { trace_id: string }).trace_id, callerTrace);

        // Each event: action, artifact and failure notified (3 webhook posts), with the trace id.
        await until(() => notified().length >= 6, "the six notifications", 10_000);
        const payloads = notified().map((r) => JSON.parse(r.body) as { trace_id: string });
        assert.equal(payloads.filter((p) => p.trace_id === own).length, 3);
        assert.equal(payloads.filter((p) => p.trace_id === callerTrace).length, 3);
        assert.ok(kestrel.logs.filter((l) => l["trace_id"] === own).length >= 3, "the trace id is in the event's log lines");

        // The batch processor exports every 5 s: nothing of these traces has left yet…
        assert.equal(traceOf(receiver, own).length, 0);

        // …while the metrics are pushed every second (otel.metrics_interval), with /metrics' values.
        await until(
          () => pointValue(latest(receiver, service, "kestrel_events"), { falco_rule: "Terminal shell in container" }) === 2,
          "kestrel_events = 2 pushed",
          10_000,
        );
        await until(
          () => pointValue(latest(receiver, service, "kestrel_notifications"), { notifier: "webhook", status: "success" }) === 6,
          "6 notifications pushed",
          10_000,
        );
        const text = await (await fetch(`${kestrel.url}/metrics`)).text();
        const events = latest(receiver, service, "kestrel_events")!;
        assert.equal(events.type, "sum");
        assert.equal(events.monotonic, true);
        assert.equal(events.temporality, 2, "cumulative");
        assert.deepEqual(events.points[0]!.attributes, {
          falco_rule: "Terminal shell in container",
          priority: "Notice",
          source: "syscall",
        });
        assert.match(text, /^kestrel_events_total\{falco_rule="Terminal shell in container",priority="Notice",source="syscall"\} 2$/m);
        const actions = latest(receiver, service, "kestrel_actions");
        assert.equal(pointValue(actions, { action: "Record the shell", status: "success" }), 2);
        assert.equal(pointValue(actions, { action: "Fail on purpose", status: "failure" }), 2);
        assert.equal(pointValue(latest(receiver, service, "kestrel_matches"), { rule: "Respond to shells" }), 2);
        assert.equal(pointValue(latest(receiver, service, "kestrel_outputs"), { target: "local:file", status: "success" }), 2);
        assert.equal(pointValue(latest(receiver, service, "kestrel_queue_depth")), 0);
        const durations = latest(receiver, service, "kestrel_action_duration_seconds")!;
        assert.equal(durations.type, "histogram");
        assert.equal(durations.unit, "s");
        assert.equal(durations.points[0]!.count, 4);
        assert.equal(
          durations.points[0]!.bucketCounts!.reduce((a, b) => a + b, 0),
          4,
        );
        assert.equal(durations.resource["service.version"], version());

        // Closing flushes the pending spans.
        closed = true;
        assert.equal(await kestrel.close(), true);
      } finally {
        if (!closed) await kestrel.close();
      }

      const spans = traceOf(receiver, own);
      assert.ok(spans.every((s) => s.transport === transport));
      const ev = only(spans, "event");
      const match = only(spans, "match");
      const actionSpans = spans.filter((s) => s.name === "action");
      const out = only(spans, "output");
      const notes = spans.filter((s) => s.name === "notification");
      assert.equal(ev.parentSpanId, "", "a new trace: the event span is its root");
      assert.equal(ev.kind, SpanKind.SERVER + 1, "OTLP kinds are the API's plus one (SERVER = 2)");
      assert.equal(match.parentSpanId, ev.spanId);
      assert.equal(actionSpans.length, 2);
      for (const a of actionSpans) assert.equal(a.parentSpanId, match.spanId);
      const record = actionSpans.find((a) => a.attributes["kestrel.action"] === "Record the shell")!;
      const failing = actionSpans.find((a) => a.attributes["kestrel.action"] === "Fail on purpose")!;
      assert.equal(out.parentSpanId, record.spanId);
      assert.equal(notes.length, 3);
      assert.deepEqual(notes.map((n) => n.parentSpanId).sort(), [record.spanId, record.spanId, failing.spanId].sort());
      assert.ok(notes.every((n) => n.attributes["kestrel.notifier"] === "webhook" && n.attributes["kestrel.status"] === "success"));

      assert.equal(record.attributes["kestrel.status"], "success");
      assert.equal(record.attributes["kestrel.actionner"], "local:command");
      assert.equal(record.attributes["kestrel.rule"], "Respond to shells");
      assert.equal(record.status.code, SpanStatusCode.UNSET);
      assert.equal(failing.attributes["kestrel.status"], "failure");
      assert.equal(failing.attributes["error.type"], "ERR_ACTION");
      assert.equal(failing.status.code, SpanStatusCode.ERROR);
      assert.match(failing.status.message, /\/bin\/false exited with code 1/);
      assert.deepEqual(ev.attributes, {
        "falco.rule": "Terminal shell in container",
        "falco.priority": "Notice",
        "falco.source": "syscall",
        "kestrel.outcome": "handled",
      });
      assert.deepEqual(match.attributes, { "kestrel.rules": ["Respond to shells"], "kestrel.rules.count": 1 });
      assert.deepEqual(out.attributes, { "kestrel.output.target": "local:file", "kestrel.status": "success" });
      // Bounded: no event value (output text, pod, process, host) and no artifact location in any attribute.
      for (const s of spans) {
        const text = JSON.stringify(s.attributes);
        for (const leak of ["A shell was spawned", "nginx-", "bash", "node-1", dir]) assert.ok(!text.includes(leak), `${s.name}: ${text}`);
      }
      for (const s of spans) {
        assert.ok(s.endNs >= s.startNs, `${s.name} ends after it starts`);
        if (s !== ev) assert.ok(s.startNs >= ev.startNs, `${s.name} starts within the event`);
      }
      assert.equal(ev.resource["service.name"], service);
      assert.equal(ev.resource["service.version"], version());
      assert.equal(typeof ev.resource["service.instance.id"], "string");
      assert.deepEqual(ev.scope, { name: "kestrel", version: version() });

      const continued = traceOf(receiver, callerTrace);
      assert.equal(continued.length, spans.length, "the same spans for the second event");
      assert.equal(only(continued, "event").parentSpanId, callerSpan, "the event span's parent is the caller's span");

      if (transport === "http") {
        const httpRequests = receiver.requests.filter((r) => r.transport === "http");
        assert.ok(httpRequests.length > 0 && httpRequests.every((r) => r.contentType === "application/x-protobuf"));
      }
    });

    it("retries a collector that answers UNAVAILABLE/503, then delivers", async () => {
      const kestrel = await startKestrel({
        rules: rules(await mkdtemp(join(tmpdir(), "kestrel-otel-"))),
        config: otelConfig({ port: port(receiver), protocol }),
      });
      const before = receiver.requests.length;
      let traceId = "";
      try {
        const res = await kestrel.post(falcoEvent({ rule: "Some other rule" })); // unmatched: one span
        traceId = ((await res.json()) as { trace_id: string }).trace_id;
        receiver.failNext(2);
      } finally {
        await kestrel.close(); // exports now, through the failures
      }
      const mine = receiver.requests.slice(before);
      assert.deepEqual(
        mine.map((r) => [r.transport, r.signal, r.answer]),
        [
          [transport, "traces", "unavailable"],
          [transport, "traces", "unavailable"],
          [transport, "traces", "ok"],
        ],
      );
      const ev = only(traceOf(receiver, traceId), "event");
      assert.equal(ev.attributes["kestrel.outcome"], "unmatched");
      assert.equal(kestrel.logs.filter((l) => l["msg"] === "OTLP export failed: the data is dropped").length, 0);
    });

    it("keeps the intake fast when the collector is down, and logs and counts the failed exports", async () => {
      const kestrel = await startKestrel({
        rules: rules(await mkdtemp(join(tmpdir(), "kestrel-otel-"))),
        config: otelConfig({ port: await closedPort(), protocol, metrics: true, timeout: 1 }),
      });
      let closeMs = 0;
      try {
        // A metrics push fails every second in the background meanwhile.
        await until(
          () => kestrel.logs.some((l) => l["msg"] === "OTLP export failed: the data is dropped" && l["signal"] === "metrics"),
          "a failed metrics push logged",
          10_000,
        );
        const started = performance.now();
        const answers = await Promise.all(Array.from({ length: 50 }, () => kestrel.post(falcoEvent({ rule: "Some other rule" }))));
        const elapsed = performance.now() - started;
        assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
        assert.ok(elapsed < 2000, `50 events took ${Math.round(elapsed)} ms`);
      } finally {
        const t = performance.now();
        await kestrel.close();
        closeMs = performance.now() - t;
      }
      // The close tried the pending spans once more (within otel.timeout) and did not hang or throw.
      assert.ok(closeMs < 4000, `close took ${Math.round(closeMs)} ms`);
      const failures = kestrel.logs.filter((l) => l["msg"] === "OTLP export failed: the data is dropped");
      assert.ok(
        failures.some((l) => l["signal"] === "traces"),
        "the dropped spans are logged",
      );
      assert.ok(
        failures.every((l) => l["level"] === "warn"),
        "as warnings",
      );
      assert.ok(failures.length <= 4, `rate-limited: ${failures.length} lines`);
      const text = await kestrel.app.metrics.exposition();
      const count = (signal: string) =>
        Number(new RegExp(`^kestrel_otel_export_failures_total\\{signal="${signal}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
      assert.ok(count("traces") >= 1 && count("metrics") >= 1, text);
    });
  });
}

describe("OpenTelemetry off (the default)", () => {
  it("sends nothing, even with a collector configured", async () => {
    const before = receiver.requests.length;
    const kestrel = await startKestrel({
      rules: rules(await mkdtemp(join(tmpdir(), "kestrel-otel-"))),
      config: otelConfig({ port: receiver.grpcPort, protocol: "grpc", traces: false, metrics: false }),
    });
    const res = await kestrel.post(falcoEvent());
    assert.equal(res.status, 200);
    await kestrel.close();
    assert.equal(receiver.requests.length, before);
    assert.equal(
      kestrel.logs.some((l) => l["msg"] === "OpenTelemetry export enabled"),
      false,
    );
  });
});

describe("the test receiver's protocol definitions", () => {
  it("decode what the OpenTelemetry JS serializer encodes, field for field (traces)", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "check", "host.cpus": 2 }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer("checker", "9.9.9");
    const parent = tracer.startSpan("parent", { kind: SpanKind.SERVER, startTime: [1_700_000_000, 123_456_789] });
    const child = tracer.startSpan(
      "child",
      {
        kind: SpanKind.CLIENT,
        startTime: [1_700_000_000, 500_000_000],
        attributes: { s: "text", i: 42, d: 1.5, b: true, list: ["a", "b"] },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.addEvent("happened", { why: "test" });
    child.setStatus({ code: SpanStatusCode.ERROR, message: "broken" });
    child.end([1_700_000_001, 5]);
    parent.end([1_700_000_002, 0]);
    await provider.forceFlush();
    const finished = exporter.getFinishedSpans();
    const body = ProtobufTraceSerializer.serializeRequest(finished)!;
    const spans = decodeTraceRequest(body);
    const c = spans.find((s) => s.name === "child")!;
    const p = spans.find((s) => s.name === "parent")!;
    assert.equal(c.traceId, parent.spanContext().traceId);
    assert.equal(c.spanId, child.spanContext().spanId);
    assert.equal(c.parentSpanId, p.spanId);
    assert.equal(p.parentSpanId, "");
    assert.equal(p.kind, 2);
    assert.equal(c.kind, 3);
    assert.equal(p.startNs, 1_700_000_000_123_456_789n);
    assert.equal(c.endNs, 1_700_000_001_000_000_005n);
    assert.deepEqual(c.attributes, { s: "text", i: 42, d: 1.5, b: true, list: ["a", "b"] });
    assert.deepEqual(c.status, { code: 2, message: "broken" });
    assert.equal(c.flags & 0xff, 1, "sampled");
    assert.deepEqual(c.resource["service.name"], "check");
    assert.equal(c.resource["host.cpus"], 2);
    assert.deepEqual(c.scope, { name: "checker", version: "9.9.9" });
    await provider.shutdown();
  });

  it("decode what the OpenTelemetry JS serializer encodes, field for field (metrics)", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ "service.name": "check" }), readers: [reader] });
    const meter = provider.getMeter("checker", "9.9.9");
    meter.createCounter("c_total", { unit: "1", description: "a counter" }).add(3, { k: "v" });
    meter.createGauge("g").record(7.5);
    const h = meter.createHistogram("h", { unit: "s", advice: { explicitBucketBoundaries: [1, 10] } });
    for (const v of [0.5, 5, 50]) h.record(v);
    await provider.forceFlush();
    const body = ProtobufMetricsSerializer.serializeRequest(exporter.getMetrics()[0]!)!;
    const metrics = decodeMetricsRequest(body);
    const c = metrics.find((m) => m.name === "c_total")!;
    assert.equal(c.type, "sum");
    assert.equal(c.monotonic, true);
    assert.equal(c.temporality, 2);
    assert.equal(c.unit, "1");
    assert.equal(c.description, "a counter");
    assert.deepEqual(
      c.points.map((p) => [p.attributes, p.value]),
      [[{ k: "v" }, 3]],
    );
    assert.ok(c.points[0]!.timeNs >= c.points[0]!.startNs && c.points[0]!.startNs > 0n);
    assert.equal(metrics.find((m) => m.name === "g")?.points[0]?.value, 7.5);
    const hist = metrics.find((m) => m.name === "h")!;
    assert.equal(hist.type, "histogram");
    assert.deepEqual(
      {
        count: hist.points[0]!.count,
        sum: hist.points[0]!.sum,
        bounds: hist.points[0]!.explicitBounds,
        buckets: hist.points[0]!.bucketCounts,
      },
      { count: 3, sum: 55.5, bounds: [1, 10], buckets: [1, 1, 1] },
    );
    assert.equal(c.resource["service.name"], "check");
    assert.deepEqual(c.scope, { name: "checker", version: "9.9.9" });
    await provider.shutdown();
  });
});
