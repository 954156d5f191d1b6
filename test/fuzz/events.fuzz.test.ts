// Fuzzing the event parser (fast-check): whatever the body, parseEvent returns a valid event or throws an
// EventError with a message (and the field, when one is to blame) — never another error, never a hang. The
// same through the running intake: 200 or 400 with {error}, never 500.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { EVENT_LIMITS, EventError, parseEvent } from "../../src/events/parse.ts";
import { PRIORITIES } from "../../src/events/priority.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";

function outcome(body: string): "event" | "rejected" {
  try {
    const { event } = parseEvent(body);
    assert.equal(typeof event.rule, "string");
    assert.ok(PRIORITIES.includes(event.priority as (typeof PRIORITIES)[number]));
    assert.equal(typeof event.output, "string");
    assert.equal(typeof event.outputFields, "object");
    return "event";
  } catch (err) {
    assert.ok(err instanceof EventError, `not an EventError: ${String(err)}`);
    assert.ok(err.message.length > 0);
    return "rejected";
  }
}

/** A valid alert with some keys replaced by arbitrary JSON values, removed, or added. */
const mutatedEvent = fc
  .record({
    base: fc.constantFrom(
      falcoEvent(),
      falcoEvent({ priority: "Critical", tags: [] }),
      falcoEvent({ fields: { "evt.time": 1735573264268296715n.toString() } }),
    ),
    replace: fc.dictionary(
      fc.constantFrom("rule", "priority", "output", "output_fields", "time", "source", "tags", "hostname", "uuid", "context", "Rule"),
      fc.jsonValue(),
      { maxKeys: 3 },
    ),
    remove: fc.subarray(["rule", "priority", "output", "output_fields", "time", "source", "tags"]),
  })
  .map(({ base, replace, remove }) => {
    const o = JSON.parse(base) as Record<string, unknown>;
    for (const k of remove) delete o[k];
    return JSON.stringify({ ...o, ...replace });
  });

