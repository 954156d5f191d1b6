// The OTLP form of Kestrel's Prometheus metrics: names, attributes, values and histogram buckets, read from
// the registry /metrics serves, and their way through the SDK's periodic reader to an exporter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, type MetricData } from "@opentelemetry/sdk-metrics";
import { PRIORITIES } from "../events/priority.ts";
import { shellCounted } from "./__fixtures__/metrics.ts";
import type { Metrics } from "./metrics.ts";
import { OtelMetrics, toMetricData } from "./otel-metrics.ts";

function counted(): Metrics {
  const { m } = shellCounted();
  m.countDuplicate();
  m.setQueueDepth(4);
  m.countNotification("webhook", "success");
  m.rejected.inc({ reason: "invalid" });
  // 0.003 → bucket ≤0.005; 0.2 → ≤0.25; 200 → +Inf.
  for (const v of [0.003, 0.2, 200]) m.actionDuration.observe({ actionner: "kubernetes:label" }, v);
  return m;
}

function find(metrics: MetricData[], name: string): MetricData {
  const m = metrics.find((x) => x.descriptor.name === name);
  assert.ok(m, `metric ${name} in ${metrics.map((x) => x.descriptor.name).join(", ")}`);
  return m;
}

describe("toMetricData", () => {
  it("turns counters into cumulative monotonic sums named without _total, with their labels", async () => {
    const data = toMetricData(await counted().registry.getMetricsAsJSON(), [1, 0]);
    const events = find(data, "kestrel_events");
    assert.equal(events.dataPointType, DataPointType.SUM);
    assert.equal(events.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    assert.equal(events.dataPointType === DataPointType.SUM && events.isMonotonic, true);
    assert.deepEqual(
      events.dataPoints.map((p) => [p.attributes, p.value]),
      [[{ falco_rule: "Terminal shell in container", priority: "Notice", source: "syscall" }, 2]],
    );
    assert.deepEqual(events.dataPoints[0]!.startTime, [1, 0]);
    const actions = find(data, "kestrel_actions");
    assert.deepEqual(actions.dataPoints.map((p) => [p.attributes["status"], p.value]).sort(), [
      ["failure", 1],
      ["success", 1],
    ]);
    assert.equal(find(data, "kestrel_matches").dataPoints[0]!.value, 1);
    assert.equal(find(data, "kestrel_duplicates").dataPoints[0]!.value, 1);
    assert.deepEqual(find(data, "kestrel_notifications").dataPoints[0]!.attributes, { notifier: "webhook", status: "success" });
    assert.deepEqual(find(data, "kestrel_rejected").dataPoints[0]!.attributes, { reason: "invalid" });
  });

  it("keeps gauges and turns cumulative Prometheus buckets into per-bucket histogram counts", async () => {
    const data = toMetricData(await counted().registry.getMetricsAsJSON(), [1, 0]);
    const depth = find(data, "kestrel_queue_depth");
    assert.equal(depth.dataPointType, DataPointType.GAUGE);
    assert.equal(depth.dataPoints[0]!.value, 4);
    const duration = find(data, "kestrel_action_duration_seconds");
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(duration.descriptor.unit, "s");
    assert.equal(duration.dataPointType === DataPointType.HISTOGRAM && duration.dataPoints.length, 1);
    if (duration.dataPointType !== DataPointType.HISTOGRAM) return;
    const h = duration.dataPoints[0]!;
    assert.deepEqual(h.attributes, { actionner: "kubernetes:label" });
    assert.equal(h.value.count, 3);
    assert.ok(Math.abs((h.value.sum ?? 0) - 200.203) < 1e-9);
    const bounds = h.value.buckets.boundaries;
    assert.deepEqual(bounds, [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]);
    const counts = h.value.buckets.counts;
    assert.equal(counts.length, bounds.length + 1);
    assert.equal(counts[bounds.indexOf(0.005)], 1);
    assert.equal(counts[bounds.indexOf(0.25)], 1);
    assert.equal(counts.at(-1), 1, "the +Inf bucket");
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      3,
    );
  });
});

describe("OtelMetrics", () => {
  it("exports the registry's values through the SDK's periodic reader, with the resource and scope", async () => {
    const metrics = counted();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const otel = new OtelMetrics({
      registry: metrics.registry,
      resource: resourceFromAttributes({ "service.name": "kestrel-test" }),
      version: "1.2.3",
      exporter,
      intervalMs: 60_000,
      timeoutMs: 10_000,
    });
    await otel.forceFlush();
    metrics.countEvent("Terminal shell in container", PRIORITIES.indexOf("Notice"), "syscall"); // counted after the first push
    await otel.forceFlush();
    const pushes = exporter.getMetrics();
    assert.equal(pushes.length, 2);
    const last = pushes[1]!;
    assert.equal(last.resource.attributes["service.name"], "kestrel-test");
    const scope = last.scopeMetrics.find((s) => s.scope.name === "kestrel");
    assert.equal(scope?.scope.version, "1.2.3");
    assert.equal(find(scope!.metrics, "kestrel_events").dataPoints[0]!.value, 3, "the latest value, not counted twice");
    await otel.shutdown();
  });
});
