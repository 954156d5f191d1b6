import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newTraceId, parseTraceparent, traceIdFrom } from "./trace-context.ts";

describe("trace ids", () => {
  it("are 32 lower-case hex digits, distinct across many refills of the random pool", () => {
    const seen = new Set<string>();
    const digits = new Array<number>(16).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const id = newTraceId();
      assert.match(id, /^[0-9a-f]{32}$/);
      seen.add(id);
      for (const c of id) digits[Number.parseInt(c, 16)]!++;
    }
    assert.equal(seen.size, 10_000);
    // Random digits: each of the 16 appears about 20,000 times in 320,000 (± 140, one standard deviation).
    for (const n of digits) assert.ok(n > 18_000 && n < 22_000, `digit count ${n}`);
  });

  it("continue a valid traceparent and start anew otherwise", () => {
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert.equal(traceIdFrom(`00-${id}-00f067aa0ba902b7-01`), id);
    assert.equal(traceIdFrom(` 00-${id.toUpperCase()}-00f067aa0ba902b7-01 `), id);
    for (const bad of [undefined, "", "junk", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, ["a", "b"]]) {
      const fresh = traceIdFrom(bad as string | string[] | undefined);
      assert.match(fresh, /^[0-9a-f]{32}$/);
      assert.notEqual(fresh, id);
    }
  });

  it("parse the parts of a traceparent, refusing the invalid ones", () => {
    assert.deepEqual(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      flags: 1,
    });
    assert.equal(parseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), undefined);
    assert.equal(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), undefined);
    assert.equal(parseTraceparent(undefined), undefined);
  });
});
