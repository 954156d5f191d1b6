// Validation (what Talon's `rules check` refuses, adapted to Kestrel, and Kestrel's own checks) and what
// the compiler hands to the engine, through the real loader, real registries and real zod schemas.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Diagnostic } from "../yaml/source.ts";
import { fakeRegistries, fixture } from "./__fixtures__/plugins.ts";
import { compileRules } from "./compile.ts";
import { loadRules } from "./index.ts";
import { loadRulesTexts } from "./load.ts";
import type { RuleSet } from "./types.ts";

function check(
  text: string | { file: string; text: string }[],
  strict = false,
): { ruleSet: RuleSet | undefined; diagnostics: Diagnostic[] } {
  const inputs = typeof text === "string" ? [{ file: "rules.yaml", text }] : text;
  const loaded = loadRulesTexts(inputs);
  const compiled = compileRules(loaded.document, fakeRegistries(), { strict });
  const diagnostics = [...loaded.diagnostics, ...compiled.diagnostics];
  return { ruleSet: diagnostics.some((d) => d.severity === "error") ? undefined : compiled.ruleSet, diagnostics };
}

/** A rule R with one action A whose settings are the given YAML lines (indented by the caller). */
function oneAction(actionLines: string, ruleLines = "  match: {}\n"): string {
  return `- rule: R\n${ruleLines}  actions:\n    - action: A\n${actionLines}`;
}

function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  assert.notEqual(i, -1, `"${needle}" not in the text`);
  return i + 1;
}

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "error");
}

function valid(text: string): RuleSet {
  const { ruleSet, diagnostics } = check(text);
  assert.deepEqual(errors(diagnostics), []);
  assert.ok(ruleSet);
  return ruleSet;
}

function onlyError(text: string, pattern: RegExp): Diagnostic {
  const { ruleSet, diagnostics } = check(text);
  assert.equal(ruleSet, undefined);
  const errs = errors(diagnostics);
  assert.equal(errs.length, 1, errs.map((d) => d.message).join("\n"));
  assert.match(errs[0]!.message, pattern);
  return errs[0]!;
}

