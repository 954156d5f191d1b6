// What Kestrel adds around the OTLP exporters: the collector URL from the otel.* settings, retries of
// retryable gRPC failures within the budget, and failures logged without flooding and counted.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import pino from "pino";
import { Registry } from "prom-client";
import { configSchema } from "../config/schema.ts";
import { collectorUrl, ExportProblems, exportTimeoutMs, GuardedSpanExporter } from "./otel-export.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { log, lines };
}

function otel(settings: Record<string, unknown>) {
  return configSchema.parse({ otel: settings }).otel;
}

/** An inner exporter answering from a script (then success), counting its calls. */
function scripted(...failures: (Error & { code?: number })[]) {
  const calls: number[] = [];
  return {
    calls,
    export(_spans: ReadableSpan[], done: (r: ExportResult) => void) {
      calls.push(Date.now());
      const err = failures.shift();
      setImmediate(() => done(err === undefined ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: err }));
    },
    shutdown: async () => {},
  };
}

function grpcError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

function exportOnce(e: GuardedSpanExporter): Promise<ExportResult> {
  return new Promise((resolve) => e.export([], resolve));
}

/** A guarded span exporter around `inner`, its log lines captured and its failures counted in a fresh registry. */
function guarded(inner: ReturnType<typeof scripted>, budgetMs: number, retryable: (err: unknown) => boolean) {
  const { log, lines } = capture();
  const registry = new Registry();
  const e = new GuardedSpanExporter(inner, { signal: "traces", budgetMs, retryable, problems: new ExportProblems(log, registry) });
  return { e, lines, registry };
}

/** gRPC's UNAVAILABLE, the failure worth retrying. */
const unavailable = (err: unknown) => (err as { code?: number }).code === 14;

async function failuresCounted(registry: Registry): Promise<number> {
  const m = await registry.getSingleMetric("kestrel_otel_export_failures_total")?.get();
  return m?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

describe("collector settings", () => {
  it("builds the collector URL for each protocol and the insecure flag", () => {
    assert.equal(collectorUrl(otel({})), "https://localhost:4317");
    assert.equal(
      collectorUrl(otel({ collector_endpoint: "otel.monitoring", collector_use_insecure_grpc: true }), "traces"),
      "http://otel.monitoring:4317",
    );
    const http = otel({ protocol: "http/protobuf", collector_port: 4318, collector_endpoint: "::1", collector_use_insecure_grpc: true });
    assert.equal(collectorUrl(http, "traces"), "http://[::1]:4318/v1/traces");
    assert.equal(collectorUrl(http, "metrics"), "http://[::1]:4318/v1/metrics");
  });

  it("takes otel.timeout as the export budget, and Talon's 10 s when it is 0", () => {
    assert.equal(exportTimeoutMs(otel({ timeout: 3 })), 3000);
    assert.equal(exportTimeoutMs(otel({ timeout: 0 })), 10_000);
  });

  it("rejects an unknown protocol", () => {
    const parsed = configSchema.safeParse({ otel: { protocol: "http/json" } });
    assert.equal(parsed.success, false);
    assert.equal(parsed.error?.issues[0]?.message, 'must be "grpc" or "http/protobuf"');
  });
});

describe("GuardedExporter", () => {
  it("retries a retryable gRPC failure (UNAVAILABLE) until the collector takes the data", async () => {
    const inner = scripted(grpcError(14, "14 UNAVAILABLE: connection refused"));
    const { e, lines, registry } = guarded(inner, 5000, unavailable);
    const result = await exportOnce(e);
    assert.equal(result.code, ExportResultCode.SUCCESS);
    assert.equal(inner.calls.length, 2);
    assert.ok(inner.calls[1]! - inner.calls[0]! >= 700, "waited about a second before the retry");
    assert.equal(await failuresCounted(registry), 0);
    assert.equal(lines.length, 0, "a retried success is not a problem");
  });

  it("gives up on a non-retryable failure at once, logs it and counts it", async () => {
    const inner = scripted(grpcError(16, "16 UNAUTHENTICATED: bad token"));
    const { e, lines, registry } = guarded(inner, 5000, unavailable);
    assert.equal((await exportOnce(e)).code, ExportResultCode.FAILED);
    assert.equal(inner.calls.length, 1);
    assert.equal(await failuresCounted(registry), 1);
    assert.equal(lines[0]?.["msg"], "OTLP export failed: the data is dropped");
    assert.equal(lines[0]?.["signal"], "traces");
    assert.match(String((lines[0]?.["err"] as { message?: unknown } | undefined)?.message), /UNAUTHENTICATED/);
    assert.equal(lines[0]?.["code"], "ERR_TELEMETRY");
  });

  it("stops retrying when the budget would be exceeded", async () => {
    const inner = scripted(grpcError(14, "down"), grpcError(14, "down"), grpcError(14, "down"));
    const { e } = guarded(inner, 500, () => true);
    const started = Date.now();
    assert.equal((await exportOnce(e)).code, ExportResultCode.FAILED);
    assert.equal(inner.calls.length, 1, "the first backoff (≥ 0.8 s) does not fit in 0.5 s");
    assert.ok(Date.now() - started < 400);
  });

  it("logs a collector that stays down once per interval, with the count, then its recovery", async () => {
    const { log, lines } = capture();
    const registry = new Registry();
    const problems = new ExportProblems(log, registry, 60_000);
    const inner = scripted(grpcError(16, "no"), grpcError(16, "no"), grpcError(16, "no"));
    const e = new GuardedSpanExporter(inner, { signal: "traces", budgetMs: 1000, retryable: () => false, problems });
    for (let i = 0; i < 3; i++) await exportOnce(e);
    assert.equal(await failuresCounted(registry), 3);
    assert.equal(lines.length, 1, "one line for three failures within the minute");
    await exportOnce(e); // the collector is back
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.["msg"], "OTLP export works again");
    assert.equal(lines[1]?.["failures_not_logged"], 2);
  });

  it("gives up waiting retries on stop(), reporting their data as dropped", async () => {
    const inner = scripted(grpcError(14, "down"), grpcError(14, "down"));
    const { e, registry } = guarded(inner, 60_000, () => true);
    const pending = exportOnce(e);
    await new Promise((r) => setTimeout(r, 50)); // the first attempt failed; a retry waits
    e.stop();
    assert.equal((await pending).code, ExportResultCode.FAILED);
    assert.equal(inner.calls.length, 1);
    assert.equal(await failuresCounted(registry), 1);
  });
});
