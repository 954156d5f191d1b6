// Requests whose bodies arrive in the same event-loop turn are processed together at the end of that turn
// (setImmediate runs right after the poll phase that read them), or at once when `limit` are waiting.
// Under load this is what makes the intake cheap: node:http reads every ready socket in a row, then the
// events are validated, matched and answered in a row, and the answers leave together. Answering each
// request inside its own read callback instead woke the client once per answer and had the server poll
// again for every few requests: the batched intake used 11 % less CPU per event under the benchmark's
// load (bench/README.md, "Where the time goes"). When requests arrive one at a time the batch holds one,
// and the only delay is one setImmediate hop.
//
// Items are kept in parallel arrays, two sets used in turn, so that a turn allocates nothing per request
// and an item pushed while a batch is being processed waits for the next batch instead of being lost.
export interface TurnBatchOptions<A, B> {
  /** Items waiting at most before the batch is processed without waiting for the end of the turn. */
  limit: number;
  /** Processes one item; `receivedAt` is the time it was pushed (performance.now()). */
  handle: (a: A, b: B, receivedAt: number) => void;
  /** `handle` threw: the item is answered here; the rest of the batch goes on. */
  onError: (err: unknown, a: A, b: B) => void;
  /** After each batch (the intake hands the batch's valid events to the engine together). */
  after?: (() => void) | undefined;
}

export class TurnBatch<A, B> {
  #as: A[] = [];
  #bs: B[] = [];
  #times: number[] = [];
  #spareAs: A[] = [];
  #spareBs: B[] = [];
  #spareTimes: number[] = [];
  #scheduled = false;
  #flushing = false;
  readonly #options: TurnBatchOptions<A, B>;
  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(options: TurnBatchOptions<A, B>) {
    this.#options = options;
  }

  /** Items waiting for the end of the turn. */
  get size(): number {
    return this.#as.length;
  }

  push(a: A, b: B, receivedAt: number): void {
    this.#as.push(a);
    this.#bs.push(b);
    this.#times.push(receivedAt);
    if (this.#as.length >= this.#options.limit && !this.#flushing) this.flush();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#endOfTurn);
  }

  /** Processes the waiting items now, in the order they were pushed. */
  flush(): void {
    const as = this.#as;
    const n = as.length;
    if (n === 0 || this.#flushing) return;
    this.#flushing = true;
    const bs = this.#bs;
    const times = this.#times;
    this.#as = this.#spareAs;
    this.#bs = this.#spareBs;
    this.#times = this.#spareTimes;
    const { handle, onError } = this.#options;
    for (let i = 0; i < n; i++) {
      try {
        handle(as[i]!, bs[i]!, times[i]!);
      } catch (err) {
        try {
          onError(err, as[i]!, bs[i]!);
        } catch {
          // The error path itself failed: nothing more can be done for this item, the others go on.
        }
      }
    }
    as.length = 0;
    bs.length = 0;
    times.length = 0;
    this.#spareAs = as;
    this.#spareBs = bs;
    this.#spareTimes = times;
    this.#flushing = false;
    // Pushed by a handler meanwhile (not by the intake, whose handlers only answer): the next batch.
    if (this.#as.length > 0) this.#schedule();
    this.#options.after?.();
  }
}
