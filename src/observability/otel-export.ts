// The OTLP exporters behind traces and metrics, built from the otel.* settings: gRPC (Talon's transport) or
// HTTP with protobuf bodies (OpenTelemetry JS's published exporters for both). A failed export is retried
// while the collector says it is worth it and the otel.timeout budget lasts, then dropped: it is logged
// (the first failure at once, then at most once a minute with a count) and counted in
// kestrel_otel_export_failures_total, never thrown at the engine.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as ProtobufMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Config } from "../config/schema.ts";
import { errorFields } from "../errors.ts";

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
      { signal, ...errorFields(err, "ERR_TELEMETRY"), dropped: count, failures_not_logged: s.unlogged > 0 ? s.unlogged : undefined },
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
// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS). The HTTP exporters retry by themselves (otlp-exporter-base's
// retrying transport: 429/502/503/504 and network errors, within timeoutMillis), so nothing more is retried
// for them here. The gRPC exporters (0.301) send once and report UNAVAILABLE as a plain failure: without
// the retries below, a collector restarting drops a batch (test/integration/otel.test.ts, "retries a
// collector that answers UNAVAILABLE/503" over grpc, fails).
const RETRYABLE_GRPC = new Set([1, 4, 10, 11, 14, 15]);

function retryableGrpc(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" && RETRYABLE_GRPC.has(code);
}

// The backoff of otlp-exporter-base's retrying transport, so both protocols wait alike (as the README says).
// Not clients/retry.ts's withRetry: its policy counts attempts and doubles with ±50 % jitter, while an
// export is bounded by its otel.timeout budget, and a wait that would overrun it is not started.
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;

/** The wait before the retry that follows `retries` ones: ±20 % jitter, so replicas do not retry in step. */
function backoffMs(retries: number): number {
  return Math.min(FIRST_BACKOFF_MS * BACKOFF_MULTIPLIER ** retries * (0.8 + Math.random() * 0.4), MAX_BACKOFF_MS);
}

function sizeOf(items: ReadableSpan[] | ResourceMetrics): number {
  return Array.isArray(items) ? items.length : items.scopeMetrics.reduce((n, s) => n + s.metrics.length, 0);
}

export interface GuardOptions {
  signal: Signal;
  /** The budget of one export, retries included. */
  budgetMs: number;
  /** Which failures are worth another try within the budget (gRPC statuses); none for the HTTP exporters. */
  retryable: (err: unknown) => boolean;
  problems: ExportProblems;
}

/** Wraps an OTLP exporter: retries what `retryable` accepts within the budget, reports failures and
 * recoveries, never throws. */
export class GuardedExporter<T extends ReadableSpan[] | ResourceMetrics> {
  readonly #inner: Exporter<T>;
  readonly #options: GuardOptions;
  /** Ends the retries still waiting (stop()), so that they do not outlive the shutdown. */
  readonly #stopping = new AbortController();

  constructor(inner: Exporter<T>, options: GuardOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  export(items: T, done: (result: ExportResult) => void): void {
    void this.#exportWithRetries(items).then(done);
  }

  async #exportWithRetries(items: T): Promise<ExportResult> {
    const { signal, budgetMs, retryable, problems } = this.#options;
    const deadline = Date.now() + budgetMs;
    for (let retries = 0; ; retries++) {
      const result = await this.#exportOnce(items);
      if (result.code === ExportResultCode.SUCCESS) {
        problems.succeeded(signal);
        return result;
      }
      const wait = backoffMs(retries);
      const again = retryable(result.error) && Date.now() + wait < deadline && (await this.#pause(wait));
      if (!again) {
        problems.failed(signal, result.error ?? new Error("export failed"), sizeOf(items));
        return result;
      }
    }
  }

  #exportOnce(items: T): Promise<ExportResult> {
    return new Promise((resolve) => {
      try {
        this.#inner.export(items, resolve);
      } catch (err) {
        resolve({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
  }

  /** Waits before a retry; false when stop() came first. The timer alone does not keep a stopping process alive. */
  async #pause(ms: number): Promise<boolean> {
    if (this.#stopping.signal.aborted) return false;
    try {
      await sleep(ms, undefined, { signal: this.#stopping.signal, ref: false });
      return true;
    } catch {
      return false;
    }
  }

  /** Gives up the retries still waiting: their data is reported as dropped. Used at the end of shutdown. */
  stop(): void {
    this.#stopping.abort();
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

  constructor(inner: PushMetricExporter, options: GuardOptions) {
    super(inner, options);
    this.#select = inner.selectAggregationTemporality?.bind(inner);
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    // Kestrel's metrics are cumulative; the OTLP exporters prefer cumulative too (CUMULATIVE = 1).
    return this.#select?.(type) ?? (1 as AggregationTemporality);
  }
}

/** The span exporter for otel.protocol. */
export function spanExporter(settings: OtelSettings, problems: ExportProblems): GuardedSpanExporter {
  const budgetMs = exportTimeoutMs(settings);
  const options = { url: collectorUrl(settings, "traces"), timeoutMillis: budgetMs };
  const grpc = settings.protocol === "grpc";
  const inner: SpanExporter = grpc ? new GrpcTraceExporter(options) : new ProtobufTraceExporter(options);
  return new GuardedSpanExporter(inner, { signal: "traces", budgetMs, retryable: grpc ? retryableGrpc : () => false, problems });
}

/** The metric exporter for otel.protocol; `budgetMs` is at most the push interval. */
export function metricExporter(settings: OtelSettings, problems: ExportProblems, budgetMs: number): GuardedMetricExporter {
  const options = { url: collectorUrl(settings, "metrics"), timeoutMillis: budgetMs };
  const grpc = settings.protocol === "grpc";
  const inner: PushMetricExporter = grpc ? new GrpcMetricExporter(options) : new ProtobufMetricExporter(options);
  return new GuardedMetricExporter(inner, { signal: "metrics", budgetMs, retryable: grpc ? retryableGrpc : () => false, problems });
}