describe("event parser fuzzing", () => {
  it("never fails other than with an EventError, on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (s) => void outcome(s)),
      { numRuns: 3000 },
    );
  });

  it("never fails other than with an EventError, on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => void outcome(JSON.stringify(v) ?? "null")),
      { numRuns: 3000 },
    );
  });

  it("accepts or rejects mutated Falco alerts cleanly, naming the field at fault", () => {
    fc.assert(
      fc.property(mutatedEvent, (body) => {
        try {
          parseEvent(body);
        } catch (err) {
          assert.ok(err instanceof EventError);
          const keys = Object.keys(JSON.parse(body) as object);
          // A missing or wrong required field is named; `output` stands for "neither output nor output_fields".
          if (err.field !== undefined)
            assert.match(
              err.field,
              /^(rule|priority|output|output_fields|time|source|hostname|uuid|message|tags(\[\d+\])?)$/,
              `${err.field} of ${keys}`,
            );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps big integers exact whatever their neighbours", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
        (n, extra) => {
          const body = `{"rule":"r","priority":"Notice","output":"o","output_fields":${JSON.stringify({ ...extra, "evt.time": 0 }).replace('"evt.time":0', `"evt.time":${n}`)}}`;
          const { event } = parseEvent(body);
          assert.equal(event.outputFields["evt.time"], n);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("has no catastrophic backtracking in its patterns (time and output prefixes)", () => {
    const hostile = [
      `{"rule":"r","priority":"Notice","output":"${"00:00:00.".repeat(20000)}","time":"${"2024-01-01T".repeat(5000)}"}`,
      `{"rule":"r","priority":"Notice","output":"${"1".repeat(100000)}: Critical x","time":"2024-01-01T00:00:00.${"9".repeat(50000)}Z"}`,
      `{"rule":"r","priority":"Notice","output":"2024-01-01T00:00:00${"+".repeat(50000)}"}`,
    ];
    for (const body of hostile) {
      const started = performance.now();
      outcome(body);
      assert.ok(performance.now() - started < 250, `${(performance.now() - started).toFixed(0)} ms`);
    }
  });
});

/** A body whose output_fields holds one value nested `depth` levels below the fields, `width` fields and one of `length` characters. */
const hostileShape = fc.record({
  depth: fc.integer({ min: 0, max: 3 * EVENT_LIMITS.depth }),
  width: fc.integer({ min: 0, max: EVENT_LIMITS.outputFields + 8 }),
  length: fc.integer({ min: EVENT_LIMITS.fieldLength - 4, max: EVENT_LIMITS.fieldLength + 4 }),
  open: fc.constantFrom("[", '{"k":'),
  big: fc.boolean(),
});

function shapeBody(s: { depth: number; width: number; length: number; open: string; big: boolean }): string {
  const close = s.open === "[" ? "]" : "}";
  const fields: string[] = [`"nested":${s.open.repeat(s.depth)}${s.big ? "9007199254740993" : "1"}${close.repeat(s.depth)}`];
  for (let i = 1; i < s.width; i++) fields.push(`"f${i}":${i}`);
  fields.push(`"long":"${"x".repeat(s.length)}"`);
  return `{"rule":"r","priority":"Notice","output":"o","output_fields":{${fields.join(",")}}}`;
}

describe("event shape limits fuzzing", () => {
  it("accepts a shape within every limit and refuses any other with the limit named, never a stack overflow", () => {
    fc.assert(
      fc.property(hostileShape, (s) => {
        // The body is level 1, output_fields 2, the nested value 3 and below.
        const depthOk = s.depth === 0 || s.depth + 2 <= EVENT_LIMITS.depth;
        const widthOk = Math.max(s.width, 1) + 1 <= EVENT_LIMITS.outputFields;
        const lengthOk = s.length <= EVENT_LIMITS.fieldLength;
        const body = shapeBody(s);
        if (depthOk && widthOk && lengthOk) {
          const { event } = parseEvent(body);
          // Reading the fields (the exact re-parse when a big integer is nested) stays within the stack.
          assert.equal(typeof event.outputFields["nested"], s.depth === 0 ? (s.big ? "bigint" : "number") : "object");
          return;
        }
        assert.throws(
          () => parseEvent(body),
          (err: unknown) =>
            err instanceof EventError &&
            err.field === "output_fields" &&
            /\(limit: (nesting depth|number of output_fields|field length)\)$/.test(err.message),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe("event intake fuzzing through the server", () => {
  let kestrel: RunningKestrel;
  before(async () => {
    kestrel = await startKestrel({
      rules: `- rule: Any\n  match: {}\n  dry_run: true\n  actions:\n    - action: a\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`,
      config: "log_level: error\n",
    });
  });
  after(async () => {
    await kestrel.close();
  });

  it("answers 200 or 400 with a JSON error, never 500, and the server stays up", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          mutatedEvent,
          fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
        ),
        async (body) => {
          const res = await kestrel.post(body);
          const answer = (await res.json()) as { error?: string; result?: string };
          assert.ok(res.status === 200 || res.status === 400, `${res.status} for ${body}`);
          if (res.status === 400) assert.ok(typeof answer.error === "string" && answer.error.length > 0);
          assert.equal(res.status === 200, outcome(body) === "event", "the server agrees with the parser");
        },
      ),
      { numRuns: 300 },
    );
    assert.equal((await fetch(`${kestrel.url}/healthz`)).status, 200);
  });

  it("answers 400 naming the limit to deeply nested bodies, without a stack overflow's text", async () => {
    for (const depth of [EVENT_LIMITS.depth, 10_000, 200_000]) {
      const res = await kestrel.post(
        `{"rule":"r","priority":"Notice","output":"o","output_fields":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}`,
      );
      const answer = (await res.json()) as { error: string; field?: string };
      assert.equal(res.status, 400);
      assert.match(answer.error, /limit: nesting depth/);
      assert.doesNotMatch(answer.error, /call stack/i);
    }
  });
});
