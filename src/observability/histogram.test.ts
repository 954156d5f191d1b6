import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "./histogram.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];
// Below, on and between the bounds, above all of them, and zero.
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.05, 0.1, 0.99, 1, 1.5, 300];

describe("FastHistogram", () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations, without labels", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram({ name: "h_seconds", help: "a histogram", buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: "h_seconds", help: "a histogram", buckets: BUCKETS, registers: [theirs] });
    for (const v of VALUES) {
      fast.observe(v);
      reference.observe(v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    // (through JSON: prom-client sets `exemplar: undefined` on _sum and _count, which no reader can tell from absent)
    const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON())) as unknown;
    assert.deepEqual(await json(ours), await json(theirs));
  });

  it("keeps one series per label set, also through series(), and matches prom-client with labels", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram({
      name: "d_seconds",
      help: "by actionner",
      buckets: BUCKETS,
      labelNames: ["actionner"],
      registers: [ours],
    });
    const reference = new Histogram({
      name: "d_seconds",
      help: "by actionner",
      buckets: BUCKETS,
      labelNames: ["actionner"],
      registers: [theirs],
    });
    const kept = fast.series({ actionner: "kubernetes:label" });
    VALUES.forEach((v, i) => {
      const actionner = i % 2 === 0 ? "kubernetes:label" : "kubernetes:terminate";
      if (actionner === "kubernetes:label") kept.observe(v);
      else fast.observe({ actionner }, v);
      reference.observe({ actionner }, v);
    });
    assert.equal(fast.series({ actionner: "kubernetes:label" }), kept);
    assert.equal(await ours.metrics(), await theirs.metrics());
    const text = await ours.metrics();
    assert.match(text, /d_seconds_bucket\{le="0.01",actionner="kubernetes:label"\} 2\n/);
    assert.match(text, /d_seconds_count\{actionner="kubernetes:terminate"\} 5\n/);
  });

  it("ignores a value that is not finite and starts again from zero after reset()", async () => {
    const registry = new Registry();
    const fast = new FastHistogram({ name: "r_seconds", help: "reset", buckets: BUCKETS, registers: [registry] });
    fast.observe(Number.NaN);
    fast.observe(0.5);
    assert.match(await registry.metrics(), /r_seconds_count 1\n/);
    assert.match(await registry.metrics(), /r_seconds_sum 0.5\n/);
    registry.resetMetrics();
    assert.match(await registry.metrics(), /r_seconds_count 0\n/);
    assert.throws(() => new FastHistogram({ name: "bad", help: "x", buckets: [1, 1], registers: [] }), /buckets must increase/);
  });
});
