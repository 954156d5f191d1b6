// OpenTelemetry traces, built from the engine observer's callbacks: one trace per event, whose id is the
// event's Kestrel trace id (the one in every log line and notification, so a trace found in Jaeger is the
// one in the logs). Spans get explicit start and end times and explicit parents from the callbacks; nothing
// relies on async context propagation, so no span leaks into another event's trace.
//
//   event                       receipt → the engine is done with the event (child of the caller's span
//   └─ match                    when the request had a traceparent); match: the rules it triggered → done
//      └─ action                one per action run (dispatch → result)
//         ├─ context            one per additional context gathered
//         ├─ output             the artifact written to its output target
//         └─ notification       one per notifier delivery (the notification's creation → delivered or failed)
//
// Attributes are bounded: names from the loaded rules and configuration, statuses, the Falco rule, priority
// and source (truncated), counts and durations. Never the output text, object names (pods…), paths or
// other event field values.
import { performance } from "node:perf_hooks";
import {
  type Attributes,
  type Context,
  type HrTime,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  type IdGenerator,
  ParentBasedSampler,
  RandomIdGenerator,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { ActionRecord, EngineObserver, EventOutcome, OutputRecord } from "../engine/observer.ts";
import { type ErrorCode, errorCode, errorMessage } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import type { Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../rules/types.ts";
import { parseTraceparent } from "./trace-context.ts";

/** Span attribute keys (Kestrel's own namespace; Falco's event fields under falco.*). */
export const ATTR = {
  falcoRule: "falco.rule",
  falcoPriority: "falco.priority",
  falcoSource: "falco.source",
  outcome: "kestrel.outcome",
  rules: "kestrel.rules",
  rulesCount: "kestrel.rules.count",
  rule: "kestrel.rule",
  action: "kestrel.action",
  actionner: "kestrel.actionner",
  status: "kestrel.status",
  waitMs: "kestrel.wait_ms",
  context: "kestrel.context",
  outputTarget: "kestrel.output.target",
  notifier: "kestrel.notifier",
  notificationKind: "kestrel.notification.kind",
  errorType: "error.type",
} as const;

/** Rule names listed on a `match` span at most (the count is always there). */
const MATCH_NAMES_LIMIT = 16;
/** Event-supplied strings (Falco rule, source) are cut to this length. */
const EVENT_VALUE_LIMIT = 128;
/** Error messages in span statuses are cut to this length. */
const MESSAGE_LIMIT = 256;

/**
 * Trace ids come from Kestrel, not from the SDK: the tracer asks the id generator for a trace id only for
 * a span without a valid parent, synchronously inside startSpan, so the `event` span's id is staged just
 * before and taken there.
 */
class KestrelIds implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  next: string | undefined;

  generateTraceId(): string {
    const id = this.next;
    this.next = undefined;
    return id ?? this.#random.generateTraceId();
  }

  generateSpanId(): string {
    return this.#random.generateSpanId();
  }
}

interface ActionTrace {
  readonly span: Span;
  readonly ctx: Context;
  /** When the action finished: its artifact's write (the `output` span) starts then. */
  endedAt?: HrTime;
}

interface EventTrace {
  readonly span: Span;
  readonly ctx: Context;
  match?: { readonly span: Span; readonly ctx: Context; readonly names: string[]; count: number };
  readonly actions: Map<CompiledAction, ActionTrace>;
  /** Action contexts by "rule\0action", for notifications (they carry names, not the compiled action). */
  readonly byName: Map<string, Context>;
}

export interface TracingOptions {
  readonly resource: Resource;
  readonly version: string;
  /** Receives the finished spans (in batches). */
  readonly exporter: SpanExporter;
  /** Milliseconds between batch exports: the OpenTelemetry default, 5 s, as Talon's. */
  readonly batchDelayMs?: number;
  /** How long the batch processor waits for one export (the exporter's own retries included). */
  readonly exportTimeoutMs?: number;
  /** Replaces the batch processor (tests use a SimpleSpanProcessor). */
  readonly processor?: SpanProcessor;
  /**
   * Events in progress tracked at most (default 10 000, far above the queue sizes in use). Beyond it the
   * oldest is ended as "unfinished": a path that never reports eventFinished cannot grow memory forever.
   */
  readonly maxOpenEvents?: number;
}

/** The now of span times: monotonic and sub-millisecond (performance.now() on the epoch). */
function now(): HrTime {
  return millisToHrTime(performance.timeOrigin + performance.now());
}

function secondsBefore(end: HrTime, seconds: number): HrTime {
  return millisToHrTime(end[0] * 1000 + end[1] / 1e6 - seconds * 1000);
}

function clip(value: string, limit: number): string {
  return value.length > limit ? value.slice(0, limit) : value;
}

function failed(span: Span, err: unknown, fallbackCode: ErrorCode): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: clip(errorMessage(err), MESSAGE_LIMIT) });
  span.setAttribute(ATTR.errorType, errorCode(err, fallbackCode));
}

