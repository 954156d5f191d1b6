// Loading and merging rules files: Talon's merge fixtures, Kestrel's deliberate fixes, origins of merged
// values, and file-level problems (syntax, unreadable, empty) as diagnostics.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Diagnostic } from "../yaml/source.ts";
import { fakeRegistries, fixture } from "./__fixtures__/plugins.ts";
import { loadRules } from "./index.ts";
import { loadRulesFiles, loadRulesText, loadRulesTexts } from "./load.ts";
import type { ActionSpec, RulesDocument } from "./types.ts";

/** 1-based line of the first line of `text` containing `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  assert.notEqual(i, -1, `"${needle}" not in the text`);
  return i + 1;
}

function block(doc: RulesDocument, name: string): ActionSpec {
  const b = doc.actions.find((a) => a.name === name);
  assert.ok(b, `no block "${name}"`);
  return b;
}

function only(diagnostics: Diagnostic[], severity: "error" | "warning"): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === severity);
}

describe("Talon's merge fixtures", () => {
  it("rules.yaml + rules_override.yaml: Terminate Pod parameters are merged", async () => {
    const { document, diagnostics } = await loadRulesFiles([fixture("talon/rules.yaml"), fixture("talon/rules_override.yaml")]);
    assert.deepEqual(diagnostics, []);
    const expected = { grace_period_seconds: 2, ignore_standalone_pods: true, ignore_daemonsets: true, ignore_statefulsets: true };
    const terminate = block(document, "Terminate Pod");
    assert.equal(terminate.actionner, "kubernetes:terminate");
    assert.deepEqual(terminate.parameters, expected);
    const rule = document.rules.find((r) => r.name === "Terminal shell in container")!;
    assert.equal(rule.actions[0]!.actionner, "kubernetes:terminate");
    assert.deepEqual(rule.actions[0]!.parameters, expected);
    // grace_period_seconds: 2 was written by the override file, on its own line.
    const at = rule.actions[0]!.parameterAt.get("grace_period_seconds")!;
    assert.equal(at.source.file, fixture("talon/rules_override.yaml"));
    assert.equal(at.source.locate(at.path).line, 6);
    assert.equal(rule.actions[0]!.parameterAt.get("ignore_standalone_pods")!.source.file, fixture("talon/rules.yaml"));
  });

  it("rules.yaml: action names are not global, an action naming no block stays local", async () => {
    const { document } = await loadRulesFiles([fixture("talon/rules.yaml")]);
    const exec = document.rules.find((r) => r.name === "Test exec")!.actions[0]!;
    const download = document.rules.find((r) => r.name === "Test download")!.actions[0]!;
    assert.deepEqual(exec.parameters, { command: `echo "\${NODE_HOSTNAME}"` });
    assert.deepEqual(download.parameters, { shell: "/bin/sh", command: "uname -a" });
    assert.deepEqual(
      document.rules.map((r) => r.name),
      [
        "Suspicious outbound connection",
        "Terminal shell in container",
        "Delete unknown namespace",
        "Calico netpol",
        "Test node drain",
        "Delete namespace",
        "Test exec",
        "Test download",
        "Test tcpdump",
        "Test sysdig",
        "Test log",
      ],
    );
  });

  it("base + override Capture logs: one block, one rule, output from the override", async () => {
    const files = [fixture("capture-logs/base-rules.yaml"), fixture("capture-logs/override-rules.yaml")];
    const { document, diagnostics } = await loadRulesFiles(files);
    assert.deepEqual(diagnostics, []);
    assert.equal(document.actions.length, 1);
    assert.equal(document.rules.length, 1);
    for (const a of [document.actions[0]!, document.rules[0]!.actions[0]!]) {
      assert.equal(a.actionner, "kubernetes:log");
      assert.equal(a.output?.target, "aws:s3");
      assert.deepEqual(a.output?.parameters, { bucket: "base-bucket" });
    }
    assert.deepEqual(document.files, files);
  });
});

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

describe("item shapes and settings", () => {
  it("continue, ignore_errors and dry_run take YAML booleans or the strings true/false", () => {
    const text = `
- rule: R
  continue: "true"
  dry_run: false
  match: {}
  actions:
    - action: a
      actionner: kubernetes:delete
      continue: true
      ignore_errors: "false"
`;
    const { document, diagnostics } = loadRulesText("r.yaml", text);
    assert.deepEqual(diagnostics, []);
    const r = document.rules[0]!;
    assert.deepEqual([r.continue, r.dryRun, r.actions[0]!.continue, r.actions[0]!.ignoreErrors], [true, false, true, false]);
  });

  it("refuses other values, such as yes or a quoted True, at their line", () => {
    const text = `
- rule: R
  continue: yes
  dry_run: "True"
  match: {}
  actions:
    - action: a
      actionner: kubernetes:delete
      ignore_errors: 1
`;
    const { diagnostics } = loadRulesText("r.yaml", text);
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.message, d.line, d.column]),
      [
        ["error", "'continue' setting can be 'true' or 'false' only", 3, 13],
        ["error", "'dry_run' setting can be 'true' or 'false' only", 4, 12],
        ["error", "'ignore_errors' setting can be 'true' or 'false' only", 9, 22],
      ],
    );
    assert.equal(diagnostics[2]!.action, "a");
    assert.equal(diagnostics[2]!.rule, "R");
  });

  it("unknown keys are warnings with a suggestion (Talon ignored them silently)", () => {
    const text = `
- rule: R
  descripion: typo
  match:
    rule: [A]
  actions:
    - action: a
      actionner: kubernetes:delete
      contexts: [aws]
      output: {target: aws:s3, parameters: {bucket: b}, params: {}}
`;
    const { diagnostics } = loadRulesText("r.yaml", text);
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.message, d.line]),
      [
        ["warning", `unknown key 'descripion' in a rule, ignored (did you mean "description"?)`, 3],
        ["warning", `unknown key 'rule' in 'match', ignored (did you mean "rules"?)`, 5],
        ["warning", `unknown key 'contexts' in an action, ignored (did you mean "additional_contexts"?)`, 9],
        ["warning", `unknown key 'params' in an output, ignored (did you mean "parameters"?)`, 10],
      ],
    );
  });

  it("wrong types are errors at the value", () => {
    const text = `
- rule: R
  description: [a]
  notifiers: slack
  match:
    tags: [[a]]
  actions: {action: a}
- action: B
  parameters: [a]
- just: text
- rule: ""
- 42
`;
    const { document, diagnostics } = loadRulesText("r.yaml", text);
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.line, d.message.slice(0, 30)]),
      [
        ["error", 3, "'description' must be a string"],
        ["error", 4, "'notifiers' must be a list, no"],
        ["error", 6, "each item of 'tags' must be a "],
        ["error", 7, "'actions' must be a list of ac"],
        ["error", 9, "'parameters' must be a mapping"],
        ["error", 10, "this item has neither 'rule:' "],
        ["error", 11, "a rule needs a name"],
        ["error", 12, "each item of a rules file must"],
      ],
    );
    // What could be decoded is kept, so compiling reports the remaining problems.
    assert.deepEqual(
      document.rules.map((r) => r.name),
      ["R"],
    );
    assert.deepEqual(
      document.actions.map((a) => a.name),
      ["B"],
    );
  });

  it("a rule without match warns that it matches every event, unless another file gives it one", () => {
    const bare = "- rule: R\n  actions: [{action: a, actionner: kubernetes:delete}]\n";
    const { diagnostics } = loadRulesText("r.yaml", bare);
    assert.equal(diagnostics.length, 1);
    assert.match(diagnostics[0]!.message, /matches every event/);
    assert.equal(diagnostics[0]!.line, 1);
    const merged = loadRulesTexts([
      { file: "a.yaml", text: "- rule: R\n  match: {rules: [X]}\n" },
      { file: "b.yaml", text: bare },
    ]);
    assert.deepEqual(merged.diagnostics, []);
  });
});

describe("file problems", () => {
  it("a YAML syntax error names the file and line; the file is unreadable", () => {
    const text = "- rule: ok\n  match: {}\n- rule: broken\n  description: [\n";
    const { diagnostics, unreadable } = loadRulesText("broken.yaml", text);
    assert.ok(diagnostics.length >= 1);
    assert.equal(diagnostics[0]!.file, "broken.yaml");
    assert.equal(diagnostics[0]!.severity, "error");
    assert.match(diagnostics[0]!.message, /^wrong syntax for the rules file: /);
    assert.ok(diagnostics[0]!.line >= 4);
    assert.deepEqual(unreadable, ["broken.yaml"]);
  });

  it("Talon's broken-file fixture: the error contains the file path, and no rule set is built", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-rules-"));
    const file = join(dir, "broken.yaml");
    await writeFile(file, "- rule: broken\n  description: [\n");
    const { ruleSet, diagnostics } = await loadRules([file], fakeRegistries());
    assert.equal(ruleSet, undefined);
    assert.ok(diagnostics.length > 0);
    assert.ok(diagnostics.every((d) => d.file === file && d.severity === "error"));
  });

  it("a file that cannot be read is a diagnostic, not an exception", async () => {
    const missing = join(tmpdir(), "kestrel-no-such-dir", "rules.yaml");
    const { diagnostics, unreadable } = await loadRulesFiles([missing]);
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.file, missing);
    assert.equal(diagnostics[0]!.message, "cannot read the rules file: no such file");
    assert.deepEqual(unreadable, [missing]);
  });

  it("a FIFO or a file over 16 MiB is refused at once, by `rules check` and `server` alike (loadRules)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-rules-files-"));
    const fifo = join(dir, "rules.yaml");
    execFileSync("mkfifo", [fifo]); // reading it used to wait forever for a writer
    const big = join(dir, "big.yaml");
    await writeFile(big, "");
    await truncate(big, 50 * 1024 * 1024); // sparse: 50 MiB used to take 28 s and 3.6 GB to parse
    const { ruleSet, diagnostics } = await loadRules([fifo, big], fakeRegistries());
    assert.equal(ruleSet, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.file, d.severity, d.message]),
      [
        [fifo, "error", "cannot read the rules file: it is a named pipe (FIFO), not a regular file"],
        [big, "error", "cannot read the rules file: it is larger than the 16 MiB limit (50 MiB)"],
      ],
    );
  });

  it("a file given twice is loaded once, with a warning", async () => {
    const file = fixture("capture-logs/override-rules.yaml");
    const { document, diagnostics } = await loadRulesFiles([file, file]);
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.file]),
      [["warning", file]],
    );
    assert.equal(document.rules[0]!.actions.length, 1);
  });

  it("no file at all is an error", async () => {
    const { diagnostics } = await loadRulesFiles([]);
    assert.equal(diagnostics[0]!.message, "no rules file is provided");
  });

  it("an empty file is a warning; a file that is not a list is an error", () => {
    const empty = loadRulesText("empty.yaml", "# nothing yet\n");
    assert.deepEqual(
      empty.diagnostics.map((d) => [d.severity, d.message]),
      [["warning", "the rules file is empty"]],
    );
    const map = loadRulesText("map.yaml", "rule: R\n");
    assert.equal(map.diagnostics[0]!.severity, "error");
    assert.match(map.diagnostics[0]!.message, /must be a YAML list/);
  });

  it("a key written twice in one mapping is an error", () => {
    const { diagnostics } = loadRulesText("dup.yaml", "- rule: R\n  rule: S\n");
    assert.equal(diagnostics[0]!.severity, "error");
    assert.equal(diagnostics[0]!.line, 2);
  });
});
