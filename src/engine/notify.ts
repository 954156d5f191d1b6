// Delivers notifications to notifiers without ever blocking the engine: each notifier has its own bounded
// queue and concurrency, a deadline per attempt, and retries with backoff and jitter for retryable
// failures only (honouring Retry-After). A full queue is counted and logged as a failure, never silent.
// At shutdown the queues drain until the one shutdown deadline; then the sends in progress are cancelled and
// whatever is left is dropped: each counted as a failed notification, all of them logged in one line.
import { within } from "../abort.ts";
import { type RetryPolicy, withRetry } from "../clients/retry.ts";
import { type NotificationFilter, passes } from "../config/delivery.ts";
import { errorMessage, KestrelError } from "../errors.ts";
import type { Notification, NotifierInstance } from "../plugins/types.ts";
import type { EngineObserver } from "./observer.ts";

/** The retries of each notification (attempts, backoff: see RetryPolicy), and the queue around them. */
export interface DeliveryPolicy extends RetryPolicy {
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly queueSize: number;
}

export const defaultDeliveryPolicy: DeliveryPolicy = {
  attempts: 3,
  timeoutMs: 10_000,
  backoffMs: 500,
  maxBackoffMs: 30_000,
  concurrency: 4,
  queueSize: 1000,
};

/** What a notifier's close (flush) may take when the deadline has (almost) passed; also the time cancelled sends have to settle. */
const CLOSE_GRACE_MS = 300;

class NotifierQueue {
  readonly name: string;
  readonly instance: NotifierInstance;
  readonly #policy: DeliveryPolicy;
  readonly #observer: EngineObserver;
  readonly #signal: AbortSignal;
  readonly #waiting: Notification[] = [];
  #running = 0;
  #idle: (() => void)[] = [];
  /** Notifications refused by the full queue since the last one logged, and when that was. */
  #refused = 0;
  #lastRefusalLog = Number.NEGATIVE_INFINITY;
  /** Notifications given up at shutdown (waiting, cut mid-send, or pushed after the deadline). */
  dropped = 0;

  constructor(name: string, instance: NotifierInstance, policy: DeliveryPolicy, observer: EngineObserver, signal: AbortSignal) {
    this.name = name;
    this.instance = instance;
    this.#policy = policy;
    this.#observer = observer;
    this.#signal = signal;
  }

  push(n: Notification): void {
    if (this.#signal.aborted) {
      this.#drop(n); // produced after the deadline (an action cancelled by it): nothing more is sent
      return;
    }
    if (this.#waiting.length >= this.#policy.queueSize) {
      // Every refusal is counted; under a flood only one a second is logged, with how many came before it.
      const now = performance.now();
      this.#refused++;
      if (now - this.#lastRefusalLog < 1000) {
        this.#observer.notificationFinished(this.name, n, "failure", undefined, true);
        return;
      }
      const more = this.#refused - 1;
      this.#refused = 0;
      this.#lastRefusalLog = now;
      const err = new KestrelError(
        "ERR_NOTIFY",
        `notifier "${this.name}" has ${this.#policy.queueSize} notifications waiting${more > 0 ? ` (${more} more refused since the last report)` : ""}`,
      );
      this.#observer.notificationFinished(this.name, n, "failure", err);
      return;
    }
    this.#waiting.push(n);
    this.#pump();
  }

  idle(): Promise<void> {
    if (this.#waiting.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** The deadline passed (the signal aborted): the waiting notifications are dropped, not sent. */
  abandon(): void {
    for (const n of this.#waiting.splice(0)) this.#drop(n);
    if (this.#running === 0) for (const w of this.#idle.splice(0)) w();
  }

  #drop(n: Notification): void {
    this.dropped++;
    this.#observer.notificationFinished(this.name, n, "failure", undefined, true);
  }

  #pump(): void {
    while (this.#running < this.#policy.concurrency && this.#waiting.length > 0) {
      const n = this.#waiting.shift()!;
      this.#running++;
      void this.#deliver(n).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#waiting.length === 0) {
          for (const w of this.#idle.splice(0)) w();
        }
      });
    }
  }

