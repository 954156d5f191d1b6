// Template variables checked at load (rules check and server), unused action blocks validated, --strict
// on unknown keys, and where a missing parameter of a shared block is reported: through the real loader,
// the real registries and the generated field catalogue.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { nodeContext } from "../contexts/k8snode.ts";
import type { FalcoEvent } from "../events/event.ts";
import { variableName } from "../events/fields.ts";
import { createRegistries } from "../registries.ts";
import { actionVariables } from "../template/action-variables.ts";
import { type Diagnostic, formatDiagnostic } from "../yaml/source.ts";
import { compileRules } from "./compile.ts";
import { loadRules } from "./index.ts";
import { loadRulesTexts } from "./load.ts";
import { staticContext } from "./static-context.ts";
import type { ActionSpec, RuleSpec } from "./types.ts";
import { ADDITIONAL_CONTEXT_VARIABLES, CONTEXT_VARIABLES, EVENT_VARIABLES } from "./variables.ts";

function check(text: string, strict = false): Diagnostic[] {
  const loaded = loadRulesTexts([{ file: "rules.yaml", text }]);
  const compiled = compileRules(loaded.document, createRegistries(), { strict });
  return [...loaded.diagnostics, ...compiled.diagnostics];
}

function echo(words: string, match = "match: { rules: [Terminal shell in container] }", extra = ""): string {
  return `- rule: R\n  ${match}\n  actions:\n    - action: A\n      actionner: local:command\n${extra}      parameters:\n        command: ["/bin/echo", "${words}"]\n`;
}

const shown = (ds: Diagnostic[]) => ds.map(formatDiagnostic).join("\n");

describe("template variables", () => {
  it("warns about an unknown name with a did-you-mean at its line and column; --strict makes it an error", () => {
    const text = echo("ran ${PROC_CMDLNE}");
    const [d, ...rest] = check(text);
    assert.deepEqual(rest, [], shown(rest));
    assert.equal(d?.severity, "warning");
    assert.match(d!.message, /unknown variable \$\{PROC_CMDLNE\}.*did you mean "\$\{PROC_CMDLINE\}"/);
    assert.equal(d!.line, 7);
    assert.equal(d!.column, text.split("\n")[6]!.indexOf("${PROC_CMDLNE}") + 1);
    const strict = check(text, true);
    assert.equal(strict.length, 1);
    assert.equal(strict[0]!.severity, "error");
  });

  it("suggests the variable form of a field written as a field (${fd.name} → ${FD_NAME})", () => {
    const [d] = check(echo("${fd.name}", "match: {}"));
    assert.match(d!.message, /did you mean "\$\{FD_NAME\}"/);
  });

  it("accepts event, context and field variables, fields with an argument included", () => {
    const words =
      "${RULE} ${PRIORITY} ${TRACE_ID} ${FALCO-TALON_RULE} ${PROC_ANAME_2} ${EVT_ARG_FLAGS} ${K8S_POD_LABEL_APP} ${KA_TARGET_NAME}";
    assert.deepEqual(check(echo(words, "match: {}")), []);
  });

  it("is silent when every Falco rule the rule matches emits the field, and adds a note when only some do", () => {
    assert.deepEqual(check(echo("${PROC_CMDLINE} in ${K8S_POD_NAME}")), []);
    const both = "match: { rules: [Terminal shell in container, Read sensitive file untrusted] }";
    const partial = check(echo("${FD_NAME}", both));
    assert.equal(partial.length, 1, shown(partial));
    assert.equal(partial[0]!.severity, "note");
    assert.match(partial[0]!.message, /\$\{FD_NAME\} is not in the events of the Falco rule "Terminal shell in container"/);
    const none = check(echo("${FD_NAME}"));
    assert.equal(none[0]?.severity, "warning");
    assert.match(none[0]!.message, /the action will fail on them/);
  });

  it("asks for the additional context a context variable comes from", () => {
    const [d] = check(echo("${NODE_HOSTNAME}", "match: {}"));
    assert.match(d!.message, /context 'k8snode'.*additional_contexts: \[k8snode\]/);
    assert.deepEqual(check(echo("${NODE_HOSTNAME}", "match: {}", "      additional_contexts: [k8snode]\n")), []);
  });

  it("knows exactly the variables an action run has (template/action-variables.ts, the contexts)", () => {
    const event: FalcoEvent = {
      uuid: undefined,
      output: "",
      message: "",
      priority: "Warning",
      rule: "x",
      time: "",
      outputFields: {},
      source: "syscall",
      tags: [],
      hostname: "h",
    } as unknown as FalcoEvent;
    const rule = { name: "R", continue: true, dryRun: false } as unknown as RuleSpec;
    const action = { name: "A", continue: true, ignoreErrors: true, parameters: {}, actionner: "local:command" } as unknown as ActionSpec;
    const vars = actionVariables(event, staticContext(rule, action), "trace");
    assert.deepEqual([...vars.keys()].sort(), [...EVENT_VARIABLES, ...CONTEXT_VARIABLES].sort());
    const node = Object.keys(nodeContext({})).map(variableName);
    assert.deepEqual(node.sort(), ADDITIONAL_CONTEXT_VARIABLES["k8snode"]!.filter((n) => n !== "NODE_SPEC_PROVIDEDID").sort());
  });
});

