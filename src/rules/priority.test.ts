// `match.priority`: comparators against Falco's levels (Emergency = 0 … Debug = 7).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inRange, parsePriorityFilter } from "./priority.ts";

function levels(text: string): number[] {
  const f = parsePriorityFilter(text);
  assert.ok(f.ok, f.ok ? "" : f.error);
  return [0, 1, 2, 3, 4, 5, 6, 7].filter((l) => inRange(f.range, l));
}

describe("priority filters", () => {
  it("compares by severity: > means more severe", () => {
    assert.deepEqual(levels(">=Warning"), [0, 1, 2, 3, 4]);
    assert.deepEqual(levels(">Warning"), [0, 1, 2, 3]);
    assert.deepEqual(levels("<=Warning"), [4, 5, 6, 7]);
    assert.deepEqual(levels("<Warning"), [5, 6, 7]);
    assert.deepEqual(levels("=Warning"), [4]);
    assert.deepEqual(levels("warning"), [4]);
  });

  it("is case-insensitive and accepts Info (Falco's alias of Informational)", () => {
    assert.deepEqual(levels("INFO"), [6]);
    assert.deepEqual(levels(">=informational"), [0, 1, 2, 3, 4, 5, 6]);
  });

  it("without a value or a name, filters nothing (a bare comparator warns)", () => {
    assert.deepEqual(parsePriorityFilter(""), { ok: true, range: undefined });
    const f = parsePriorityFilter(">=");
    assert.ok(f.ok);
    assert.equal(f.range, undefined);
    assert.match(f.warning ?? "", /matches every priority/);
  });

  it("warns about a filter no priority can pass", () => {
    const f = parsePriorityFilter(">Emergency");
    assert.ok(f.ok);
    assert.match(f.warning ?? "", /matches no priority/);
  });

  it("refuses unknown names and syntax, with a suggestion", () => {
    assert.deepEqual(parsePriorityFilter("Warn"), { ok: false, error: `incorrect priority 'Warn' (did you mean "Warning"?)` });
    assert.equal(parsePriorityFilter("=>Warning").ok, false);
    assert.equal(parsePriorityFilter(">= Warning 2").ok, false);
  });
});
