// Merging rules files (./merge.ts, ./merge-params.ts, ./resolve.ts): a rule's action resolved against its
// block, duplicate action blocks and duplicate rules merged, with the origins of merged values.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { block, lineOf, only } from "./__fixtures__/documents.ts";
import { loadRulesText, loadRulesTexts } from "./load.ts";

describe("resolving a rule's action against its block", () => {
  const text = `
- action: X
  actionner: kubernetes:label
  description: from the block
  additional_contexts: [aws]
  parameters:
    labels: {a: "2", b: "3"}
    allow_cidr: [A]
    grace: 5
    nothing:
    kind: [1]
- rule: R
  match: {}
  actions:
    - action: X
      continue: false
      parameters:
        labels: {a: "1"}
        allow_cidr: [B]
        grace: 7
        kind: text
`;

  it("local map keys win over the block's (Kestrel; Talon let the block win); lists: block items first", () => {
    const { document, diagnostics } = loadRulesText("r.yaml", text);
    const a = document.rules[0]!.actions[0]!;
    assert.deepEqual(a.parameters["labels"], { a: "1", b: "3" });
    assert.deepEqual(a.parameters["allow_cidr"], ["A", "B"]);
    assert.equal(a.parameters["grace"], 7);
    assert.equal("nothing" in a.parameters, false);
    assert.equal(a.actionner, "kubernetes:label");
    assert.equal(a.description, "from the block");
    assert.equal(a.continue, false);
    assert.deepEqual(a.additionalContexts, ["aws"]);
    // A type mismatch keeps the local value and warns at it.
    assert.equal(a.parameters["kind"], "text");
    const [empty, w] = only(diagnostics, "warning");
    assert.match(empty!.message, /parameter 'nothing' has no value and is ignored/);
    assert.match(w!.message, /mismatch of type for parameter 'kind'/);
    assert.equal(w!.line, lineOf(text, "kind: text"));
    assert.equal(w!.rule, "R");
    // Where each value came from.
    assert.equal(
      a.fieldAt.get("actionner")!.source.locate(a.fieldAt.get("actionner")!.path).line,
      lineOf(text, "actionner: kubernetes:label"),
    );
    assert.equal(a.fieldAt.get("continue")!.source.locate(a.fieldAt.get("continue")!.path).line, lineOf(text, "continue: false"));
  });

  it("does not modify the block, which other rules share", () => {
    const { document } = loadRulesText("r.yaml", text);
    assert.deepEqual(block(document, "X").parameters["labels"], { a: "2", b: "3" });
    assert.deepEqual(block(document, "X").parameters["allow_cidr"], ["A"]);
  });
});

describe("merging duplicate action blocks", () => {
  const base = `
- action: B
  actionner: kubernetes:label
  description: base
  continue: "true"
  additional_contexts: [aws]
  output: {target: aws:s3, parameters: {bucket: one}}
  parameters:
    list: [A]
    map: {a: "1", b: "2"}
    scalar: 1
    kept: 1
    mismatch: [x]
`;
  const override = `
- action: B
  actionner: kubernetes:terminate
  continue: false
  additional_contexts: [aws, k8snode]
  output: {target: minio:s3, parameters: {prefix: p}}
  parameters:
    list: [B]
    map: {b: "3", c: "4"}
    scalar: 2
    kept: null
    mismatch: text
    only_later: [C]
`;

  it("later non-empty values win, lists are appended, maps merged, nulls skipped", () => {
    const { document, diagnostics } = loadRulesTexts([
      { file: "base.yaml", text: base },
      { file: "override.yaml", text: override },
    ]);
    const b = block(document, "B");
    assert.equal(b.actionner, "kubernetes:terminate");
    assert.equal(b.description, "base");
    assert.equal(b.continue, false);
    assert.deepEqual(b.additionalContexts, ["aws", "k8snode"]);
    assert.deepEqual(b.parameters, {
      list: ["A", "B"],
      map: { a: "1", b: "3", c: "4" },
      scalar: 2,
      kept: 1,
      mismatch: ["x"],
      only_later: ["C"],
    });
    // Kestrel: a later output.target wins (Talon kept the first); its parameters merge.
    assert.equal(b.output?.target, "minio:s3");
    assert.deepEqual(b.output?.parameters, { bucket: "one", prefix: "p" });
    // The type mismatch keeps the earlier value and warns where that value is.
    const [empty, w] = only(diagnostics, "warning");
    assert.match(empty!.message, /parameter 'kept' has no value/);
    assert.match(w!.message, /mismatch of type for parameter 'mismatch'/);
    assert.equal(w!.file, "base.yaml");
    assert.equal(w!.line, lineOf(base, "mismatch: [x]"));
    assert.equal(only(diagnostics, "error").length, 0);
  });

  it("a list present only in the later item is taken as is, not nested", () => {
    const { document } = loadRulesTexts([
      { file: "a.yaml", text: "- action: B\n  actionner: kubernetes:networkpolicy\n" },
      { file: "b.yaml", text: "- action: B\n  parameters:\n    allow_cidr: [10.0.0.0/8]\n" },
    ]);
    assert.deepEqual(block(document, "B").parameters, { allow_cidr: ["10.0.0.0/8"] });
  });

  it("merges duplicates within one file too, keeping the first position", () => {
    const { document } = loadRulesText("a.yaml", "- action: A\n  actionner: x:y\n- action: C\n- action: A\n  description: later\n");
    assert.deepEqual(
      document.actions.map((a) => [a.name, a.actionner, a.description]),
      [
        ["A", "x:y", "later"],
        ["C", "", ""],
      ],
    );
  });
});