export class Tracing implements EngineObserver {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;
  readonly #ids = new KestrelIds();
  readonly #events = new WeakMap<FalcoEvent, EventTrace>();
  /** Events whose `event` span is still open (insertion order: oldest first), to end them at shutdown. */
  readonly #open = new Set<EventTrace>();
  readonly #maxOpen: number;

  constructor(options: TracingOptions) {
    const processor =
      options.processor ??
      new BatchSpanProcessor({
        exporter: options.exporter,
        scheduledDelayMillis: options.batchDelayMs ?? 5000,
        exportTimeoutMillis: options.exportTimeoutMs ?? 30_000,
      });
    this.#provider = new TracerProvider({
      resource: options.resource,
      idGenerator: this.#ids,
      // A caller that decided not to sample its trace (traceparent flags 00) gets no spans from Kestrel
      // either, as with any OpenTelemetry service; without a traceparent every event is recorded.
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 32 },
      spanProcessors: [processor],
    });
    this.#tracer = this.#provider.getTracer("kestrel", options.version);
    this.#maxOpen = options.maxOpenEvents ?? 10_000;
  }

  eventReceived(event: FalcoEvent, traceId: string, traceparent?: string, receivedAt?: number): void {
    // The span starts at receipt: the wait for the intake's batch is part of the event's time.
    const at = receivedAt === undefined ? now() : millisToHrTime(performance.timeOrigin + receivedAt);
    const parent = parseTraceparent(traceparent);
    let ctx = ROOT_CONTEXT;
    // The intake took the trace id from this same header; a different id means it was invalid there.
    if (parent !== undefined && parent.traceId === traceId) {
      ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
    } else {
      this.#ids.next = traceId;
    }
    const span = this.#tracer.startSpan(
      "event",
      {
        kind: SpanKind.SERVER,
        startTime: at,
        attributes: {
          [ATTR.falcoRule]: clip(event.rule, EVENT_VALUE_LIMIT),
          [ATTR.falcoPriority]: event.priority,
          [ATTR.falcoSource]: clip(event.source, EVENT_VALUE_LIMIT),
        },
      },
      ctx,
    );
    this.#ids.next = undefined;
    if (!span.isRecording()) return; // not sampled: nothing else is recorded for this event
    const et: EventTrace = { span, ctx: trace.setSpan(ROOT_CONTEXT, span), actions: new Map(), byName: new Map() };
    this.#events.set(event, et);
    this.#open.add(et);
    if (this.#open.size > this.#maxOpen) {
      const oldest = this.#open.values().next().value!;
      this.#endUnfinished(oldest, now());
    }
  }

  /** With several replicas, the replica that runs the actions traces them under its own `event` span. */
  eventTaken(event: FalcoEvent, traceId: string, traceparent?: string): void {
    this.eventReceived(event, traceId, traceparent);
  }

  eventFinished(event: FalcoEvent, _traceId: string, outcome: EventOutcome): void {
    const et = this.#events.get(event);
    if (et === undefined || !this.#open.has(et)) return;
    const at = now();
    et.span.setAttribute(ATTR.outcome, outcome);
    if (outcome === "overloaded") et.span.setStatus({ code: SpanStatusCode.ERROR, message: "the queue is full" });
    this.#endMatch(et, at);
    et.span.end(at);
    this.#open.delete(et);
  }

  eventRejected(): void {}

  eventDuplicate(): void {}

  ruleMatched(event: FalcoEvent, _traceId: string, rule: CompiledRule): void {
    const et = this.#events.get(event);
    if (et === undefined) return;
    if (et.match === undefined) {
      const span = this.#tracer.startSpan("match", { startTime: now() }, et.ctx);
      et.match = { span, ctx: trace.setSpan(et.ctx, span), names: [], count: 0 };
    }
    et.match.count++;
    if (et.match.names.length < MATCH_NAMES_LIMIT) et.match.names.push(rule.name);
  }

  actionDispatched(event: FalcoEvent, _traceId: string, rule: CompiledRule, action: CompiledAction, waitedSeconds: number): void {
    const et = this.#events.get(event);
    if (et === undefined) return;
    const parent = et.match?.ctx ?? et.ctx;
    const span = this.#tracer.startSpan(
      "action",
      {
        startTime: now(),
        attributes: {
          [ATTR.rule]: rule.name,
          [ATTR.action]: action.name,
          [ATTR.actionner]: action.actionnerName,
          [ATTR.waitMs]: Math.round(waitedSeconds * 1e6) / 1e3,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    et.actions.set(action, { span, ctx });
    et.byName.set(`${rule.name}\0${action.name}`, ctx);
  }

  contextGathered(
    event: FalcoEvent,
    _traceId: string,
    action: CompiledAction,
    context: string,
    durationSeconds: number,
    error?: unknown,
  ): void {
    const at = this.#events.get(event)?.actions.get(action);
    if (at === undefined) return;
    const end = now();
    const span = this.#tracer.startSpan(
      "context",
      { startTime: secondsBefore(end, durationSeconds), attributes: { [ATTR.context]: context } },
      at.ctx,
    );
    if (error !== undefined) failed(span, error, "ERR_CONTEXT");
    span.end(end);
  }

  actionFinished(r: ActionRecord): void {
    const at = this.#events.get(r.event)?.actions.get(r.action);
    if (at === undefined) return;
    const end = now();
    at.span.setAttribute(ATTR.status, r.status);
    if (r.status === "failure") failed(at.span, r.error, "ERR_ACTION");
    at.span.end(end);
    at.endedAt = end;
  }

  outputFinished(r: OutputRecord): void {
    const at = this.#events.get(r.event)?.actions.get(r.action);
    if (at === undefined) return;
    const end = now();
    // The write starts right after the action's result (run-action.ts); there is no callback before it.
    const span = this.#tracer.startSpan(
      "output",
      { kind: SpanKind.CLIENT, startTime: at.endedAt ?? end, attributes: { [ATTR.outputTarget]: r.target, [ATTR.status]: r.status } },
      at.ctx,
    );
    if (r.status === "failure") failed(span, r.error, "ERR_OUTPUT");
    span.end(end);
  }

  notificationFinished(notifier: string, n: Notification, status: "success" | "failure", error?: unknown): void {
    const et = this.#events.get(n.event);
    if (et === undefined) return;
    const parent = (n.kind === "event" ? undefined : et.byName.get(`${n.rule}\0${n.action}`)) ?? et.match?.ctx ?? et.ctx;
    const end = now();
    // The notification was created at n.time (wall clock); its age is taken on the same clock.
    const ageSeconds = Math.max(0, (Date.now() - n.time.getTime()) / 1000);
    const span = this.#tracer.startSpan(
      "notification",
      {
        kind: SpanKind.CLIENT,
        startTime: secondsBefore(end, ageSeconds),
        attributes: { [ATTR.notifier]: notifier, [ATTR.status]: status, [ATTR.notificationKind]: n.kind },
      },
      parent,
    );
    if (status === "failure") failed(span, error, "ERR_NOTIFY");
    span.end(end);
  }

  queueDepth(): void {}

  problem(): void {}

  /** Ends the spans of events still in progress (their actions were cut short by the shutdown). */
  endOpen(): void {
    const at = now();
    for (const et of this.#open) this.#endUnfinished(et, at);
  }

  /** Exports the finished spans now. */
  forceFlush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  /** Ends open spans, exports what is pending and stops the exporter. */
  async shutdown(): Promise<void> {
    this.endOpen();
    await this.#provider.shutdown();
  }

  #endUnfinished(et: EventTrace, at: HrTime): void {
    et.span.setAttribute(ATTR.outcome, "unfinished");
    for (const a of et.actions.values()) if (a.endedAt === undefined) a.span.end(at);
    this.#endMatch(et, at);
    et.span.end(at);
    this.#open.delete(et);
  }

  #endMatch(et: EventTrace, at: HrTime): void {
    const m = et.match;
    if (m === undefined || !m.span.isRecording()) return;
    const attributes: Attributes = { [ATTR.rules]: m.names, [ATTR.rulesCount]: m.count };
    m.span.setAttributes(attributes);
    m.span.end(at);
  }
}
