// The OTLP exporters behind traces and metrics, built from the otel.* settings: gRPC (Talon's transport) or
// HTTP with protobuf bodies. A failed export is retried while the collector says it is worth it and the
// otel.timeout budget lasts, then dropped: it is logged (the first failure at once, then at most once a
// minute with a count) and counted in kestrel_otel_export_failures_total, never thrown at the engine.
import { hostname } from "node:os";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporterBase } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http";
import {
  MetricsExporterMetricsHelper,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import { defaultResource, type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";

export type OtelSettings = Config["otel"];
export type Signal = "traces" | "metrics";

/** Talon's default, also used when otel.timeout is 0 (a zero deadline would fail every export). */
const DEFAULT_TIMEOUT_SECONDS = 10;

/** The budget of one export, retries included, in milliseconds. */
export function exportTimeoutMs(settings: OtelSettings): number {
  return (settings.timeout > 0 ? settings.timeout : DEFAULT_TIMEOUT_SECONDS) * 1000;
}

/** The collector's address: http:// when collector_use_insecure_grpc (for either protocol), else https://. */
export function collectorUrl(settings: OtelSettings, signal?: Signal): string {
  const host =
    settings.collector_endpoint.includes(":") && !settings.collector_endpoint.startsWith("[")
      ? `[${settings.collector_endpoint}]` // an IPv6 address
      : settings.collector_endpoint;
  const base = `${settings.collector_use_insecure_grpc ? "http" : "https"}://${host}:${settings.collector_port}`;
  return signal === undefined || settings.protocol === "grpc" ? base : `${base}/v1/${signal}`;
}

/** The resource of every span and metric: who Kestrel is (service.instance.id = host name, as Talon). */
export function kestrelResource(serviceName: string, version: string): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: serviceName,
      [ATTR_SERVICE_VERSION]: version,
      [ATTR_SERVICE_INSTANCE_ID]: hostname(),
    }),
  );
}

/** Failed exports: counted, and logged without flooding the log while a collector stays down. */
export class ExportProblems {
  readonly #log: Logger;
  readonly #failures: Counter<"signal">;
  readonly #intervalMs: number;
  readonly #state = new Map<Signal, { failing: boolean; lastLog: number; unlogged: number }>();

  constructor(log: Logger, registry: Registry, intervalMs = 60_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#failures = new Counter({
      name: "kestrel_otel_export_failures_total",
      help: "OTLP exports (batches of spans or metrics) dropped after their retries",
      labelNames: ["signal"],
      registers: [registry],
    });
  }

  failed(signal: Signal, err: unknown, count: number): void {
    this.#failures.inc({ signal });
    const s = this.#get(signal);
    const now = Date.now();
    s.failing = true;
    if (now - s.lastLog < this.#intervalMs) {
      s.unlogged++;
      return;
    }
    this.#log.warn(
      { signal, error: errorMessage(err), dropped: count, failures_not_logged: s.unlogged > 0 ? s.unlogged : undefined },
      "OTLP export failed: the data is dropped",
    );
    s.lastLog = now;
    s.unlogged = 0;
  }

  succeeded(signal: Signal): void {
    const s = this.#state.get(signal);
    if (s === undefined || !s.failing) return;
    s.failing = false;
    this.#log.info({ signal, failures_not_logged: s.unlogged > 0 ? s.unlogged : undefined }, "OTLP export works again");
    s.unlogged = 0;
    s.lastLog = 0;
  }

  #get(signal: Signal) {
    let s = this.#state.get(signal);
    if (s === undefined) {
      s = { failing: false, lastLog: 0, unlogged: 0 };
      this.#state.set(signal, s);
    }
    return s;
  }
}

interface Exporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

// gRPC status codes the OTLP specification calls retryable (CANCELLED, DEADLINE_EXCEEDED, ABORTED,
// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS). The JavaScript gRPC exporter does not retry at all; the HTTP one
// retries 429/502/503/504 and network errors itself, so nothing more is retried for it here.
const RETRYABLE_GRPC = new Set([1, 4, 10, 11, 14, 15]);

function retryableGrpc(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" && RETRYABLE_GRPC.has(code);
}

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;

/** Wraps an OTLP exporter: retries within the budget, reports failures and recoveries, never throws. */
export class GuardedExporter<T extends ReadableSpan[] | ResourceMetrics> {
  readonly #inner: Exporter<T>;
  readonly #signal: Signal;
  readonly #budgetMs: number;
  readonly #retryable: (err: unknown) => boolean;
  readonly #problems: ExportProblems;
  /** Retries waiting for their turn, so stop() can end them (and let the process exit). */
  readonly #waiting = new Map<NodeJS.Timeout, () => void>();
  #stopped = false;