describe("merging duplicate rules", () => {
  const first = `
- rule: R
  description: first
  notifiers: [slack]
  match:
    rules: [A]
    priority: ">=Warning"
    source: syscall
    tags: [shell]
    output_fields: [k8s.ns.name=default]
  actions:
    - action: one
      actionner: kubernetes:delete
- rule: S
  match: {}
  actions:
    - action: s
      actionner: kubernetes:delete
`;
  const second = `
- rule: R
  continue: false
  notifiers: [slack, webhook]
  match:
    rules: [B]
    tags: [container]
    output_fields: [k8s.ns.name=prod]
  actions:
    - action: two
      actionner: kubernetes:delete
`;

  it("appends lists and actions, keeps first-occurrence order, later set values win", () => {
    const { document, diagnostics } = loadRulesTexts([
      { file: "first.yaml", text: first },
      { file: "second.yaml", text: second },
    ]);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      document.rules.map((r) => r.name),
      ["R", "S"],
    );
    const r = document.rules[0]!;
    assert.equal(r.description, "first");
    assert.equal(r.continue, false);
    assert.deepEqual(r.notifiers, ["slack", "webhook"]);
    assert.deepEqual(r.match.rules, ["A", "B"]);
    assert.deepEqual(r.match.tags, ["shell", "container"]);
    assert.deepEqual(r.match.outputFields, ["k8s.ns.name=default", "k8s.ns.name=prod"]);
    assert.deepEqual(
      r.actions.map((a) => a.name),
      ["one", "two"],
    );
  });

  it("an override without priority or source keeps the earlier filter (Talon cleared it)", () => {
    const { document } = loadRulesTexts([
      { file: "first.yaml", text: first },
      { file: "second.yaml", text: second },
    ]);
    assert.equal(document.rules[0]!.match.priority, ">=Warning");
    assert.equal(document.rules[0]!.match.source, "syscall");
    const replaced = loadRulesTexts([
      { file: "first.yaml", text: first },
      { file: "third.yaml", text: "- rule: R\n  match: {priority: Error}\n  actions: []\n" },
    ]);
    assert.equal(replaced.document.rules[0]!.match.priority, "Error");
  });

  it("origins of appended items point at the file that wrote them", () => {
    const { document } = loadRulesTexts([
      { file: "first.yaml", text: first },
      { file: "second.yaml", text: second },
    ]);
    const r = document.rules[0]!;
    const at = r.fieldAt.get("match.output_fields[1]")!;
    assert.equal(at.source.file, "second.yaml");
    assert.equal(at.source.locate(at.path).line, lineOf(second, "k8s.ns.name=prod"));
    assert.equal(r.fieldAt.get("notifiers[1]")!.source.file, "second.yaml");
    assert.equal(r.fieldAt.get("continue")!.source.file, "second.yaml");
    assert.equal(r.fieldAt.get("match.priority")!.source.file, "first.yaml");
  });
});
