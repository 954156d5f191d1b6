// RuleSet.match: candidates from the Falco-rule-name index and the rules without names, in file order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEvent } from "../events/parse.ts";
import { formatDiagnostic } from "../yaml/source.ts";
import { fakeRegistries } from "./__fixtures__/plugins.ts";
import { compileRules } from "./compile.ts";
import { loadRulesText } from "./load.ts";
import type { RuleSet } from "./types.ts";

function ruleSetOf(text: string): RuleSet {
  const loaded = loadRulesText("rules.yaml", text);
  const { ruleSet, diagnostics } = compileRules(loaded.document, fakeRegistries());
  assert.ok(ruleSet, [...loaded.diagnostics, ...diagnostics].map(formatDiagnostic).join("\n"));
  return ruleSet;
}

function rule(name: string, match: string): string {
  return `- rule: ${name}\n  match: ${match}\n  actions: [{action: a, actionner: kubernetes:delete}]\n`;
}

function event(rule: string, priority = "Warning", fields: Record<string, unknown> = {}) {
  return parseEvent(JSON.stringify({ rule, priority, output: "x", output_fields: fields })).event;
}

describe("RuleSet.match", () => {
  const ruleSet = ruleSetOf(
    [
      rule("any-1", "{}"),
      rule("shell-1", "{rules: [Terminal shell in container, Terminal shell in container]}"),
      rule("errors-only", '{priority: ">=Error"}'),
      rule("shell-or-write", "{rules: [Write below etc, Terminal shell in container]}"),
      rule("prod-only", "{output_fields: [k8s.ns.name=prod]}"),
      rule("write-1", "{rules: [Write below etc]}"),
      rule("any-2", "{}"),
    ].join(""),
  );

  it("returns the triggered rules in file order, each once", () => {
    const names = (e: ReturnType<typeof event>) => ruleSet.match(e).map((r) => r.name);
    assert.deepEqual(names(event("Terminal shell in container")), ["any-1", "shell-1", "shell-or-write", "any-2"]);
    assert.deepEqual(names(event("Write below etc", "Critical", { "k8s.ns.name": "prod" })), [
      "any-1",
      "errors-only",
      "shell-or-write",
      "prod-only",
      "write-1",
      "any-2",
    ]);
    assert.deepEqual(
      ruleSet.match(event("Other")).map((r) => r.index),
      [0, 6],
    );
  });

  it("returns one shared, frozen empty array when nothing matches", () => {
    const none = ruleSetOf(rule("shell", '{rules: [Terminal shell in container], priority: ">=Error"}') + rule("prod", "{output_fields: [k8s.ns.name=prod]}"));
    const a = none.match(event("Other"));
    const b = none.match(event("Terminal shell in container", "Notice", { "k8s.ns.name": "dev" }));
    assert.equal(a.length, 0);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
  });

  it("CompiledRule.matches tests every criterion except the Falco rule name", () => {
    const [r] = ruleSetOf(rule("shell", '{rules: [Terminal shell in container], priority: ">=Warning"}')).rules;
    assert.equal(r!.matches(event("Something else", "Error")), true);
    assert.equal(r!.matches(event("Terminal shell in container", "Notice")), false);
  });

  it("tests rules that select on tags when an event's tags complete one of their groups, and only then", () => {
    const bigGroup = Array.from({ length: 40 }, (_, i) => `t${i}`).join(", ");
    const tagged = ruleSetOf(
      [
        rule("a-and-b", '{tags: ["a, b"]}'),
        rule("c-or-d-and-e", '{tags: ["c", "d, e"]}'),
        rule("named-with-tags", '{rules: [Shell], tags: ["a"]}'),
        rule("no-criteria", "{}"),
        rule("a-and-b-errors", '{tags: ["b, a"], priority: ">=Error"}'),
        rule("forty-tags", `{tags: ["${bigGroup}"]}`), // too many for the gate's word: tested on every event
      ].join(""),
    );
    const names = (rule: string, tags: string[], priority = "Warning") =>
      tagged.match(parseEvent(JSON.stringify({ rule, priority, output: "x", tags })).event).map((r) => r.name);
    assert.deepEqual(names("Shell", ["b", "a"]), ["a-and-b", "named-with-tags", "no-criteria"]);
    assert.deepEqual(names("Other", ["a", "b", "x"], "Critical"), ["a-and-b", "no-criteria", "a-and-b-errors"]);
    // A repeated tag does not stand for another one, and half a group opens nothing...
    assert.deepEqual(names("Other", ["a", "a", "d"]), ["no-criteria"]);
    // ...nor does it leave anything open for the next event.
    assert.deepEqual(names("Other", ["b", "e"]), ["no-criteria"]);
    assert.deepEqual(names("Other", ["e", "d"]), ["c-or-d-and-e", "no-criteria"]);
    assert.deepEqual(names("Other", ["c", "d", "e"]), ["c-or-d-and-e", "no-criteria"]);
    assert.deepEqual(names("Other", []), ["no-criteria"]);
    const all = Array.from({ length: 40 }, (_, i) => `t${i}`);
    assert.deepEqual(names("Other", all), ["no-criteria", "forty-tags"]);
    assert.deepEqual(names("Other", all.slice(1)), ["no-criteria"]);
  });

  it("an empty rule set matches nothing", () => {
    const { ruleSet: empty } = compileRules({ files: [], actions: [], rules: [] }, fakeRegistries());
    assert.ok(empty);
    assert.deepEqual(empty.match(event("x")), []);
    assert.equal(empty.notifierNames.size, 0);
  });
});
