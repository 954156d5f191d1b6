// Delivers notifications to notifiers without ever blocking the engine: each notifier has its own bounded
// queue and concurrency, a deadline per attempt, and retries with backoff and jitter for retryable
// failures only (honouring Retry-After). A full queue is counted and logged as a failure, never silent.
import { sleepUnlessAborted } from "../abort.ts";
import { errorMessage, KestrelError } from "../errors.ts";
import type { Notification, NotifierInstance } from "../plugins/types.ts";
import { type NotificationFilter, passes } from "./notify-filter.ts";
import type { EngineObserver } from "./observer.ts";

export interface DeliveryPolicy {
  /** Attempts per notification, the first included. */
  readonly attempts: number;
  readonly timeoutMs: number;
  /** First backoff; doubles each retry, with ±50% jitter, capped at maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
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

  constructor(name: string, instance: NotifierInstance, policy: DeliveryPolicy, observer: EngineObserver, signal: AbortSignal) {
    this.name = name;
    this.instance = instance;
    this.#policy = policy;
    this.#observer = observer;
    this.#signal = signal;
  }

  push(n: Notification): void {
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
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#attempt(n);
        this.#observer.notificationFinished(this.name, n, "success");
        return;
      } catch (err) {
        const retryable = err instanceof KestrelError && err.retryable;
        if (!retryable || attempt >= this.#policy.attempts || this.#signal.aborted) {
          this.#observer.notificationFinished(this.name, n, "failure", err);
          return;
        }
        await sleepUnlessAborted(this.#backoff(attempt, err), this.#signal);
      }
    }
  }

  async #attempt(n: Notification): Promise<void> {
    const signal = AbortSignal.timeout(this.#policy.timeoutMs);
    let onAbort: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(new KestrelError("ERR_TIMEOUT", `notifier "${this.name}" did not finish within ${this.#policy.timeoutMs} ms`, { retryable: true }));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.instance.send(n, signal), deadline]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  #backoff(attempt: number, err: KestrelError): number {
    if (err.retryAfterSeconds !== undefined) return Math.min(err.retryAfterSeconds * 1000, this.#policy.maxBackoffMs);
    const base = Math.min(this.#policy.backoffMs * 2 ** (attempt - 1), this.#policy.maxBackoffMs);
    return base / 2 + Math.random() * base;
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

  /** Waits for queued notifications (up to `deadlineMs`), then closes every notifier (flush). */
  async close(deadlineMs: number): Promise<void> {
    const drained = Promise.all([...this.#queues.values()].map((q) => q.idle()));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([drained, timer]);
    this.#stop.abort();
    for (const q of this.#queues.values()) {
      try {
        await q.instance.close?.();
      } catch (err) {
        this.#observer.problem(`notifier "${q.name}" failed to close: ${errorMessage(err)}`, err);
      }
    }
  }
}
