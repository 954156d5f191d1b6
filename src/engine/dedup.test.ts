import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { messageId } from "../cluster/jetstream.ts";
import { parseEvent } from "../events/parse.ts";
import { DEDUP_MAX_ENTRIES, dedupKey, MemoryDedup } from "./dedup.ts";

const ev = (json: string) => parseEvent(json).event;

describe("dedupKey", () => {
  it("ignores the time prefix of the output, in both Falco time formats", () => {
    const a = ev('{"rule":"R","priority":"Notice","output":"12:00:00.000000001: Notice shell in nginx"}');
    const b = ev('{"rule":"R","priority":"Notice","output":"12:00:03.999999999: Notice shell in nginx"}');
    const c = ev('{"rule":"R","priority":"Notice","output":"2024-01-01T12:00:03.999999999+0000: Notice shell in nginx"}');
    assert.equal(dedupKey(a), dedupKey(b));
    assert.equal(dedupKey(a), dedupKey(c));
  });

  it("includes the rule, so the same output of two rules is not a duplicate", () => {
    const a = ev('{"rule":"Test Terminate","priority":"Critical","output":"Test"}');
    const b = ev('{"rule":"Test Label","priority":"Warning","output":"Test"}');
    assert.notEqual(dedupKey(a), dedupKey(b));
  });

  it("uses the output fields without their time fields when there is no output", () => {
    const a = ev('{"rule":"R","priority":"Notice","output_fields":{"evt.time":1,"proc.pid":7,"fd.name":"/x"}}');
    const b = ev('{"rule":"R","priority":"Notice","output_fields":{"fd.name":"/x","proc.pid":7,"evt.time":2}}');
    const c = ev('{"rule":"R","priority":"Notice","output_fields":{"fd.name":"/y","proc.pid":7,"evt.time":2}}');
    assert.equal(dedupKey(a), dedupKey(b));
    assert.notEqual(dedupKey(a), dedupKey(c));
  });
});

describe("MemoryDedup", () => {
  it("suppresses repeats inside the window, measured from the first sighting", () => {
    const d = new MemoryDedup(5);
    assert.equal(d.seen("k", 0), false);
    assert.equal(d.seen("k", 4999), true);
    assert.equal(d.seen("k", 5000), false); // window over: acts again
    assert.equal(d.seen("k", 9000), true);
  });

  it("is disabled by a zero window and bounded in size", () => {
    const off = new MemoryDedup(0);
    assert.equal(off.seen("k", 0), false);
    assert.equal(off.seen("k", 1), false);
    const small = new MemoryDedup(60, 2);
    small.seen("a", 0);
    small.seen("b", 0);
    small.seen("c", 0);
    assert.equal(small.size, 2);
    assert.equal(small.seen("a", 1), false); // evicted first
  });
});

describe("dedupKey: a fixed-size digest", () => {
  it("is 43 base64url characters whatever the event holds, and tells large events apart", () => {
    const huge = (c: string) =>
      ev(JSON.stringify({ rule: "R", priority: "Notice", output: `12:00:00.000000001: Notice ${c.repeat(1 << 20)}` }));
    const fields = ev(
      JSON.stringify({
        rule: "R",
        priority: "Notice",
        output_fields: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`f${i}`, "y".repeat(60_000)])),
      }),
    );
    const keys = [dedupKey(huge("a")), dedupKey(huge("b")), dedupKey(fields)];
    for (const k of keys) assert.match(k, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(new Set(keys).size, 3);
  });

  it("is a SHA-256 digest: the same on every replica, with nothing left to chance", () => {
    const e = ev('{"rule":"R","priority":"Notice","output":"12:00:00.000000001: Notice shell in nginx"}');
    assert.equal(dedupKey(e), createHash("sha256").update("1:R\u0000shell in nginx").digest("base64url"));
  });

  it("cannot be made to collide by moving text from one part to the next", () => {
    const split = (rule: string, output: string) => dedupKey(ev(JSON.stringify({ rule, priority: "Notice", output })));
    assert.notEqual(split("a\u0000b", "c"), split("a", "b\u0000c"));
    const fields = (f: Record<string, string>) => dedupKey(ev(JSON.stringify({ rule: "R", priority: "Notice", output_fields: f })));
    assert.notEqual(fields({ a: "1\u0001b=2" }), fields({ a: "1", b: "2" }));
    assert.notEqual(fields({ "a=b": "c" }), fields({ a: "b=c" }));
  });

  it("is the JetStream message id as is; a longer key is digested", () => {
    const key = dedupKey(ev('{"rule":"R","priority":"Notice","output":"x"}'));
    assert.equal(messageId(key), key);
    assert.match(messageId("k".repeat(1 << 20)), /^[A-Za-z0-9_-]{43}$/);
  });
});

describe("MemoryDedup: bounded while idle", () => {
  it("forgets expired entries without a new sighting", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    const d = new MemoryDedup(0.05);
    for (let i = 0; i < 100; i++) d.seen(`k${i}`, Date.now());
    assert.equal(d.size, 100);
    t.mock.timers.tick(200);
    assert.equal(d.size, 0);
    // And it keeps doing so for later entries.
    d.seen("again", Date.now());
    t.mock.timers.tick(200);
    assert.equal(d.size, 0);
    d.close();
  });

  it("holds at most its entry limit, the default included", () => {
    const d = new MemoryDedup(60);
    for (let i = 0; i < DEDUP_MAX_ENTRIES + 10; i++) d.seen(`k${i}`, 0);
    assert.equal(d.size, DEDUP_MAX_ENTRIES);
    d.close();
  });
});
