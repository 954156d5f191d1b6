// A Prometheus histogram whose observation is a bucket search and three increments on numbers it owns.
// prom-client's Histogram.observe() builds a label object, validates and hashes it, and turns the bucket
// bound into a property name on every call: for `kestrel_event_to_action_seconds`, observed once per
// dispatched action, that was about 1 % of the server's CPU under load. This class is registered in
// prom-client's registry as a metric of its own and hands it the same values as prom-client's histogram
// (cumulative `_bucket` series with `le`, `_sum`, `_count`) when it is scraped.
import type { Metric, Registry } from "prom-client";

/** One sample as prom-client's registry takes it from a metric's get(). */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
  /** prom-client's buckets carry one (null without exemplars); kept so that getMetricsAsJSON() is the same. */
  exemplar?: null;
}

/** One label set's buckets: keep it (series()) and observe into it on a hot path. */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: Float64Array;
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last one is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: Float64Array) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return; // a clock going backwards must not poison the sum
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export interface FastHistogramOptions<L extends string> {
  name: string;
  help: string;
  /** Upper bounds, increasing. */
  buckets: readonly number[];
  labelNames?: readonly L[];
  registers: readonly Registry[];
}

export class FastHistogram<L extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  readonly #labelNames: readonly L[];
  readonly #bounds: Float64Array;
  /** By the label values joined with NUL: only series() and observe(labels, …) look here. */
  readonly #series = new Map<string, HistogramSeries>();
  /** The series without labels, for a histogram that has none. */
  readonly #unlabelled: HistogramSeries;

  constructor(options: FastHistogramOptions<L>) {
    for (let i = 1; i < options.buckets.length; i++) {
      if (!(options.buckets[i]! > options.buckets[i - 1]!)) throw new Error(`${options.name}: buckets must increase`);
    }
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames ?? [];
    this.#bounds = Float64Array.from(options.buckets);
    this.#unlabelled = new HistogramSeries({}, this.#bounds);
    // prom-client's types list its own four metric classes; its registry only calls name, get() and reset().
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of a label set (created on first use). */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    if (this.#labelNames.length === 0) return this.#unlabelled;
    const key = this.#labelNames.map((n) => labels[n]).join("\u0000");
    let s = this.#series.get(key);
    if (s === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.#labelNames) own[n] = labels[n];
      s = new HistogramSeries(own, this.#bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  /** observe(value) without labels, observe(labels, value) with them. */
  observe(labelsOrValue: Readonly<Record<L, string>> | number, value?: number): void {
    if (typeof labelsOrValue === "number") this.#unlabelled.observe(labelsOrValue);
    else this.series(labelsOrValue).observe(value!);
  }

  reset(): void {
    this.#series.clear();
    this.#unlabelled.counts.fill(0);
    this.#unlabelled.sum = 0;
    this.#unlabelled.count = 0;
  }

  /** What prom-client's registry formats (text exposition) or returns (getMetricsAsJSON). */
  async get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] }> {
    const values: Sample[] = [];
    const all = this.#labelNames.length === 0 ? [this.#unlabelled] : this.#series.values();
    for (const s of all) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.#bounds[i]!, ...s.labels },
          value: cumulative,
          exemplar: null,
        });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...s.labels }, value: s.count, exemplar: null });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
