// `rules print`: Talon's field order, empty fields left out, actions resolved against their blocks, and
// output that loads back to the same rules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { fixture } from "./__fixtures__/plugins.ts";
import { loadRulesFiles, loadRulesText } from "./load.ts";
import { printRules } from "./print.ts";

describe("printRules", () => {
  it("prints every field in Talon's order and leaves empty ones out", () => {
    const text = `
- action: Block
  actionner: kubernetes:label
  description: from the block
  parameters: {labels: {a: "1"}}
- rule: R
  match:
    tags: [shell]
    rules: [Terminal shell in container]
    source: syscall
    priority: ">=Warning"
    output_fields: [k8s.ns.name=default]
  actions:
    - action: Block
      ignore_errors: true
      continue: false
      additional_contexts: [aws]
      output: {parameters: {bucket: b}, target: aws:s3}
  notifiers: [slack]
  dry_run: "true"
  continue: true
  description: the rule
- rule: Bare
  actions: [{action: Block}]
`;
    const { document } = loadRulesText("r.yaml", text);
    const printed = parse(printRules(document)) as Record<string, unknown>[];
    const [r, bare] = printed;
    assert.deepEqual(Object.keys(r!), ["rule", "description", "continue", "dry_run", "notifiers", "actions", "match"]);
    const action = (r!["actions"] as Record<string, unknown>[])[0]!;
    assert.deepEqual(Object.keys(action), [
      "action",
      "description",
      "actionner",
      "continue",
      "ignore_errors",
      "additional_contexts",
      "parameters",
      "output",
    ]);
    assert.deepEqual(action["output"], { target: "aws:s3", parameters: { bucket: "b" } });
    assert.deepEqual(Object.keys(r!["match"] as object), ["output_fields", "priority", "source", "rules", "tags"]);
    assert.deepEqual(bare, {
      rule: "Bare",
      actions: [{ action: "Block", description: "from the block", actionner: "kubernetes:label", parameters: { labels: { a: "1" } } }],
      match: {},
    });
  });

  it("prints Talon's merged fixture, which loads back to the same rules", async () => {
    const { document } = await loadRulesFiles([fixture("talon/rules.yaml"), fixture("talon/rules_override.yaml")]);
    const printed = printRules(document);
    const again = loadRulesText("printed.yaml", printed);
    assert.deepEqual(again.diagnostics, []);
    const shape = (d: typeof document) =>
      d.rules.map((r) => ({
        name: r.name,
        match: r.match,
        actions: r.actions.map((a) => [a.name, a.actionner, a.parameters, a.output?.parameters]),
      }));
    assert.deepEqual(shape(again.document), shape(document));
    assert.match(printed, /grace_period_seconds: 2\n/);
  });

  it("redacts secret parameters and URL credentials, as the logs do", () => {
    const text = `
- rule: Secretive
  description: "posts to https://bob:d3scr1pt@hooks.example/x"
  match: {}
  actions:
    - action: Call
      actionner: local:command
      parameters: { url: "https://alice:hunter2@api.example/v1", api_token: s3cr3t-t0ken, headers: { Authorization: "Bearer b3arer" }, count: 2 }
      output: { target: minio:s3, parameters: { bucket: b, endpoint: "http://k3y:s3cr3t-key@minio:9000" } }
`;
    const printed = printRules(loadRulesText("r.yaml", text).document);
    for (const secret of ["hunter2", "d3scr1pt", "s3cr3t-t0ken", "b3arer", "s3cr3t-key", "k3y"])
      assert.ok(!printed.includes(secret), `${secret} in:\n${printed}`);
    const [rule] = parse(printed) as {
      description: string;
      actions: { parameters: Record<string, unknown>; output: { parameters: Record<string, unknown> } }[];
    }[];
    assert.equal(rule!.description, "posts to https://[redacted]@hooks.example/x");
    assert.deepEqual(rule!.actions[0]!.parameters, {
      url: "https://[redacted]@api.example/v1",
      api_token: "[redacted]",
      headers: { Authorization: "[redacted]" },
      count: 2,
    });
    assert.deepEqual(rule!.actions[0]!.output.parameters, { bucket: "b", endpoint: "http://[redacted]@minio:9000" });
  });

  it("prints an empty list when there is no rule", () => {
    assert.equal(printRules({ files: [], actions: [], rules: [] }), "[]\n");
  });
});
