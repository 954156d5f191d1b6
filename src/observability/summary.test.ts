import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SUMMARY_RULE_LIMIT, Summary } from "./summary.ts";

describe("Summary", () => {
  it("counts rules by name up to its limit, the rest on one line", () => {
    const s = new Summary();
    for (let i = 0; i < SUMMARY_RULE_LIMIT + 500; i++) s.countRule(`rule ${i}`);
    s.countRule("rule 0");
    assert.equal(s.byRule.size, SUMMARY_RULE_LIMIT + 1);
    assert.equal(s.byRule.get("rule 0"), 2);
    assert.equal(s.byRule.get("(other rules)"), 500);
    assert.match(s.format(), /^ {3}\(other rules\): 500$/m);
  });
});
