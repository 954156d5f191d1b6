import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { PRIORITIES } from "../events/priority.ts";
import { shellCounted } from "./__fixtures__/metrics.ts";
import { EVENT_SERIES_LIMIT, FALCO_RULE_LABEL_LIMIT, Metrics, SOURCE_LABEL_LIMIT } from "./metrics.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function samples(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}{`));
}

describe("Metrics", () => {
  it("exposes the counted values with their labels", async () => {
    const { m, rule, action } = shellCounted();
    m.countAction(rule, action, "failure");
    m.countDuplicate();
    m.setQueueDepth(3);
    const text = await m.exposition();
    assert.match(text, /^kestrel_events_total\{falco_rule="Terminal shell in container",priority="Notice",source="syscall"\} 2$/m);
    assert.match(text, /^kestrel_matches_total\{rule="Shell",falco_rule="Terminal shell in container"\} 1$/m);
    assert.match(text, /^kestrel_actions_total\{rule="Shell",action="Label",actionner="kubernetes:label",status="failure"\} 2$/m);
    assert.match(text, /^kestrel_duplicates_total 1$/m);
    assert.match(text, /^kestrel_queue_depth 3$/m);
    // Scraping twice does not double anything.
    assert.equal(await m.exposition(), text);
  });

  it("observes the histograms, leaving out a value that is not finite", async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeEventToAction(Number.NaN);
    m.observeEventToAction(0.5);
    m.observeActionDuration("kubernetes:label", Number.POSITIVE_INFINITY);
    m.observeActionDuration("kubernetes:label", 0.003);
    const text = await m.exposition();
    assert.match(text, /^kestrel_event_to_action_seconds_count 1$/m);
    assert.match(text, /^kestrel_event_to_action_seconds_sum 0.5$/m);
    assert.match(text, /^kestrel_action_duration_seconds_bucket\{le="0.005",actionner="kubernetes:label"\} 1$/m);
    assert.match(text, /^kestrel_action_duration_seconds_count\{actionner="kubernetes:label"\} 1$/m);
  });

  it("counts one Falco rule name by source and priority, the first source and the others alike", async () => {
    const m = new Metrics({ defaultMetrics: false });
    const count = (priority: string, source: string): void => m.countEvent("Same name", PRIORITIES.indexOf(priority as never), source);
    count("Notice", "syscall");
    count("Notice", "k8s_audit");
    count("Warning", "k8s_audit");
    count("Notice", "syscall");
    count("Warning", "syscall");
    count("Notice", "k8s_audit");
    const lines = samples(await m.exposition(), "kestrel_events_total").sort();
    assert.deepEqual(lines, [
      'kestrel_events_total{falco_rule="Same name",priority="Notice",source="k8s_audit"} 2',
      'kestrel_events_total{falco_rule="Same name",priority="Notice",source="syscall"} 2',
      'kestrel_events_total{falco_rule="Same name",priority="Warning",source="k8s_audit"} 1',
      'kestrel_events_total{falco_rule="Same name",priority="Warning",source="syscall"} 1',
    ]);
  });

  it("bounds the label values that come from events", async () => {
    const m = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < FALCO_RULE_LABEL_LIMIT + 100; i++)
      m.countEvent(`rule ${i}`, PRIORITIES.indexOf("Warning"), `source ${i % (SOURCE_LABEL_LIMIT + 10)}`);
    const lines = samples(await m.exposition(), "kestrel_events_total");
    const rules = new Set(lines.map((l) => /falco_rule="([^"]*)"/.exec(l)![1]));
    const sources = new Set(lines.map((l) => /source="([^"]*)"/.exec(l)![1]));
    assert.equal(rules.size, FALCO_RULE_LABEL_LIMIT + 1);
    assert.ok(rules.has("other"));
    assert.ok(sources.size <= SOURCE_LABEL_LIMIT + 1);
    const total = lines.reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    assert.equal(total, FALCO_RULE_LABEL_LIMIT + 100);
  });

  it("takes a label value from an event only when short and printable, else other", async () => {
    const m = new Metrics({ defaultMetrics: false });
    for (const source of ["s".repeat(129), "a\nb", "tab\there", "lone \ud800 surrogate", "del\u007f"]) m.countEvent(source, 4, source);
    m.countEvent("plugin rule ✓", 4, "k8s_audit");
    const lines = samples(await m.exposition(), "kestrel_events_total").sort();
    assert.deepEqual(lines, [
      'kestrel_events_total{falco_rule="other",priority="Warning",source="other"} 5',
      'kestrel_events_total{falco_rule="plugin rule ✓",priority="Warning",source="k8s_audit"} 1',
    ]);
  });

  it("keeps nothing of distinct huge sources and rule names", async () => {
    const m = new Metrics({ defaultMetrics: false });
    // A new flat string each time, as JSON.parse gives: 64 KiB each, 250 MB if kept.
    const huge = (i: number) => `${i}${Buffer.alloc(64 * 1024, 115).toString("latin1")}`;
    m.countEvent("warm", 4, "syscall");
    const before = heapAfterGc();
    for (let i = 0; i < 2000; i++) {
      m.countEvent(`rule ${i % 3}`, 4, huge(i));
      m.countEvent(huge(i), 4, huge(i));
      m.countEvent(huge(i), 4, "syscall");
    }
    const grown = heapAfterGc() - before;
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB`);
    // Read after the measure, so that the counters are alive while the heap is measured.
    assert.match(await m.exposition(), /falco_rule="other",priority="Warning",source="syscall"\} 2000$/m);
  });

  it("caps the series of kestrel_events_total, counting the rest under other", async () => {
    const m = new Metrics({ defaultMetrics: false });
    let n = 0;
    for (let r = 0; r < 600; r++) for (let s = 0; s < 12; s++, n++) m.countEvent(`rule ${r}`, r % 8, `source ${s}`);
    const lines = samples(await m.exposition(), "kestrel_events_total");
    assert.ok(lines.length <= EVENT_SERIES_LIMIT + 8, `${lines.length} series`);
    assert.equal(
      lines.reduce((t, l) => t + Number(l.split(" ").pop()), 0),
      n,
    );
  });
});
