// OTLP metrics push (otel.metrics_enabled): every otel.metrics_interval seconds, a PeriodicExportingMetricReader
// of the OpenTelemetry SDK sends Kestrel's metrics to the collector. The values are not counted a second
// time: a MetricProducer reads the Prometheus registry that /metrics serves (the same counters, cells,
// gauges and histograms, at the same moment as a scrape would) and hands them to the reader as OTLP data.
// Names are the Prometheus ones without the `_total` suffix of counters (OTLP convention; a collector's
// Prometheus exporter adds it back), labels become attributes, histograms keep their buckets.
import { type HrTime, ValueType } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import { emptyResource, type Resource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import type { Registry } from "prom-client";

type PromMetric = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>[number];
type PromValue = PromMetric["values"][number] & { metricName?: string };
type Labels = Record<string, string>;

function now(): HrTime {
  return millisToHrTime(performance.timeOrigin + performance.now());
}

function labelsOf(value: PromValue, without?: string): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(value.labels)) if (k !== without && v !== undefined) out[k] = String(v);
  return out;
}

/** A stable key for a label set (prom-client gives each histogram series' values in label order). */
function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function unitOf(name: string): string {
  if (name.endsWith("_seconds") || name.endsWith("_seconds_total")) return "s";
  if (name.endsWith("_bytes")) return "By";
  return "";
}

interface HistogramSeries {
  readonly attributes: Labels;
  /** Cumulative counts by finite upper bound (Prometheus `le`). */
  readonly buckets: Map<number, number>;
  count: number;
  sum: number;
}

/** Converts one Prometheus histogram (cumulative `le` buckets) into OTLP points (per-bucket counts). */
function histogramPoints(m: PromMetric, startTime: HrTime, endTime: HrTime) {
  const series = new Map<string, HistogramSeries>();
  for (const v of m.values as PromValue[]) {
    const attributes = labelsOf(v, "le");
    const key = keyOf(attributes);
    let s = series.get(key);
    if (s === undefined) {
      s = { attributes, buckets: new Map(), count: 0, sum: 0 };
      series.set(key, s);
    }
    if (v.metricName === `${m.name}_bucket`) {
      const le = Number(v.labels["le"]);
      if (Number.isFinite(le)) s.buckets.set(le, v.value);
    } else if (v.metricName === `${m.name}_count`) s.count = v.value;
    else if (v.metricName === `${m.name}_sum`) s.sum = v.value;
  }
  return [...series.values()].map((s) => {
    const boundaries = [...s.buckets.keys()].sort((a, b) => a - b);
    const counts: number[] = [];
    let below = 0;
    for (const b of boundaries) {
      const cumulative = s.buckets.get(b)!;
      counts.push(cumulative - below);
      below = cumulative;
    }
    counts.push(s.count - below); // the +Inf bucket
    return { startTime, endTime, attributes: s.attributes, value: { buckets: { boundaries, counts }, count: s.count, sum: s.sum } };
  });
}

/** One OTLP point per series of a Prometheus counter or gauge. */
function scalarPoints(m: PromMetric, startTime: HrTime, endTime: HrTime) {
  return (m.values as PromValue[]).map((v) => ({ startTime, endTime, attributes: labelsOf(v), value: v.value }));
}

/** Turns a Prometheus registry's current values into OTLP metric data (cumulative since `startTime`). */
export function toMetricData(metrics: readonly PromMetric[], startTime: HrTime, endTime: HrTime = now()): MetricData[] {
  const out: MetricData[] = [];
  const aggregationTemporality = AggregationTemporality.CUMULATIVE;
  for (const m of metrics) {
    const type = String(m.type);
    const descriptor = { name: m.name, description: m.help, unit: unitOf(m.name), valueType: ValueType.DOUBLE };
    if (type === "counter") {
      out.push({
        descriptor: { ...descriptor, name: m.name.replace(/_total$/, "") },
        aggregationTemporality,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: scalarPoints(m, startTime, endTime),
      });
    } else if (type === "gauge") {
      out.push({ descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints: scalarPoints(m, startTime, endTime) });
    } else if (type === "histogram") {
      out.push({
        descriptor,
        aggregationTemporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: histogramPoints(m, startTime, endTime),
      });
    }
    // Summaries (none of Kestrel's metrics) have no lossless OTLP form through the SDK's types: skipped.
  }
  return out;
}

/** The reader's source: the Prometheus registry, read at each collection. */
export class PrometheusProducer implements MetricProducer {
  readonly #registry: Registry;
  readonly #scope: { name: string; version: string };
  /** Start of the cumulative counts: when the counters were created (they are never reset). */
  readonly #startTime: HrTime;

  constructor(registry: Registry, version: string, startTime: HrTime = now()) {
    this.#registry = registry;
    this.#scope = { name: "kestrel", version };
    this.#startTime = startTime;
  }

  async collect(): Promise<CollectionResult> {
    try {
      const metrics = toMetricData(await this.#registry.getMetricsAsJSON(), this.#startTime);
      // The reader replaces this resource with the meter provider's.
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: this.#scope, metrics }] }, errors: [] };
    } catch (err) {
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [err] };
    }
  }
}

export interface OtelMetricsOptions {
  readonly registry: Registry;
  readonly resource: Resource;
  readonly version: string;
  readonly exporter: PushMetricExporter;
  readonly intervalMs: number;
  /** At most intervalMs (the reader refuses more). */
  readonly timeoutMs: number;
}

/** Pushes the registry's metrics periodically; shutdown() pushes one last time. */
export class OtelMetrics {
  readonly #provider: MeterProvider;

  constructor(options: OtelMetricsOptions) {
    const reader = new PeriodicExportingMetricReader({
      exporter: options.exporter,
      exportIntervalMillis: options.intervalMs,
      exportTimeoutMillis: Math.min(options.timeoutMs, options.intervalMs),
      metricProducers: [new PrometheusProducer(options.registry, options.version)],
    });
    this.#provider = new MeterProvider({ resource: options.resource, readers: [reader] });
  }

  forceFlush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