describe("rules check: Talon's validation cases, as Kestrel decides them", () => {
  it("priority Info is valid (Falco's alias of Informational; Talon refused it)", () => {
    valid(oneAction("      actionner: kubernetes:delete\n", "  match: {priority: Info}\n"));
  });

  it("tags with '-' are valid (Talon refused them)", () => {
    valid(oneAction("      actionner: kubernetes:delete\n", "  match: {tags: [mitre-execution]}\n"));
  });

  it("keys with '_' are valid (Talon refused proc.is_exe_writable)", () => {
    valid(oneAction("      actionner: kubernetes:delete\n", "  match: {output_fields: [proc.is_exe_writable=true]}\n"));
  });

  it("continue: yes is an error", () => {
    const d = onlyError(
      oneAction("      actionner: kubernetes:delete\n", "  continue: yes\n  match: {}\n"),
      /^'continue' setting can be 'true' or 'false' only$/,
    );
    assert.equal(d.line, 2);
  });

  it("an unknown actionner is an error at the `actionner:` line, with a suggestion", () => {
    const text = oneAction("      description: x\n      actionner: kubernetes:terminat\n");
    const d = onlyError(text, /^unknown actionner "kubernetes:terminat" \(did you mean "kubernetes:terminate"\?\)$/);
    assert.deepEqual([d.file, d.line, d.column], ["rules.yaml", lineOf(text, "actionner:"), 18]);
    assert.deepEqual([d.rule, d.action, d.code], ["R", "A", "ERR_PLUGIN_UNKNOWN"]);
    onlyError(oneAction("      actionner: kubernetes:wrong\n"), /^unknown actionner "kubernetes:wrong"/);
  });

  it("an actionner that is not category:name is an error", () => {
    onlyError(oneAction("      actionner: terminate\n"), /^incorrect actionner "terminate": expected category:name/);
  });

  it("an actionner that needs an output and has none is an error", () => {
    onlyError(oneAction("      actionner: kubernetes:download\n      parameters: {file: /etc/passwd}\n"), /^an output is required/);
  });

  it("an output target without parameters is an error", () => {
    onlyError(oneAction("      actionner: kubernetes:log\n      output: {target: aws:s3}\n"), /^missing 'parameters' for the output$/);
  });

  it("labels: {} is an error at the labels line", () => {
    const text = oneAction("      actionner: kubernetes:label\n      parameters:\n        labels: {}\n");
    const d = onlyError(text, /parameter 'labels' should have at least one label/);
    assert.equal(d.line, lineOf(text, "labels: {}"));
    assert.equal(d.code, "ERR_PARAMS_INVALID");
  });

  it("labels: {suspicious: true} (an unquoted boolean) is an error at the entry", () => {
    const text = oneAction("      actionner: kubernetes:label\n      parameters:\n        labels:\n          suspicious: true\n");
    const d = onlyError(text, /^invalid parameter 'labels\.suspicious' for the actionner 'kubernetes:label'/);
    assert.equal(d.line, lineOf(text, "suspicious: true"));
  });

  it("a wrong CIDR is an error from the actionner's own check", () => {
    onlyError(
      oneAction("      actionner: kubernetes:networkpolicy\n      parameters: {allow_cidr: [10.0.0.1]}\n"),
      /^wrong CIDR '10\.0\.0\.1'$/,
    );
  });

  it("a missing required parameter is named", () => {
    onlyError(oneAction("      actionner: kubernetes:exec\n"), /^missing parameter 'command' for the actionner 'kubernetes:exec'$/);
  });

  it("an unknown notifier is an error with a suggestion", () => {
    const text = oneAction("      actionner: kubernetes:delete\n", "  notifiers: [webhook, slak]\n  match: {}\n");
    const d = onlyError(text, /^unknown notifier "slak" \(did you mean "slack"\?\)$/);
    assert.equal(d.line, 2);
    assert.equal(d.column, 24);
  });

  it("an unknown additional context is an error", () => {
    onlyError(
      oneAction("      actionner: kubernetes:delete\n      additional_contexts: [aws, k8snod]\n"),
      /^unknown context 'k8snod' \(did you mean "k8snode"\?\)$/,
    );
  });

  it("an unknown parameter key is a warning, and an error with strict", () => {
    const text = oneAction("      actionner: kubernetes:terminate\n      parameters:\n        grace_period: 5\n");
    const loose = check(text);
    assert.ok(loose.ruleSet);
    assert.equal(loose.diagnostics.length, 1);
    assert.equal(loose.diagnostics[0]!.severity, "warning");
    assert.equal(
      loose.diagnostics[0]!.message,
      `unknown parameter 'grace_period' for the actionner 'kubernetes:terminate', ignored (did you mean "grace_period_seconds"?)`,
    );
    assert.equal(loose.diagnostics[0]!.line, lineOf(text, "grace_period:"));
    // The unknown key does not reach the actionner.
    assert.equal("grace_period" in loose.ruleSet.rules[0]!.actions[0]!.params.raw, false);
    const strict = check(text, true);
    assert.equal(strict.ruleSet, undefined);
    assert.equal(strict.diagnostics[0]!.severity, "error");
  });

  it("a malformed output_fields condition is an error at its column", () => {
    const text = oneAction(
      "      actionner: kubernetes:delete\n",
      "  match:\n    output_fields:\n      - k8s.ns.name=default, proc.cmdline=a=b\n",
    );
    const d = onlyError(text, /^malformed value 'a=b' for 'proc\.cmdline'/);
    assert.equal(d.line, 4);
    // "      - " is 8 columns, then 36 characters up to the second '='.
    assert.equal(d.column, 9 + "k8s.ns.name=default, proc.cmdline=a".length);
  });

  it("a malformed tag and priority are errors at their entry", () => {
    const text = oneAction("      actionner: kubernetes:delete\n", '  match:\n    priority: ">=Warn"\n    tags: ["a,,b"]\n');
    const { diagnostics } = check(text);
    assert.deepEqual(
      errors(diagnostics).map((d) => [d.line, d.message]),
      [
        [3, `incorrect priority '>=Warn' (did you mean "Warning"?)`],
        [4, "empty tag"],
      ],
    );
  });

  it("an action naming a block that does not exist, without actionner, is an error with a suggestion", () => {
    const text =
      "- action: Terminate Pod\n  actionner: kubernetes:terminate\n" +
      oneAction("", "  match: {}\n").replace("action: A", "action: Terminate Pods");
    onlyError(
      text,
      /^missing actionner: no action block "Terminate Pods" exists \(did you mean "Terminate Pod"\?\) and the action sets no 'actionner'$/,
    );
  });

  it("a block without actionner is named as such", () => {
    onlyError(
      `- action: A\n  description: no actionner\n${oneAction("")}`,
      /^missing actionner: neither the action nor its action block "A" sets 'actionner'$/,
    );
  });

  it("a rule with notifiers and no actions routes its events (Kestrel); with neither it is an error", () => {
    const ruleSet = valid("- rule: Route\n  match: {rules: [Terminal shell in container]}\n  notifiers: [webhook]\n");
    assert.equal(ruleSet.rules[0]!.actions.length, 0);
    assert.deepEqual(ruleSet.rules[0]!.notifiers, ["webhook"]);
  });

  it("a rule without actions, and an action without a name, are errors", () => {
    onlyError("- rule: R\n  match: {}\n", /^no action specified \(nor notifiers to route the events to\)$/);
    onlyError("- rule: R\n  match: {}\n  actions:\n    - actionner: kubernetes:delete\n", /^action without a name$/);
  });

  it("an output for an actionner that produces none, and an unknown output target, are errors", () => {
    onlyError(
      oneAction("      actionner: kubernetes:delete\n      output: {target: aws:s3, parameters: {bucket: b}}\n"),
      /takes no 'output'$/,
    );
    onlyError(
      oneAction("      actionner: kubernetes:log\n      output: {target: aws:s4, parameters: {bucket: b}}\n"),
      /^unknown output target "aws:s4" \(did you mean "aws:s3"\?\)$/,
    );
    onlyError(
      oneAction("      actionner: kubernetes:log\n      output: {target: aws:s3, parameters: {prefix: b}}\n"),
      /^missing parameter 'bucket' for the output 'aws:s3'$/,
    );
  });

  it("a malformed template is an error at load, not at the first event", () => {
    const d = onlyError(oneAction(`      actionner: kubernetes:exec\n      parameters: {command: 'echo \${FD_NAME'}\n`), /unterminated/);
    assert.equal(d.code, "ERR_TEMPLATE");
  });

  it("collects every problem of every rule before failing", () => {
    const text = `${oneAction("      actionner: kubernetes:wrong\n")}
- rule: S
  notifiers: [nope]
  match: {priority: bad}
  actions:
    - action: B
      actionner: kubernetes:label
      parameters: {labels: {}}
`;
    const { ruleSet, diagnostics } = check(text);
    assert.equal(ruleSet, undefined);
    assert.deepEqual(
      errors(diagnostics).map((d) => [d.rule, d.action, d.message.split(/ ['"]/)[0]]),
      [
        ["R", "A", "unknown actionner"],
        ["S", undefined, "unknown notifier"],
        ["S", undefined, "incorrect priority"],
        ["S", "B", "invalid parameter"],
      ],
    );
  });

  it("a problem in a block used by several rules is reported once", () => {
    const text = `- action: Kill
  actionner: kubernetes:terminate
  parameters: {grace: 1}
- rule: R
  match: {}
  actions: [{action: Kill}]
- rule: S
  match: {}
  actions: [{action: Kill}]
`;
    const { ruleSet, diagnostics } = check(text);
    assert.ok(ruleSet);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.rule, d.message.split(" for ")[0]]),
      [[3, "R", "unknown parameter 'grace'"]],
    );
  });

  it("after a merge, a diagnostic points at the file that wrote the value", () => {
    const base = "- action: Kill\n  actionner: kubernetes:terminate\n  parameters:\n    grace_period_seconds: soon\n";
    const rules = "- rule: R\n  match: {}\n  actions:\n    - action: Kill\n";
    const override = "- rule: R\n  match:\n    output_fields: [a=b=c]\n  actions: []\n";
    const { diagnostics } = check([
      { file: "base.yaml", text: base },
      { file: "rules.yaml", text: rules },
      { file: "override.yaml", text: override },
    ]);
    assert.deepEqual(
      errors(diagnostics).map((d) => [d.file, d.line, d.message.split(" ")[0]]),
      [
        ["override.yaml", 3, "malformed"],
        ["base.yaml", 4, "invalid"],
      ],
    );
  });

  it("Talon's own rules.yaml + rules_override.yaml compile, warning about its two ignored parameters and its three unused blocks", async () => {
    const { ruleSet, diagnostics } = await loadRules([fixture("talon/rules.yaml"), fixture("talon/rules_override.yaml")], fakeRegistries());
    assert.ok(ruleSet);
    assert.equal(ruleSet.rules.length, 11);
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.message.split(" for ")[0], d.line]),
      [
        ["warning", "unknown parameter 'allow'", 12],
        // Action blocks no rule uses are validated too, and reported (issue 16 §2).
        ["warning", 'the action block "Label Pod as Suspicious" is not used by any rule', 22],
        ["warning", 'the action block "Invoke Lambda function" is not used by any rule', 29],
        ["warning", 'the action block "Invoke GCP function" is not used by any rule', 38],
        ["warning", "unknown parameter 'force'", 111],
      ],
    );
  });
});

