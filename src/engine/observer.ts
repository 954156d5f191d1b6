// The engine reports what happens through this interface and nothing else: logs, metrics and traces are
// implemented in observability/, so the engine never knows a metric, log field or span name.
import type { FalcoEvent } from "../events/event.ts";
import type { ActionStatus, Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../rules/types.ts";

export interface ActionRecord {
  readonly event: FalcoEvent;
  readonly traceId: string;
  readonly rule: CompiledRule;
  readonly action: CompiledAction;
  /** "dry_run" when the rule is a dry run: nothing was executed. */
  readonly status: ActionStatus | "dry_run";
  readonly summary: string;
  readonly objects: Readonly<Record<string, string>>;
  readonly error?: unknown;
  readonly durationSeconds: number;
}

export interface OutputRecord {
  readonly event: FalcoEvent;
  readonly traceId: string;
  readonly rule: CompiledRule;
  readonly action: CompiledAction;
  readonly target: string;
  readonly status: ActionStatus;
  readonly location?: string;
  readonly error?: unknown;
}

export type RejectReason =
  | "invalid"
  | "too_large"
  | "overloaded"
  | "shutting_down"
  | "method"
  | "unauthorized"
  | "forbidden"
  | "rate_limited"
  | "auth_throttled";

/** How the engine finished with an event: "handled" once its matched rules' actions have all run. */
/** "stored": persisted in the cluster's stream (cluster.nats_url), for a replica to act on. */
/** "dropped": still queued when the shutdown deadline passed; its actions never started. */
export type EventOutcome = "duplicate" | "unmatched" | "overloaded" | "handled" | "stored" | "dropped";

export interface EngineObserver {
  /**
   * `traceparent` is the request's W3C header when it had one (tracing continues the caller's trace);
   * `receivedAt` (performance.now()) is when its body was complete, before it waited for its batch.
   */
  eventReceived(event: FalcoEvent, traceId: string, traceparent?: string, receivedAt?: number): void;
  /**
   * An event taken from the cluster's stream on this replica (counted by the replica that received it, so
   * not reported as received again); `traceparent` is the one of the original request, if any.
   */
  eventTaken?(event: FalcoEvent, traceId: string, traceparent?: string): void;
  /**
   * The engine is done with an event received by eventReceived: at once when it is a duplicate, matches
   * nothing or finds the queue full, else after its last action. Optional: only tracing needs it.
   */
  eventFinished?(event: FalcoEvent, traceId: string, outcome: EventOutcome): void;
  /** `client` is the remote address, when the rejection is about who sent the request. */
  eventRejected(reason: RejectReason, detail: string, client?: string): void;
  eventDuplicate(event: FalcoEvent, traceId: string): void;
  ruleMatched(event: FalcoEvent, traceId: string, rule: CompiledRule): void;
  /** An action is handed to its actionner; `waitedSeconds` is the time since the event was received. */
  actionDispatched(event: FalcoEvent, traceId: string, rule: CompiledRule, action: CompiledAction, waitedSeconds: number): void;
  actionFinished(record: ActionRecord): void;
  /** An additional context of an action (`additional_contexts`) was gathered, or failed. Optional. */
  contextGathered?(
    event: FalcoEvent,
    traceId: string,
    action: CompiledAction,
    context: string,
    durationSeconds: number,
    error?: unknown,
  ): void;
  outputFinished(record: OutputRecord): void;
  /** `quiet`: counted, not logged (a flood of notifications refused by a full queue is logged once a second). */
  notificationFinished(notifier: string, notification: Notification, status: "success" | "failure", error?: unknown, quiet?: boolean): void;
  queueDepth(depth: number): void;
  /** A problem that is not about one event (a notifier that could not be created, …). */
  problem(message: string, error?: unknown): void;
}
