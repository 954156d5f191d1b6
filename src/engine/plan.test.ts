// The plan of `kestrel rules test`: real rules compiled with the real registries, real events; the plan must
// say what the engine would do (engine.ts #runRules semantics) and why rules do not match (explain.ts),
// without running anything.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { notificationFilter } from "../config/delivery.ts";
import { nodeContext } from "../contexts/k8snode.ts";
import { parseEvent } from "../events/parse.ts";
import { createRegistries } from "../registries.ts";
import { explainRule } from "../rules/explain.ts";
import { compileRules, loadRulesText } from "../rules/index.ts";
import type { RuleSet } from "../rules/types.ts";
import { CONTEXT_KEYS, contextPlaceholder, type PlanOptions, planEvent, TRACE_ID_PLACEHOLDER } from "./plan.ts";

function ruleSet(text: string): RuleSet {
  const loaded = loadRulesText("rules.yaml", text);
  const { ruleSet, diagnostics } = compileRules(loaded.document, createRegistries());
  const errors = [...loaded.diagnostics, ...diagnostics].filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], "the test rules are valid");
  return ruleSet!;
}

function event(fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseEvent(
    JSON.stringify({
      rule: "Terminal shell in container",
      priority: "Notice",
      source: "syscall",
      tags: ["container", "shell"],
      output_fields: fields,
      ...extra,
    }),
  ).event;
}

const POD = { "k8s.pod.name": "web-0", "k8s.ns.name": "prod", "proc.name": "bash" };
const NO_NOTIFIERS: PlanOptions = { defaultNotifiers: [] };

/** The planned actions of one rule R that matches the shell event; `actions` is the YAML after its `actions:` key. */
function plannedActions(actions: string, fields: Record<string, unknown> = POD) {
  const rules = ruleSet(`
- rule: R
  match: { rules: [Terminal shell in container] }
  actions: ${actions}
`);
  return planEvent(rules, event(fields), NO_NOTIFIERS).rules[0]!.actions;
}