  constructor(
    inner: Exporter<T>,
    options: { signal: Signal; budgetMs: number; retryable: (err: unknown) => boolean; problems: ExportProblems },
  ) {
    this.#inner = inner;
    this.#signal = options.signal;
    this.#budgetMs = options.budgetMs;
    this.#retryable = options.retryable;
    this.#problems = options.problems;
  }

  export(items: T, done: (result: ExportResult) => void): void {
    const deadline = Date.now() + this.#budgetMs;
    const size = Array.isArray(items) ? items.length : items.scopeMetrics.reduce((n, s) => n + s.metrics.length, 0);
    let backoff = FIRST_BACKOFF_MS;
    const attempt = (): void => {
      this.#exportOnce(items, (result) => {
        if (result.code === ExportResultCode.SUCCESS) {
          this.#problems.succeeded(this.#signal);
          done(result);
          return;
        }
        // ±20 % jitter, as the OpenTelemetry HTTP exporter, so replicas do not retry in step.
        const wait = Math.min(backoff * (0.8 + Math.random() * 0.4), MAX_BACKOFF_MS);
        backoff *= 1.5;
        if (this.#stopped || !this.#retryable(result.error) || Date.now() + wait >= deadline) {
          this.#problems.failed(this.#signal, result.error ?? new Error("export failed"), size);
          done(result);
          return;
        }
        const timer = setTimeout(() => {
          this.#waiting.delete(timer);
          attempt();
        }, wait);
        timer.unref(); // a retry alone does not keep a stopping process alive
        this.#waiting.set(timer, () => {
          this.#problems.failed(this.#signal, result.error ?? new Error("export failed"), size);
          done(result);
        });
      });
    };
    attempt();
  }

  #exportOnce(items: T, done: (result: ExportResult) => void): void {
    try {
      this.#inner.export(items, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  /** Gives up the retries still waiting: their data is reported as dropped. Used at the end of shutdown. */
  stop(): void {
    this.#stopped = true;
    for (const [timer, giveUp] of this.#waiting) {
      clearTimeout(timer);
      giveUp();
    }
    this.#waiting.clear();
  }

  async forceFlush(): Promise<void> {
    await this.#inner.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.#inner.shutdown();
  }
}

export class GuardedSpanExporter extends GuardedExporter<ReadableSpan[]> implements SpanExporter {}

export class GuardedMetricExporter extends GuardedExporter<ResourceMetrics> implements PushMetricExporter {
  readonly #select: ((type: InstrumentType) => AggregationTemporality) | undefined;

  constructor(inner: PushMetricExporter, options: ConstructorParameters<typeof GuardedExporter>[1]) {
    super(inner, options);
    this.#select = inner.selectAggregationTemporality?.bind(inner);
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    // Kestrel's metrics are cumulative; the OTLP exporters prefer cumulative too (CUMULATIVE = 1).
    return this.#select?.(type) ?? (1 as AggregationTemporality);
  }
}

const PROTOBUF = { "Content-Type": "application/x-protobuf" };

/** The span exporter for otel.protocol (the same messages as opentelemetry-js's exporter-trace-otlp-proto). */
export function spanExporter(settings: OtelSettings, problems: ExportProblems): GuardedSpanExporter {
  const budgetMs = exportTimeoutMs(settings);
  const url = collectorUrl(settings, "traces");
  const inner: SpanExporter =
    settings.protocol === "grpc"
      ? new GrpcTraceExporter({ url, timeoutMillis: budgetMs })
      : new OTLPExporterBase<ReadableSpan[]>(
          createOtlpHttpExportDelegate(
            convertLegacyHttpOptions({ url, timeoutMillis: budgetMs }, "TRACES", "v1/traces", PROTOBUF),
            ProtobufTraceSerializer,
            "otlp_http_span_exporter",
            TraceExporterMetricsHelper,
            undefined,
          ),
        );
  return new GuardedSpanExporter(inner, {
    signal: "traces",
    budgetMs,
    retryable: settings.protocol === "grpc" ? retryableGrpc : () => false,
    problems,
  });
}

/** The metric exporter for otel.protocol; `budgetMs` is at most the push interval. */
export function metricExporter(settings: OtelSettings, problems: ExportProblems, budgetMs: number): GuardedMetricExporter {
  const url = collectorUrl(settings, "metrics");
  const inner: PushMetricExporter =
    settings.protocol === "grpc"
      ? new GrpcMetricExporter({ url, timeoutMillis: budgetMs })
      : new OTLPMetricExporterBase(
          createOtlpHttpExportDelegate(
            convertLegacyHttpOptions({ url, timeoutMillis: budgetMs }, "METRICS", "v1/metrics", PROTOBUF),
            ProtobufMetricsSerializer,
            "otlp_http_metric_exporter",
            MetricsExporterMetricsHelper,
            undefined,
          ),
        );
  return new GuardedMetricExporter(inner, {
    signal: "metrics",
    budgetMs,
    retryable: settings.protocol === "grpc" ? retryableGrpc : () => false,
    problems,
  });
}
