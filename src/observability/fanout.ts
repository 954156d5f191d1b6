// Reports every engine happening to the main observer (logs, Prometheus metrics, summary) and then to a
// second one (tracing). The second one can never break the first or the engine: what it throws is handed
// to `onError` and the engine goes on. Only built when tracing is on, so the default path is unchanged.

import type { ActionRecord, EngineObserver, EventOutcome, OutputRecord, RejectReason } from "../engine/observer.ts";
import type { FalcoEvent } from "../events/event.ts";
import type { Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../rules/types.ts";

export class FanOutObserver implements EngineObserver {
  readonly #main: EngineObserver;
  readonly #extra: EngineObserver;
  readonly #onError: (err: unknown) => void;

  constructor(main: EngineObserver, extra: EngineObserver, onError: (err: unknown) => void) {
    this.#main = main;
    this.#extra = extra;
    this.#onError = onError;
  }

  #guard(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#onError(err);
    }
  }

  eventReceived(event: FalcoEvent, traceId: string, traceparent?: string, receivedAt?: number): void {
    this.#main.eventReceived(event, traceId, traceparent, receivedAt);
    this.#guard(() => this.#extra.eventReceived(event, traceId, traceparent, receivedAt));
  }

  eventTaken(event: FalcoEvent, traceId: string, traceparent?: string): void {
    this.#main.eventTaken?.(event, traceId, traceparent);
    this.#guard(() => this.#extra.eventTaken?.(event, traceId, traceparent));
  }

  eventFinished(event: FalcoEvent, traceId: string, outcome: EventOutcome): void {
    this.#main.eventFinished?.(event, traceId, outcome);
    this.#guard(() => this.#extra.eventFinished?.(event, traceId, outcome));
  }

  eventRejected(reason: RejectReason, detail: string, client?: string): void {
    this.#main.eventRejected(reason, detail, client);
    this.#guard(() => this.#extra.eventRejected(reason, detail, client));
  }

  eventDuplicate(event: FalcoEvent, traceId: string): void {
    this.#main.eventDuplicate(event, traceId);
    this.#guard(() => this.#extra.eventDuplicate(event, traceId));
  }

  ruleMatched(event: FalcoEvent, traceId: string, rule: CompiledRule): void {
    this.#main.ruleMatched(event, traceId, rule);
    this.#guard(() => this.#extra.ruleMatched(event, traceId, rule));
  }

  actionDispatched(event: FalcoEvent, traceId: string, rule: CompiledRule, action: CompiledAction, waitedSeconds: number): void {
    this.#main.actionDispatched(event, traceId, rule, action, waitedSeconds);
    this.#guard(() => this.#extra.actionDispatched(event, traceId, rule, action, waitedSeconds));
  }

  actionFinished(record: ActionRecord): void {
    this.#main.actionFinished(record);
    this.#guard(() => this.#extra.actionFinished(record));
  }

  // Its six parameters as the interface declares them (once per gathered context, never on an unmatched event).
  contextGathered(...args: Parameters<NonNullable<EngineObserver["contextGathered"]>>): void {
    this.#main.contextGathered?.(...args);
    this.#guard(() => this.#extra.contextGathered?.(...args));
  }

  outputFinished(record: OutputRecord): void {
    this.#main.outputFinished(record);
    this.#guard(() => this.#extra.outputFinished(record));
  }

  notificationFinished(
    notifier: string,
    notification: Notification,
    status: "success" | "failure",
    error?: unknown,
    quiet?: boolean,
  ): void {
    this.#main.notificationFinished(notifier, notification, status, error, quiet);
    this.#guard(() => this.#extra.notificationFinished(notifier, notification, status, error));
  }

  queueDepth(depth: number): void {
    this.#main.queueDepth(depth);
    this.#guard(() => this.#extra.queueDepth(depth));
  }

  problem(message: string, error?: unknown): void {
    this.#main.problem(message, error);
    this.#guard(() => this.#extra.problem(message, error));
  }
}