describe("rules test plan: matching", () => {
  const rules = ruleSet(`
- rule: Named
  match:
    rules: [Terminal shell in container]
  actions: [{ action: A, actionner: local:command, parameters: { command: [/bin/true] } }]
- rule: Audit only
  match:
    source: k8s_audit
  actions: [{ action: B, actionner: local:command, parameters: { command: [/bin/true] } }]
- rule: Severe
  match:
    priority: ">=Error"
  actions: [{ action: C, actionner: local:command, parameters: { command: [/bin/true] } }]
- rule: Tagged
  match:
    tags: ["filesystem, mitre_credential_access", "network"]
  actions: [{ action: D, actionner: local:command, parameters: { command: [/bin/true] } }]
- rule: Not kube-system
  match:
    output_fields: ["k8s.ns.name!=kube-system, proc.name=bash"]
  actions: [{ action: E, actionner: local:command, parameters: { command: [/bin/true] } }]
`);

  it("lists the matched rules and, for each other rule, the criterion that fails", () => {
    const plan = planEvent(rules, event({ ...POD, "k8s.ns.name": "kube-system" }), NO_NOTIFIERS);
    assert.deepEqual(plan.matched, ["Named"]);
    const why = Object.fromEntries(plan.unmatched.map((u) => [u.rule, u.failures.map((f) => f.criterion)]));
    assert.deepEqual(why, { "Audit only": ["source"], Severe: ["priority"], Tagged: ["tags"], "Not kube-system": ["output_fields"] });
    const reasons = plan.unmatched.flatMap((u) => u.failures.map((f) => f.reason));
    assert.ok(reasons.includes(`the source "syscall" is not "k8s_audit"`), reasons.join("\n"));
    assert.ok(reasons.includes("the priority Notice is not >=Error"), reasons.join("\n"));
    assert.ok(
      reasons.some(
        (r) =>
          r.includes(`"filesystem, mitre_credential_access" lacks filesystem, mitre_credential_access`) &&
          r.includes(`"network" lacks network`),
      ),
      reasons.join("\n"),
    );
    assert.ok(
      reasons.some((r) => r.includes(`k8s.ns.name is "kube-system"`)),
      reasons.join("\n"),
    );
  });

  it("names the Falco rule criterion, and every criterion that fails", () => {
    const plan = planEvent(rules, event(POD, { rule: "Other", source: "k8s_audit", priority: "Debug" }), NO_NOTIFIERS);
    const named = plan.unmatched.find((u) => u.rule === "Named")!;
    assert.deepEqual(
      named.failures.map((f) => f.criterion),
      ["rules"],
    );
    assert.match(named.failures[0]!.reason, /the Falco rule "Other" is not in match\.rules \("Terminal shell in container"\)/);
    assert.deepEqual(
      plan.unmatched.find((u) => u.rule === "Severe")!.failures.map((f) => f.criterion),
      ["priority"],
    );
  });

  it("explains exactly the rules the engine does not match (random events)", () => {
    const names = ["Terminal shell in container", "Other"];
    const arb = fc.record({
      rule: fc.constantFrom(...names),
      priority: fc.constantFrom("Emergency", "Error", "Warning", "Notice", "Debug"),
      source: fc.constantFrom("syscall", "k8s_audit"),
      tags: fc.subarray(["filesystem", "mitre_credential_access", "network", "shell"]),
      ns: fc.option(fc.constantFrom("prod", "kube-system"), { nil: undefined }),
      proc: fc.option(fc.constantFrom("bash", "sh"), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, (e) => {
        const fields: Record<string, unknown> = {};
        if (e.ns !== undefined) fields["k8s.ns.name"] = e.ns;
        if (e.proc !== undefined) fields["proc.name"] = e.proc;
        const ev = event(fields, { rule: e.rule, priority: e.priority, source: e.source, tags: e.tags });
        const matched = new Set(rules.match(ev));
        for (const rule of rules.rules) assert.equal(explainRule(rule, ev).length === 0, matched.has(rule), rule.name);
      }),
    );
  });
});

describe("rules test plan: actions, in the engine's order and semantics", () => {
  it("renders the parameters for the event and redacts secrets", () => {
    const [a] = plannedActions(`
    - action: Record
      actionner: local:command
      parameters:
        command: [/bin/echo, "\${PRIORITY} \${K8S_POD_NAME} \${TRACE_ID}"]
        env: { API_TOKEN: "\${K8S_NS_NAME}", WHERE: "\${K8S_NS_NAME}" }
`);
    assert.equal(a!.mode, "run");
    assert.equal(a!.error, undefined);
    assert.deepEqual(a!.parameters["command"], ["/bin/echo", `Notice web-0 ${TRACE_ID_PLACEHOLDER}`]);
    assert.deepEqual(a!.parameters["env"], { API_TOKEN: "[redacted]", WHERE: "prod" });
    assert.equal(a!.continue, true);
    assert.equal(a!.continueFrom, "actionner default");
  });

  it("a template naming a field the event lacks fails the action: the rule's later actions are skipped, unless ignore_errors", () => {
    const rules = ruleSet(`
- rule: Stops
  match: { rules: [Terminal shell in container] }
  actions:
    - { action: Needs fd, actionner: local:command, parameters: { command: [/bin/echo, "\${FD_NAME}"] } }
    - { action: After, actionner: local:command, parameters: { command: [/bin/true] } }
- rule: Goes on
  match: { rules: [Terminal shell in container] }
  actions:
    - { action: Needs fd too, actionner: local:command, ignore_errors: true, parameters: { command: [/bin/echo, "\${FD_NAME}"] } }
    - { action: After too, actionner: local:command, parameters: { command: [/bin/true] } }
`);
    const plan = planEvent(rules, event(POD), NO_NOTIFIERS);
    const [stops, goesOn] = plan.rules;
    assert.match(stops!.actions[0]!.error ?? "", /\$\{FD_NAME\} is not defined for this event/);
    assert.deepEqual(
      stops!.actions.map((a) => a.action),
      ["Needs fd"],
    );
    assert.deepEqual(stops!.skipped, [{ action: "After", because: `the action "Needs fd" would fail (ignore_errors: false)` }]);
    assert.deepEqual(
      goesOn!.actions.map((a) => a.action),
      ["Needs fd too", "After too"],
    );
    assert.deepEqual(goesOn!.actions[0]!.onFailureSkips, []);
    // The plan assumes success, and says what a failure would skip.
    const ok = planEvent(rules, event({ ...POD, "fd.name": "/etc/shadow" }), NO_NOTIFIERS);
    assert.deepEqual(
      ok.rules[0]!.actions.map((a) => a.action),
      ["Needs fd", "After"],
    );
    assert.deepEqual(ok.rules[0]!.actions[0]!.onFailureSkips, ["After"]);
  });

  it("continue: false on an action ends its rule; on a rule, it stops the later rules; dry_run runs nothing", () => {
    const rules = ruleSet(`
- rule: Dry
  dry_run: true
  match: { rules: [Terminal shell in container] }
  actions:
    - { action: Dry one, actionner: local:command, parameters: { command: [/bin/true] } }
- rule: Terminates
  continue: false
  match: { rules: [Terminal shell in container] }
  actions:
    - { action: Terminate, actionner: kubernetes:terminate }
    - { action: Never, actionner: local:command, parameters: { command: [/bin/true] } }
- rule: Later
  match: { rules: [Terminal shell in container] }
  actions:
    - { action: Later one, actionner: local:command, parameters: { command: [/bin/true] } }
`);
    const plan = planEvent(rules, event(POD), { defaultNotifiers: ["stdout"] });
    assert.deepEqual(plan.matched, ["Dry", "Terminates", "Later"]);
    assert.deepEqual(
      plan.rules.map((r) => r.rule),
      ["Dry", "Terminates"],
    );
    const [dry, terminates] = plan.rules;
    assert.equal(dry!.actions[0]!.mode, "dry_run");
    assert.deepEqual(dry!.actions[0]!.notifiers, [], "a dry run notifies nobody");
    assert.equal(terminates!.actions[0]!.actionner, "kubernetes:terminate");
    assert.equal(terminates!.actions[0]!.continue, false);
    assert.equal(terminates!.actions[0]!.continueFrom, "actionner default");
    assert.deepEqual(terminates!.skipped, [
      { action: "Never", because: `the action "Terminate" has continue: false (the kubernetes:terminate default)` },
    ]);
    assert.deepEqual(plan.stopped, [{ rule: "Later", because: `the rule "Terminates" has continue: false` }]);
    assert.deepEqual(plan.notifiers, ["stdout"]);
  });

  it("warns when the event lacks a field the actionner needs", () => {
    const [a] = plannedActions(`[{ action: Label, actionner: kubernetes:label, parameters: { labels: { suspicious: "true" } } }]`, {
      "proc.name": "bash",
    });
    assert.equal(a!.warnings.length, 2, a!.warnings.join("\n"));
    assert.match(a!.warnings[0]!, /k8s\.pod\.name or ka\.target\.pod\.name or ka\.target\.name/);
  });

  it("shows the values of contexts that need a client as placeholders: nothing is gathered", () => {
    assert.deepEqual(Object.keys(nodeContext({})).sort(), [...CONTEXT_KEYS["k8snode"]!].sort(), "CONTEXT_KEYS follows k8snode's keys");
    const [a] = plannedActions(`
    - action: Node
      actionner: local:command
      additional_contexts: [k8snode, aws]
      parameters: { command: [/bin/echo, "\${NODE_HOSTNAME} \${AWS_REGION} \${NODE_SPEC_PROVIDEDID}"] }
`);
    assert.equal(a!.error, undefined);
    assert.deepEqual(a!.parameters["command"], [
      "/bin/echo",
      `${contextPlaceholder("k8snode", "node.hostname")} ${contextPlaceholder("aws", "aws.region")} ${contextPlaceholder("k8snode", "node.spec.providerid")}`,
    ]);
    assert.deepEqual(
      a!.contexts.map((c) => c.name),
      ["k8snode", "aws"],
    );
  });
});

describe("rules test plan: notifiers", () => {
  const rules = ruleSet(`
- rule: Acts
  notifiers: [webhook]
  match: { rules: [Terminal shell in container] }
  actions: [{ action: A, actionner: local:command, parameters: { command: [/bin/true] } }]
- rule: Routes
  notifiers: [slack, webhook]
  match: { rules: [Terminal shell in container] }
`);
  const filters = new Map([
    ["slack", notificationFilter({ min_priority: "Warning" })],
    ["stdout", notificationFilter({ on_status: ["failure"] })],
  ]);

  it("action results go to the default notifiers and the rule's; a rule without actions routes the event to its own", () => {
    const plan = planEvent(rules, event(POD, { priority: "Critical" }), { defaultNotifiers: ["stdout"], notifierFilters: filters });
    assert.deepEqual(plan.rules[0]!.actions[0]!.notifiers, [
      { name: "stdout", onStatus: ["failure"] },
      { name: "webhook", onStatus: undefined },
    ]);
    assert.deepEqual(
      plan.rules[1]!.routedTo.map((n) => n.name),
      ["slack", "webhook"],
    );
    assert.deepEqual(plan.notifiers, ["stdout", "webhook", "slack"]);
  });

  it("leaves out the notifiers whose min_priority the event is below", () => {
    const plan = planEvent(rules, event(POD), { defaultNotifiers: ["slack"], notifierFilters: filters });
    assert.deepEqual(plan.rules[0]!.actions[0]!.notifiersFiltered, ["slack"]);
    assert.deepEqual(
      plan.rules[1]!.routedTo.map((n) => n.name),
      ["webhook"],
    );
    assert.deepEqual(plan.notifiers, ["webhook"]);
  });
});