  async #deliver(n: Notification): Promise<void> {
    try {
      // The shutdown signal ends a backoff wait at once: no retry is started after the deadline.
      await withRetry(() => this.#attempt(n), this.#policy, this.#signal);
      this.#observer.notificationFinished(this.name, n, "success");
    } catch (err) {
      if (this.#signal.aborted)
        this.#drop(n); // cut by the shutdown deadline: counted with the others, logged once
      else this.#observer.notificationFinished(this.name, n, "failure", err);
    }
  }

  async #attempt(n: Notification): Promise<void> {
    // The shutdown deadline cuts a send in progress too: a slow notifier cannot hold the exit.
    if (this.#signal.aborted) throw new KestrelError("ERR_SHUTTING_DOWN", "the shutdown deadline passed");
    const signal = AbortSignal.any([AbortSignal.timeout(this.#policy.timeoutMs), this.#signal]);
    let onAbort: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(
          new KestrelError("ERR_TIMEOUT", `notifier "${this.name}" did not finish within ${this.#policy.timeoutMs} ms`, {
            retryable: true,
          }),
        );
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.instance.send(n, signal), deadline]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }
}

export class Notifications {
  readonly #queues = new Map<string, NotifierQueue>();
  readonly #defaults: readonly string[];
  readonly #observer: EngineObserver;
  readonly #filters: Map<string, NotificationFilter>;
  readonly #policy: DeliveryPolicy;
  readonly #stop = new AbortController();

  constructor(options: {
    instances: ReadonlyMap<string, NotifierInstance>;
    defaults: readonly string[];
    observer: EngineObserver;
    policy?: DeliveryPolicy;
    /** Per notifier: min_priority / on_status (none: everything). */
    filters?: ReadonlyMap<string, NotificationFilter>;
  }) {
    this.#defaults = options.defaults;
    this.#filters = new Map(options.filters ?? []);
    this.#observer = options.observer;
    this.#policy = options.policy ?? defaultDeliveryPolicy;
    for (const [name, instance] of options.instances) this.add(name, instance);
  }

  /** The notifiers that have a queue. */
  get names(): ReadonlySet<string> {
    return new Set(this.#queues.keys());
  }

  /** Adds a notifier (one that reloaded rules name for the first time). */
  add(name: string, instance: NotifierInstance, filter?: NotificationFilter): void {
    if (this.#queues.has(name)) throw new KestrelError("ERR_CONFIG_INVALID", `notifier "${name}" exists already`);
    this.#queues.set(name, new NotifierQueue(name, instance, this.#policy, this.#observer, this.#stop.signal));
    if (filter !== undefined) this.#filters.set(name, filter);
  }

  /** Sends to the default notifiers plus the rule's own (each once). Never throws, never waits. */
  notify(ruleNotifiers: readonly string[], n: Notification): void {
    for (const name of this.#defaults) this.#send(name, n);
    for (const name of ruleNotifiers) if (!this.#defaults.includes(name)) this.#send(name, n);
  }

  /** Sends to exactly these notifiers (a rule routing its events; the defaults are for results). */
  route(notifiers: readonly string[], n: Notification): void {
    for (const name of new Set(notifiers)) this.#send(name, n);
  }

  #send(name: string, n: Notification): void {
    const q = this.#queues.get(name);
    if (q === undefined) {
      this.#observer.notificationFinished(name, n, "failure", new KestrelError("ERR_NOTIFY", `notifier "${name}" is not configured`));
      return;
    }
    const filter = this.#filters.get(name);
    if (filter !== undefined && !passes(filter, n)) return; // the notifier's own choice, not a failure
    q.push(n);
  }

  /**
   * Waits for queued notifications up to `deadlineMs`; then cancels the sends in progress and drops what is
   * left (counted, logged once), and closes every notifier (flush), each close given at most the time left
   * or CLOSE_GRACE_MS. Resolves with the number of notifications dropped.
   */
  async close(deadlineMs: number): Promise<number> {
    const end = performance.now() + deadlineMs;
    const queues = [...this.#queues.values()];
    const drained = Promise.all(queues.map((q) => q.idle()));
    if (!(await within(drained, deadlineMs))) {
      this.#stop.abort();
      for (const q of queues) q.abandon();
      // The cancelled sends settle at once (their attempt races the signal); they are counted as dropped.
      await within(Promise.all(queues.map((q) => q.idle())), CLOSE_GRACE_MS);
    }
    this.#stop.abort(); // no retry waits, no late sends
    const dropped = queues.filter((q) => q.dropped > 0);
    const total = dropped.reduce((sum, q) => sum + q.dropped, 0);
    if (total > 0) {
      const by = dropped.map((q) => `${q.name}: ${q.dropped}`).join(", ");
      this.#observer.problem(`the shutdown deadline passed: ${total} notification${total === 1 ? "" : "s"} dropped, not delivered (${by})`);
    }
    await Promise.all(
      queues.map(async (q) => {
        try {
          const closed = within(Promise.resolve(q.instance.close?.()), Math.max(end - performance.now(), CLOSE_GRACE_MS));
          if (!(await closed))
            this.#observer.problem(`notifier "${q.name}" did not finish closing (flushing) before the shutdown deadline`);
        } catch (err) {
          this.#observer.problem(`notifier "${q.name}" failed to close: ${errorMessage(err)}`, err);
        }
      }),
    );
    return total;
  }
}
