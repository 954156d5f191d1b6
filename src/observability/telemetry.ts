// OpenTelemetry for a running Kestrel, from the otel.* settings: traces (otel.traces_enabled) and the OTLP
// metrics push (otel.metrics_enabled). Nothing is created when both are off (the default), and the engine
// then reports to the plain observer alone. close() exports what is pending within otel.timeout, so the
// last spans and metrics leave on SIGTERM; a collector that is down only costs that wait, once.
import type { Logger } from "pino";
import type { EngineObserver } from "../engine/observer.ts";
import { errorFields } from "../errors.ts";
import { version } from "../version.ts";
import { FanOutObserver } from "./fanout.ts";
import type { Metrics } from "./metrics.ts";
import {
  collectorUrl,
  ExportProblems,
  exportTimeoutMs,
  kestrelResource,
  metricExporter,
  type OtelSettings,
  spanExporter,
} from "./otel-export.ts";
import { OtelMetrics } from "./otel-metrics.ts";
import { Tracing } from "./tracing.ts";

export interface Telemetry {
  readonly tracing: Tracing | undefined;
  /** The observer the engine reports to: `main` plus tracing when traces are on. */
  observer(main: EngineObserver): EngineObserver;
  /** Ends unfinished spans, exports what is pending (at most otel.timeout), stops the exporters. Never throws. */
  close(): Promise<void>;
}

export function createTelemetry(settings: OtelSettings, options: { log: Logger; metrics: Metrics }): Telemetry | undefined {
  if (!settings.traces_enabled && !settings.metrics_enabled) return undefined;
  const log = options.log.child({ component: "otel" });
  const problems = new ExportProblems(log, options.metrics.registry);
  const kestrelVersion = version();
  const resource = kestrelResource(settings.service_name, kestrelVersion);
  const budgetMs = exportTimeoutMs(settings);
  const spans = settings.traces_enabled ? spanExporter(settings, problems) : undefined;
  const tracing =
    spans === undefined
      ? undefined
      : new Tracing({
          resource,
          version: kestrelVersion,
          exporter: spans,
          // The exporter may take its budget for a first attempt and once more for a last retry.
          exportTimeoutMs: 2 * budgetMs + 1000,
        });
  const intervalMs = settings.metrics_interval * 1000;
  const pushed = settings.metrics_enabled ? metricExporter(settings, problems, Math.min(budgetMs, intervalMs)) : undefined;
  const otelMetrics =
    pushed === undefined
      ? undefined
      : new OtelMetrics({
          registry: options.metrics.registry,
          resource,
          version: kestrelVersion,
          exporter: pushed,
          intervalMs,
          timeoutMs: budgetMs,
        });
  log.info(
    {
      traces: settings.traces_enabled,
      metrics: settings.metrics_enabled,
      protocol: settings.protocol,
      collector: collectorUrl(settings),
      metrics_interval: settings.metrics_enabled ? settings.metrics_interval : undefined,
    },
    "OpenTelemetry export enabled",
  );

  let closing: Promise<void> | undefined;
  return {
    tracing,
    observer(main) {
      if (tracing === undefined) return main;
      // A tracing bug must not cost an event; it is logged (rarely: the same bug repeats per event).
      let lastLog = 0;
      return new FanOutObserver(main, tracing, (err) => {
        if (Date.now() - lastLog < 60_000) return;
        lastLog = Date.now();
        log.error(errorFields(err, "ERR_UNEXPECTED"), "tracing failed; events are handled without their spans");
      });
    },
    close() {
      closing ??= (async () => {
        const shutdowns = [tracing?.shutdown(), otelMetrics?.shutdown()].filter((p) => p !== undefined);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), budgetMs + 1000);
        });
        const result = await Promise.race([Promise.allSettled(shutdowns), deadline]);
        clearTimeout(timer);
        // Retries still waiting are given up: the process is stopping.
        spans?.stop();
        pushed?.stop();
        if (result === "late")
          log.warn({ timeout_seconds: budgetMs / 1000 }, "OpenTelemetry: the last spans or metrics could not be exported in time");
      })();
      return closing;
    },
  };
}
