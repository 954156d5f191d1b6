import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEvent } from "../events/parse.ts";
import { dedupKey, MemoryDedup } from "./dedup.ts";

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
