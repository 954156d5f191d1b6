// RuleSet.match: candidates from the Falco-rule-name index and the rules without names, in file order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEvent } from "../events/parse.ts";
import { formatDiagnostic } from "../yaml/source.ts";
import { fakeRegistries } from "./__fixtures__/plugins.ts";
import { compileRules } from "./compile.ts";
import { loadRulesText } from "./load.ts";
import { compileMatch, matchesEvent } from "./match.ts";
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
    const none = ruleSetOf(
      rule("shell", '{rules: [Terminal shell in container], priority: ">=Error"}') + rule("prod", "{output_fields: [k8s.ns.name=prod]}"),
    );
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

  it("gives what testing every rule in full gives, whatever the names and tags events come with", () => {
    // Candidates are kept per Falco rule name and tags: a name seen again with other tags, in another
    // order, or with none must not reuse them. Seeded, so a failure repeats.
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]): T => list[random(list.length)]!;
    const names = ["A", "B", "C", "D"];
    const tags = ["t1", "t2", "t3", "t4", "t5"];
    const priorities = ["", ">=Error", "<Warning", "=Notice"];
    const someTags = (max: number): string[] => [...new Set(Array.from({ length: random(max + 1) }, () => pick(tags)))];
    const rules = Array.from({ length: 30 }, (_, i) => {
      const match: string[] = [];
      if (random(2) === 0) match.push(`rules: [${random(2) === 0 ? pick(names) : `${pick(names)}, ${pick(names)}`}]`);
      if (random(2) === 0)
        match.push(`tags: [${Array.from({ length: 1 + random(2) }, () => JSON.stringify(someTags(3).join(", ") || "t1")).join(", ")}]`);
      const priority = pick(priorities);
      if (priority !== "") match.push(`priority: "${priority}"`);
      return rule(`r${i}`, `{${match.join(", ")}}`);
    });
    const set = ruleSetOf(rules.join(""));
    const compiled = set.rules.map((r) => compileMatch(r.spec.match).match);
    for (let n = 0; n < 3000; n++) {
      const e = parseEvent(
        JSON.stringify({
          rule: random(5) === 0 ? `unknown ${random(3)}` : pick(names),
          priority: pick(["Error", "Warning", "Notice"]),
          output: "x",
          tags: someTags(5),
        }),
      ).event;
      const expected = set.rules.filter((_, i) => matchesEvent(compiled[i]!, e)).map((r) => r.name);
      assert.deepEqual(
        set.match(e).map((r) => r.name),
        expected,
        `event ${n}: ${e.rule} ${e.priority} [${e.tags.join(", ")}]`,
      );
    }
  });

  it("matches events whose name or tags are too large to keep, as any other", () => {
    const set = ruleSetOf(rule("tagged", '{tags: ["a, b"]}') + rule("named", "{rules: [Shell]}") + rule("any", "{}"));
    const names = (rule: string, tags: string[]) =>
      set.match(parseEvent(JSON.stringify({ rule, priority: "Notice", output: "x", tags })).event).map((r) => r.name);
    const long = "x".repeat(10_000);
    const many = Array.from({ length: 500 }, (_, i) => `t${i}`);
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(names(long, ["a", "b"]), ["tagged", "any"]);
      assert.deepEqual(names(long, ["a"]), ["any"]);
      assert.deepEqual(names("Shell", [...many, "a", "b"]), ["tagged", "named", "any"]);
      assert.deepEqual(names("Shell", many), ["named", "any"]);
      assert.deepEqual(names("Shell", ["a", long, "b"]), ["tagged", "named", "any"]);
      assert.deepEqual(names("Shell", ["a", long]), ["named", "any"]);
    }
  });

  it("keeps matching events of more Falco rule names than it keeps candidates for", () => {
    const set = ruleSetOf(rule("tagged", '{tags: ["a, b"]}') + rule("any", "{}"));
    for (let i = 0; i < 5000; i++) {
      const tags = i % 2 === 0 ? ["b", "a"] : ["a"];
      const e = parseEvent(JSON.stringify({ rule: `name ${i}`, priority: "Notice", output: "x", tags })).event;
      assert.deepEqual(
        set.match(e).map((r) => r.name),
        i % 2 === 0 ? ["tagged", "any"] : ["any"],
      );
    }
  });

  it("an empty rule set matches nothing", () => {
    const { ruleSet: empty } = compileRules({ files: [], actions: [], rules: [] }, fakeRegistries());
    assert.ok(empty);
    assert.deepEqual(empty.match(event("x")), []);
    assert.equal(empty.notifierNames.size, 0);
  });
});