describe("compiled rules", () => {
  const text = `
- action: Isolate
  actionner: kubernetes:networkpolicy
  parameters:
    allow_cidr: [10.0.0.0/8]
- rule: First
  description: d
  continue: false
  dry_run: true
  notifiers: [slack]
  match:
    rules: [Terminal shell in container]
  actions:
    - action: Isolate
    - action: Label it
      actionner: kubernetes:label
      ignore_errors: true
      parameters: {labels: {suspicious: "true"}}
    - action: Get file
      actionner: kubernetes:download
      continue: true
      parameters: {file: "\${FD_NAME}"}
      output: {target: aws:s3, parameters: {bucket: b}}
- rule: Second
  notifiers: [webhook, slack]
  match: {}
  actions:
    - action: Terminate
      actionner: kubernetes:terminate
      continue: true
`;

  it("continueAfter defaults from the actionner; ignoreErrors defaults to false; rule flags", () => {
    const ruleSet = valid(text);
    const [first, second] = ruleSet.rules;
    assert.deepEqual(
      first!.actions.map((a) => [a.name, a.actionnerName, a.continueAfter, a.ignoreErrors]),
      [
        ["Isolate", "kubernetes:networkpolicy", false, false],
        ["Label it", "kubernetes:label", true, true],
        ["Get file", "kubernetes:download", true, false],
      ],
    );
    assert.equal(second!.actions[0]!.continueAfter, true);
    assert.deepEqual([first!.stopAfter, first!.dryRun, first!.index], [true, true, 0]);
    assert.deepEqual([second!.stopAfter, second!.dryRun, second!.index], [false, false, 1]);
    assert.deepEqual([...ruleSet.notifierNames].sort(), ["slack", "webhook"]);
    assert.deepEqual([...ruleSet.categories].sort(), ["aws", "kubernetes"]);
  });

  it("applies parameter defaults and compiles templates once", () => {
    const ruleSet = valid(text);
    const [isolate, , download] = ruleSet.rules[0]!.actions;
    assert.deepEqual(isolate!.params.raw, { allow_cidr: ["10.0.0.0/8"], allow_namespaces: [] });
    assert.equal(isolate!.params.hasTemplates, false);
    assert.equal(download!.params.hasTemplates, true);
    assert.deepEqual(download!.params.variables, ["FD_NAME"]);
    assert.equal(download!.params.render(new Map([["FD_NAME", "/etc/shadow"]]))["file"], "/etc/shadow");
    assert.equal(download!.output?.target, "aws:s3");
    assert.deepEqual(download!.output?.params.raw, { bucket: "b", prefix: "" });
    assert.equal(download!.output?.plugin.name, "s3");
  });

  it("builds Talon's static context entries", () => {
    const ruleSet = valid(text);
    const [isolate, label] = ruleSet.rules[0]!.actions;
    assert.deepEqual(isolate!.staticContext, {
      "falco-talon.rule": "First",
      "falco-talon.rule.continue": "false",
      "falco-talon.rule.dry_run": "true",
      "falco-talon.action": "Isolate",
      "falco-talon.action.parameters": '{"allow_cidr":["10.0.0.0/8"]}',
      "falco-talon.actionner": "kubernetes:networkpolicy",
    });
    assert.equal(label!.staticContext["falco-talon.action.ignore_errors"], "true");
    assert.equal("falco-talon.action.continue" in label!.staticContext, false);
    assert.equal(ruleSet.rules[1]!.actions[0]!.staticContext["falco-talon.action.continue"], "true");
    assert.equal("falco-talon.rule.continue" in ruleSet.rules[1]!.actions[0]!.staticContext, false);
    assert.ok(Object.isFrozen(isolate!.staticContext));
  });
});
