// The engine's observer: the only place that turns engine happenings into log lines, metrics and the exit
// summary. Every line about an event or action carries trace_id, rule, action, actionner and status.

import type { Logger } from "pino";
import type { ActionRecord, EngineObserver, EventOutcome, OutputRecord, RejectReason } from "../engine/observer.ts";
import { errorFields } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { NotificationSkipped } from "../notifiers/_unconfigured.ts";
import type { Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../rules/types.ts";
import type { Metrics } from "./metrics.ts";
import { Summary } from "./summary.ts";

export class Observer implements EngineObserver {
  readonly summary = new Summary();
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #printAllEvents: boolean;
  /** The trace id of the last matched event, so each event is logged once however many rules it triggers. */
  #lastMatchedTrace = "";

  constructor(options: { log: Logger; metrics: Metrics; printAllEvents: boolean }) {
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#printAllEvents = options.printAllEvents;
  }

  eventReceived(event: FalcoEvent, traceId: string): void {
    this.summary.events++;
    this.#metrics.countEvent(event.rule, event.priorityLevel, event.source);
    if (this.#printAllEvents) this.#logEvent(event, traceId, "event received");
  }

  eventRejected(reason: RejectReason, detail: string, client?: string): void {
    this.summary.rejected++;
    this.#metrics.rejected.inc({ reason });
    if (reason === "unauthorized" || reason === "forbidden" || reason === "auth_throttled") this.#metrics.authFailures.inc({ reason });
    // Refusals that come in floods (a full queue, a client over its rate or throttled for its failed
    // authentications) are counted, and logged only at debug.
    const level = reason === "overloaded" || reason === "rate_limited" || reason === "auth_throttled" ? "debug" : "warn";
    if (this.#log.isLevelEnabled(level)) this.#log[level]({ reason, error: detail, client }, "event rejected");
  }

  eventFinished(_event: FalcoEvent, _traceId: string, outcome: EventOutcome): void {
    // Still queued when the shutdown deadline passed (the engine logs their number once).
    if (outcome === "dropped") {
      this.summary.droppedAtShutdown++;
      this.#metrics.droppedAtShutdown.inc();
    }
  }

  eventDuplicate(event: FalcoEvent, traceId: string): void {
    this.summary.duplicates++;
    this.#metrics.countDuplicate();
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ trace_id: traceId, falco_rule: event.rule }, "duplicate event ignored");
  }

  ruleMatched(event: FalcoEvent, traceId: string, rule: CompiledRule): void {
    if (this.#lastMatchedTrace !== traceId) {
      this.#lastMatchedTrace = traceId;
      this.summary.matchedEvents++;
      this.summary.bySeverity[event.priorityLevel]!++;
      if (!this.#printAllEvents) this.#logEvent(event, traceId, "event matched");
    }
    this.summary.countRule(rule.name);
    this.#metrics.countMatch(rule, event.rule);
    if (this.#log.isLevelEnabled("info")) this.#log.info({ trace_id: traceId, rule: rule.name, falco_rule: event.rule }, "rule triggered");
  }

  actionDispatched(_event: FalcoEvent, traceId: string, rule: CompiledRule, action: CompiledAction, waitedSeconds: number): void {
    this.#metrics.observeEventToAction(waitedSeconds);
    if (this.#log.isLevelEnabled("debug")) {
      this.#log.debug({ ...actionFields(traceId, rule, action), status: "in_progress" }, "action started");
    }
  }

  actionFinished(r: ActionRecord): void {
    this.summary.countAction(r.status);
    this.#metrics.countAction(r.rule, r.action, r.status);
    if (r.status !== "dry_run") this.#metrics.observeActionDuration(r.action.actionnerName, r.durationSeconds);
    if (!this.#log.isLevelEnabled(r.status === "failure" ? "error" : "info")) return;
    const fields = {
      ...actionFields(r.traceId, r.rule, r.action),
      status: r.status,
      output: r.summary || undefined,
      objects: Object.keys(r.objects).length > 0 ? r.objects : undefined,
      duration_ms: Math.round(r.durationSeconds * 1e4) / 10,
    };
    if (r.status === "failure") {
      this.#log.error({ ...fields, ...errorFields(r.error, "ERR_ACTION") }, "action failed");
    } else {
      this.#log.info(fields, r.status === "dry_run" ? "no action, dry-run is enabled" : `action ${r.status}`);
    }
  }

  outputFinished(r: OutputRecord): void {
    this.#metrics.outputs.inc({ target: r.target, status: r.status });
    const fields = { ...actionFields(r.traceId, r.rule, r.action), output_target: r.target, status: r.status, location: r.location };
    if (r.status === "failure") this.#log.error({ ...fields, ...errorFields(r.error, "ERR_OUTPUT") }, "artifact not stored");
    else this.#log.info(fields, "artifact stored");
  }

  notificationFinished(notifier: string, n: Notification, status: "success" | "failure", error?: unknown, quiet = false): void {
    if (error instanceof NotificationSkipped) {
      // An unconfigured notifier (warned about at start): counted, logged at debug level only.
      this.#metrics.countNotification(notifier, "skipped");
      if (this.#log.isLevelEnabled("debug"))
        this.#log.debug({ trace_id: n.traceId, rule: n.rule, notifier }, "notification skipped: the notifier is not configured");
      return;
    }
    this.#metrics.countNotification(notifier, status);
    if (quiet) return;
    const fields = { trace_id: n.traceId, rule: n.rule, action: n.action, actionner: n.actionner, notifier, status };
    if (status === "failure") this.#log.error({ ...fields, ...errorFields(error, "ERR_NOTIFY") }, "notification failed");
    else if (this.#log.isLevelEnabled("debug")) this.#log.debug(fields, "notification sent");
  }

  queueDepth(depth: number): void {
    this.#metrics.setQueueDepth(depth);
  }

  problem(message: string, error?: unknown): void {
    this.#log.error(error === undefined ? {} : errorFields(error, "ERR_UNEXPECTED"), message);
  }

  #logEvent(event: FalcoEvent, traceId: string, msg: string): void {
    if (!this.#log.isLevelEnabled("info")) return;
    this.#log.info(
      { trace_id: traceId, falco_rule: event.rule, priority: event.priority, source: event.source, event: clip(event.message) },
      msg,
    );
  }
}

function actionFields(traceId: string, rule: CompiledRule, action: CompiledAction) {
  return { trace_id: traceId, rule: rule.name, action: action.name, actionner: action.actionnerName };
}

/** Characters of an event's text kept in a log line: an event may carry up to a MiB of attacker's text. */
const LOGGED_EVENT_LIMIT = 4096;

function clip(text: string): string {
  return text.length <= LOGGED_EVENT_LIMIT
    ? text
    : `${text.slice(0, LOGGED_EVENT_LIMIT)}… (${text.length - LOGGED_EVENT_LIMIT} more characters)`;
}