describe("action blocks no rule uses", () => {
  it("are validated: a typo in the actionner is an error; a valid one is a warning", () => {
    const typo = check(
      "- action: Unused\n  actionner: local:comand\n  parameters: { command: [/bin/true] }\n- rule: R\n  match: {}\n  notifiers: [stdout]\n",
    );
    const errors = typo.filter((d) => d.severity === "error");
    assert.equal(errors.length, 1, shown(typo));
    assert.match(errors[0]!.message, /unknown actionner "local:comand".*did you mean "local:command"/);
    assert.equal(errors[0]!.line, 2);
    const fine = check(
      "- action: Unused\n  actionner: local:command\n  parameters: { command: [/bin/true] }\n- rule: R\n  match: {}\n  notifiers: [stdout]\n",
    );
    assert.equal(fine.length, 1, shown(fine));
    assert.equal(fine[0]!.severity, "warning");
    assert.match(fine[0]!.message, /the action block "Unused" is not used by any rule/);
  });
});

describe("--strict", () => {
  it("turns unknown keys and unknown parameters into errors", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "kestrel-strict-")), "rules.yaml");
    writeFileSync(
      file,
      "- rule: R\n  match: {}\n  colour: red\n  actions:\n    - action: A\n      actionner: local:command\n      parameters: { command: [/bin/true], shel: sh }\n",
    );
    const lax = await loadRules([file], createRegistries());
    assert.deepEqual(
      lax.diagnostics.map((d) => d.severity),
      ["warning", "warning"],
      shown(lax.diagnostics),
    );
    assert.ok(lax.ruleSet);
    const strict = await loadRules([file], createRegistries(), { strict: true });
    assert.deepEqual(
      strict.diagnostics.map((d) => d.severity),
      ["error", "error"],
      shown(strict.diagnostics),
    );
    assert.match(strict.diagnostics[0]!.message, /^unknown key 'colour' in a rule$/);
    assert.equal(strict.ruleSet, undefined);
  });
});

describe("a missing parameter of a shared action block", () => {
  it("is reported at the block, where it is added, with the rule's use as a note", () => {
    const text = "- action: Label\n  actionner: kubernetes:label\n- rule: R\n  match: {}\n  actions:\n    - action: Label\n";
    const ds = check(text).filter((d) => d.severity !== "warning");
    const error = ds.find((d) => d.severity === "error");
    assert.ok(error, shown(ds));
    assert.match(error.message, /labels/);
    assert.equal(error.line, 1, shown(ds));
    const note = ds.find((d) => d.severity === "note");
    assert.equal(note?.line, 6, shown(ds));
  });
});
