// A bounded work queue with per-key ordering: jobs with the same key (the same pod) run one at a time in
// arrival order; jobs with different keys run concurrently up to `concurrency`. Keys take turns, so one
// busy pod cannot starve the others. `push` refuses work beyond `capacity` instead of dropping it.
import { performance } from "node:perf_hooks";

export interface Job {
  readonly key: string;
  /** Runs the job: a promise while it works, nothing when it finished synchronously. */
  run(): Promise<void> | undefined;
}

export class KeyedScheduler<J extends Job> {
  readonly #capacity: number;
  readonly #concurrency: number;
  readonly #lanes = new Map<string, J[]>();
  /** Keys with waiting jobs and no running job, in turn order. */
  readonly #ready: string[] = [];
  #readyHead = 0;
  #queued = 0;
  #running = 0;
  /** performance.now() of the last job start or end: with work waiting, a queue that stops moving is stalled. */
  #lastProgress = performance.now();
  #idleWaiters: (() => void)[] = [];
  #pumping = false;
  readonly #onError: (err: unknown, job: J) => void;

  constructor(options: { capacity: number; concurrency: number; onError: (err: unknown, job: J) => void }) {
    this.#capacity = options.capacity;
    this.#concurrency = options.concurrency;
    this.#onError = options.onError;
  }

  /** Jobs waiting (not yet started). */
  get queued(): number {
    return this.#queued;
  }

  /** Milliseconds since a job last started or finished. */
  get sinceProgressMs(): number {
    return performance.now() - this.#lastProgress;
  }

  /** True when push() would refuse a job. */
  get full(): boolean {
    return this.#queued >= this.#capacity;
  }

  get running(): number {
    return this.#running;
  }

  /** Adds a job; false when the queue is full. */
  push(job: J): boolean {
    if (this.#queued >= this.#capacity) return false;
    this.#queued++;
    const lane = this.#lanes.get(job.key);
    if (lane === undefined) {
      this.#lanes.set(job.key, [job]);
      this.#ready.push(job.key);
      this.#pump();
    } else {
      lane.push(job);
    }
    return true;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queued === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Removes every waiting job (the running ones go on) and returns them: the shutdown deadline drops them. */
  clear(): J[] {
    const waiting = [...this.#lanes.values()].flat();
    // A ready key has no running job: its lane goes. A running key keeps its (now empty) lane until its job ends.
    for (let i = this.#readyHead; i < this.#ready.length; i++) this.#lanes.delete(this.#ready[i]!);
    for (const lane of this.#lanes.values()) lane.length = 0;
    this.#ready.length = 0;
    this.#readyHead = 0;
    this.#queued = 0;
    if (this.#running === 0) for (const w of this.#idleWaiters.splice(0)) w();
    return waiting;
  }

  #pump(): void {
    // A job that finishes synchronously calls #finished, and so #pump, from inside this loop: the loop
    // in progress takes the next job instead of a nested one.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length) {
        const key = this.#ready[this.#readyHead++]!;
        if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
          this.#ready.splice(0, this.#readyHead);
          this.#readyHead = 0;
        }
        const lane = this.#lanes.get(key)!;
        const job = lane.shift()!;
        this.#queued--;
        this.#running++;
        this.#lastProgress = performance.now();
        this.#start(key, job);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #start(key: string, job: J): void {
    let running: Promise<void> | undefined;
    try {
      running = job.run();
    } catch (err) {
      this.#onError(err, job);
    }
    if (running === undefined) {
      this.#finished(key);
      return;
    }
    running.then(
      () => this.#finished(key, true),
      (err: unknown) => {
        this.#onError(err, job);
        this.#finished(key, true);
      },
    );
  }

  #finished(key: string, later = false): void {
    this.#running--;
    if (later) this.#lastProgress = performance.now(); // a job done at once made its progress at its start
    const lane = this.#lanes.get(key)!;
    if (lane.length === 0) this.#lanes.delete(key);
    else this.#ready.push(key); // back of the line: other keys get their turn first
    this.#pump();
    if (this.#queued === 0 && this.#running === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
