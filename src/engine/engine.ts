// The engine: submitAll() matches and deduplicates a batch of events synchronously (microseconds each) and
// queues the matched rules' actions; workers run them with per-target ordering. Ingest never waits for an
// action. The intake hands over the events of the requests it read in one event-loop turn together
// (ingest/turn-batch.ts), and their jobs go to the scheduler together at the end of the batch: parsing and
// matching a burst of events in a row, then running the dispatch code in a row after it, keeps each in the
// CPU caches. That is the one batching layer on the hot path; submit() is a batch of one.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { within } from "../abort.ts";
import type { Clients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { firstField } from "../events/fields.ts";
import { NAMESPACE_FIELDS, podNameOf } from "../events/target.ts";
import type { Registry } from "../plugins/registry.ts";
import type { ContextProvider } from "../plugins/types.ts";
import type { CompiledRule, RuleSet } from "../rules/types.ts";
import { type DedupStore, dedupKey } from "./dedup.ts";
import type { Notifications } from "./notify.ts";
import type { EngineObserver } from "./observer.ts";
import { type RunEnvironment, reportDryRun, runAction } from "./run-action.ts";
import { type Job, KeyedScheduler } from "./scheduler.ts";

export interface EngineOptions {
  ruleSet: RuleSet;
  dedup: DedupStore;
  notifications: Notifications;
  observer: EngineObserver;
  clients: Clients;
  contexts: Registry<ContextProvider>;
  log: Logger;
  queueSize: number;
  workers: number;
  actionTimeoutMs: number;
  /** Readiness fails when events wait and the queue has not moved for this long (default 2 × action timeout + 5 s). */
  stallMs?: number;
}

export type SubmitOutcome = "duplicate" | "unmatched" | "queued";

/** One event handed to submitAll(). */
export interface Submission {
  readonly event: FalcoEvent;
  readonly traceId: string;
  /** performance.now() when the event was received. */
  readonly receivedAt: number;
  /** The W3C traceparent header as received, when there was one. */
  readonly traceparent?: string | undefined;
}

/**
 * What became of one submission: its outcome, or the error that refused it (KestrelError ERR_OVERLOADED
 * when the queue is full, ERR_SHUTTING_DOWN after drain() started, or an unexpected failure).
 */
export type SubmitResult = SubmitOutcome | { readonly error: unknown };

interface EventJob extends Job {
  readonly event: FalcoEvent;
  readonly traceId: string;
  readonly receivedAt: number;
  readonly rules: readonly CompiledRule[];
  /** Called once the event's actions are done (or their run threw): process() resolves its promise. */
  readonly settled: (() => void) | undefined;
}

/** How long the actions cancelled by the shutdown deadline have to report their end. */
const CANCEL_GRACE_MS = 200;

/**
 * The target whose actions must not overlap: the pod the actions act on (namespace/name, read by the same
 * events/target.ts as the actionners, so ka.target.name of a ConfigMap is no pod), else a key of the event's own.
 */
export function targetKey(event: FalcoEvent, traceId: string): string {
  const pod = podNameOf(event);
  if (pod === undefined || pod === "") return traceId;
  return `${firstField(event, NAMESPACE_FIELDS) ?? ""}/${pod}`;
}

export class Engine {
  #ruleSet: RuleSet;
  readonly #dedup: DedupStore;
  readonly #observer: EngineObserver;
  readonly #scheduler: KeyedScheduler<EventJob>;
  #env: RunEnvironment;
  readonly #shutdown = new AbortController();
  readonly #queueSize: number;
  readonly #stallMs: number;
  #accepting = true;

  constructor(options: EngineOptions) {
    this.#ruleSet = options.ruleSet;
    this.#dedup = options.dedup;
    this.#observer = options.observer;
    this.#queueSize = options.queueSize;
    // Every action has a deadline, so a queue that has not moved for much longer than one is stuck.
    this.#stallMs = options.stallMs ?? 2 * options.actionTimeoutMs + 5000;
    this.#env = {
      clients: options.clients,
      contexts: options.contexts,
      notifications: options.notifications,
      observer: options.observer,
      log: options.log,
      actionTimeoutMs: options.actionTimeoutMs,
      shutdown: this.#shutdown.signal,
    };
    this.#scheduler = new KeyedScheduler<EventJob>({
      capacity: options.queueSize,
      concurrency: options.workers,
      onError: (err) => this.#observer.problem("an event's actions failed unexpectedly", err),
    });
  }

  get ruleSet(): RuleSet {
    return this.#ruleSet;
  }

  /**
   * Swaps the rules atomically: events already queued keep the rules they matched. `clients` (a superset of
   * the current ones) comes with rules that need a client the previous rules did not.
   */
  setRules(ruleSet: RuleSet, clients?: Clients): void {
    if (clients !== undefined) this.#env = { ...this.#env, clients };
    this.#ruleSet = ruleSet;
  }

  /** True once the drain deadline passed and the remaining actions were cancelled. */
  get cancelled(): boolean {
    return this.#shutdown.signal.aborted;
  }

  /** Ready to take events: accepting and the queue is not full. */
  readiness(): { ok: true } | { ok: false; reason: string } {
    if (!this.#accepting) return { ok: false, reason: "shutting down" };
    if (this.#scheduler.queued >= this.#queueSize) return { ok: false, reason: `queue full (${this.#queueSize} events waiting)` };
    if (this.#scheduler.queued > 0 && this.#scheduler.sinceProgressMs > this.#stallMs) {
      return {
        ok: false,
        reason: `queue stalled: ${this.#scheduler.queued} events waiting, no progress for ${Math.round(this.#scheduler.sinceProgressMs / 1000)} s`,
      };
    }
    return { ok: true };
  }

  /**
   * Takes one validated event and hands its job, if any, to the workers at once. Throws KestrelError
   * ERR_OVERLOADED when the queue is full and ERR_SHUTTING_DOWN after drain() started: the caller answers
   * 503, nothing is dropped silently.
   */
  submit(event: FalcoEvent, traceId: string, receivedAt = performance.now(), traceparent?: string): SubmitOutcome {
    const job = this.#admit({ event, traceId, receivedAt, traceparent }, 0);
    if (typeof job === "string") return job;
    this.#handOver([job]);
    return "queued";
  }

  /**
   * Takes a batch of validated events, in order, and hands the jobs of those queued to the workers together
   * once the whole batch is matched. One result per submission, in the same order: a refusal or an
   * unexpected failure is that event's result, and the others go on. The batch's events count against the
   * queue's capacity before they are handed over.
   */
  submitAll(batch: readonly Submission[]): SubmitResult[] {
    const results: SubmitResult[] = new Array(batch.length);
    const jobs: EventJob[] = [];
    for (let i = 0; i < batch.length; i++) {
      try {
        const job = this.#admit(batch[i]!, jobs.length);
        if (typeof job === "string") results[i] = job;
        else {
          jobs.push(job);
          results[i] = "queued";
        }
      } catch (error) {
        results[i] = { error };
      }
    }
    if (jobs.length > 0) this.#handOver(jobs);
    return results;
  }

  /** Matches and deduplicates one event: its job when it is to be queued. `waiting`: jobs not handed over yet. */
  #admit({ event, traceId, receivedAt, traceparent }: Submission, waiting: number): EventJob | SubmitOutcome {
    if (!this.#accepting) throw new KestrelError("ERR_SHUTTING_DOWN", "Kestrel is shutting down");
    this.#observer.eventReceived(event, traceId, traceparent, receivedAt);
    // Matched first: an event no rule wants is not recorded for deduplication (hostile floods of unique
    // events would fill the store), and the digest is computed only for the few that match.
    const rules = this.#ruleSet.match(event);
    if (rules.length === 0) {
      this.#observer.eventFinished?.(event, traceId, "unmatched");
      return "unmatched";
    }
    if (this.#scheduler.queued + waiting >= this.#queueSize) {
      this.#observer.eventFinished?.(event, traceId, "overloaded");
      throw new KestrelError("ERR_OVERLOADED", `the queue is full (${this.#queueSize} events waiting)`, { retryable: true });
    }
    // Only after the capacity check: a refused event (503) is not recorded, so its retry is not a duplicate.
    if (this.#dedup.enabled && this.#dedup.seen(dedupKey(event), Date.now())) {
      this.#observer.eventDuplicate(event, traceId);
      this.#observer.eventFinished?.(event, traceId, "duplicate");
      return "duplicate";
    }
    for (const rule of rules) this.#observer.ruleMatched(event, traceId, rule);
    return this.#job(event, traceId, receivedAt, rules, undefined);
  }

  /** The job that runs an event's matched rules, ordered by its target (targetKey). */
  #job(event: FalcoEvent, traceId: string, receivedAt: number, rules: readonly CompiledRule[], settled: EventJob["settled"]): EventJob {
    const job: EventJob = { key: targetKey(event, traceId), event, traceId, receivedAt, rules, settled, run: () => this.#runRules(job) };
    return job;
  }

  #handOver(jobs: readonly EventJob[]): void {
    for (const job of jobs) this.#scheduler.push(job); // never refused: #admit counted them against the capacity
    this.#observer.queueDepth(this.#scheduler.queued);
  }

  /**
   * Runs an event taken from the cluster's shared queue (cluster.nats_url): matched against this replica's
   * current rules, then its actions through the same per-target scheduler as submit(). Resolves once they
   * finished, so that the event is acknowledged only then; false when no rule matches any more.
   */
  process(event: FalcoEvent, traceId: string, receivedAt: number, traceparent?: string): Promise<boolean> {
    this.#observer.eventTaken?.(event, traceId, traceparent);
    const rules = this.#ruleSet.match(event);
    if (rules.length === 0) {
      this.#observer.eventFinished?.(event, traceId, "unmatched");
      return Promise.resolve(false);
    }
    for (const rule of rules) this.#observer.ruleMatched(event, traceId, rule);
    return new Promise((resolve, reject) => {
      // settled also when the run threw: the scheduler reports that.
      const job = this.#job(event, traceId, receivedAt, rules, () => resolve(true));
      // The cluster's workers take one event each, so the scheduler is never full here; if it were, the
      // event goes back to the stream rather than being dropped.
      if (!this.#scheduler.push(job)) reject(new KestrelError("ERR_OVERLOADED", "the scheduler is full", { retryable: true }));
    });
  }

  /**
   * Runs the matched rules' actions in order. Dry runs and rules without actions are reported at once, so
   * an event whose rules run nothing finishes synchronously (no promise); from the first action that
   * really runs, the rest continues asynchronously (#runRulesFrom).
   */
  #runRules(job: EventJob): Promise<void> | undefined {
    this.#observer.queueDepth(this.#scheduler.queued);
    let running: Promise<void> | undefined;
    try {
      running = this.#runRulesFrom(job, 0, 0);
    } finally {
      if (running === undefined) this.#finished(job); // done, or threw
    }
    return running?.finally(() => this.#finished(job));
  }

  #finished(job: EventJob): void {
    try {
      this.#observer.eventFinished?.(job.event, job.traceId, "handled");
    } finally {
      job.settled?.();
    }
  }

  /**
   * Talon's semantics, from action `a` of rule `r` on: an error stops the rule's remaining actions unless
   * ignore_errors; then the action's `continue` (or its actionner's default) decides; a rule with
   * `continue: false` stops the later rules.
   */
  #runRulesFrom(job: EventJob, r: number, a: number): Promise<void> | undefined {
    for (; r < job.rules.length; r++, a = 0) {
      const rule = job.rules[r]!;
      if (a === 0 && rule.actions.length === 0) this.#routeEvent(job, rule);
      for (; a < rule.actions.length; a++) {
        const action = rule.actions[a]!;
        if (!rule.dryRun) return this.#runActionThenRest(job, r, a);
        reportDryRun(this.#env, job, rule, action); // a dry run never fails: only `continue` decides
        if (!action.continueAfter) break;
      }
      if (rule.stopAfter) break;
    }
    return undefined;
  }

  async #runActionThenRest(job: EventJob, r: number, a: number): Promise<void> {
    const rule = job.rules[r]!;
    const action = rule.actions[a]!;
    const failed = await runAction(this.#env, job, rule, action);
    const ruleDone = (failed && !action.ignoreErrors) || !action.continueAfter || a + 1 === rule.actions.length;
    if (ruleDone && rule.stopAfter) return;
    await this.#runRulesFrom(job, ruleDone ? r + 1 : r, ruleDone ? 0 : a + 1);
  }

  /** A rule without actions sends the event itself to its notifiers (Kestrel as an alert router). */
  #routeEvent(job: EventJob, rule: CompiledRule): void {
    this.#env.notifications.route(rule.notifiers, {
      kind: "event",
      status: "success",
      rule: rule.name,
      action: "",
      actionner: "",
      summary: job.event.output,
      objects: {},
      event: job.event,
      traceId: job.traceId,
      time: new Date(),
    });
  }

  /**
   * Stops accepting, waits for queued and running actions up to `deadlineMs`; then cancels the running ones
   * and drops the events still waiting (their actions never start; in cluster mode they go back to the
   * stream), logged once with their number. Resolves true when everything finished in time.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    this.#accepting = false;
    if (await within(this.#scheduler.idle(), deadlineMs)) return true;
    this.#shutdown.abort();
    const dropped = this.#scheduler.clear();
    this.#observer.queueDepth(0);
    if (dropped.length > 0) {
      const actions = dropped.reduce((n, job) => n + job.rules.reduce((m, rule) => m + rule.actions.length, 0), 0);
      this.#observer.problem(
        `the shutdown deadline passed: ${dropped.length} queued event${dropped.length === 1 ? "" : "s"} dropped, ${actions} action${actions === 1 ? "" : "s"} not run`,
      );
    }
    for (const job of dropped) {
      try {
        this.#observer.eventFinished?.(job.event, job.traceId, "dropped");
      } finally {
        job.settled?.();
      }
    }
    // The cancelled actions end at once (their run races the signal): their results are reported before the
    // notifications close.
    await within(this.#scheduler.idle(), CANCEL_GRACE_MS);
    return false;
  }
}
