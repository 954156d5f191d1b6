// Loading rules files: Talon's merge fixtures, item shapes and settings, and file-level problems (syntax,
// unreadable, empty) as diagnostics. The merge rules themselves are in merge.test.ts.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { block } from "./__fixtures__/documents.ts";
import { fakeRegistries, fixture } from "./__fixtures__/plugins.ts";
import { loadRules } from "./index.ts";
import { loadRulesFiles, loadRulesText, loadRulesTexts } from "./load.ts";

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
