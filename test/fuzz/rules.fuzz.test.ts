// Fuzzing the rules loader and compiler (fast-check): arbitrary YAML texts and arbitrary rule-shaped
// documents never crash the loader; every problem is a diagnostic with the file, a line and a message; a
// rule set that compiles matches arbitrary events without throwing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { parseEvent } from "../../src/events/parse.ts";
import { createRegistries } from "../../src/registries.ts";
import { compileRules, loadRulesText } from "../../src/rules/index.ts";
import { falcoEvent } from "../support/events.ts";

const registries = createRegistries();
/** Rule sets that compiled without errors, so that matching is exercised too. */
let compiledSets = 0;
const FILE = "/rules/fuzz.yaml";

function check(text: string): void {
  let loaded: ReturnType<typeof loadRulesText>;
  try {
    loaded = loadRulesText(FILE, text);
  } catch (err) {
    assert.fail(`the loader threw on ${JSON.stringify(text)}: ${String(err)}`);
  }
  const compiled = compileRules(loaded.document, registries);
  const diagnostics = [...loaded.diagnostics, ...compiled.diagnostics];
  for (const d of diagnostics) {
    assert.ok(d.file === FILE || d.file.startsWith("<"), d.file);
    assert.ok(Number.isInteger(d.line) && d.line >= 0);
    assert.ok(d.message.trim().length > 0);
    assert.match(d.code, /^ERR_/);
  }
  const failed = diagnostics.some((d) => d.severity === "error");
  if (!failed && compiled.ruleSet !== undefined) {
    compiledSets++;
    for (const body of EVENTS) compiled.ruleSet.match(parseEvent(body).event);
  }
}

const EVENTS = [
  falcoEvent(),
  falcoEvent({ priority: "Debug", tags: [], fields: { "fd.name": "/etc/shadow", n: 3 } }),
  falcoEvent({ source: "k8s_audit", tags: ["T1", "a:b"] }),
];

const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: true }));
const anyValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 3 }));
const priorityCondition = fc
  .tuple(fc.constantFrom("", "<", "<=", ">", ">=", "=", "=>", "!"), fc.constantFrom("Warning", "info", "Critical", "nope", ""))
  .map(([op, p]) => op + p);
const matchBlock = fc.record(
  {
    rules: fc.oneof(
      fc.array(fc.constantFrom("Terminal shell in container", "Read sensitive file untrusted", ""), { maxLength: 3 }),
      anyValue,
    ),
    priority: fc.oneof(priorityCondition, anyValue),
    tags: fc.oneof(fc.array(fc.constantFrom("T1059, container", "shell", "a:b", ",", ""), { maxLength: 3 }), anyValue),
    output_fields: fc.oneof(
      fc.array(fc.constantFrom("k8s.ns.name=default", "fd.name!=/etc/shadow, n=3", "broken", "a=", "=b", 'x="a=b,c"'), { maxLength: 3 }),
      anyValue,
    ),
    source: fc.oneof(fc.constantFrom("syscall", "k8s_audit", ""), anyValue),
  },
  { requiredKeys: [] },
);
const actionItem = fc.record(
  {
    action: fc.oneof(fc.constantFrom("Terminate", "Label", "Block"), anyValue),
    actionner: fc.oneof(
      fc.constantFrom("kubernetes:terminate", "kubernetes:label", "local:command", "nope:nothing", "kubernetes"),
      anyValue,
    ),
    parameters: fc.oneof(
      fc.record(
        { command: fc.constant(["/bin/true"]), labels: fc.dictionary(fc.string({ maxLength: 5 }), scalar, { maxKeys: 2 }) },
        { requiredKeys: [] },
      ),
      anyValue,
    ),
    continue: fc.oneof(fc.boolean(), fc.constantFrom("true", "false", "maybe")),
    ignore_errors: fc.oneof(fc.boolean(), anyValue),
    output: fc.oneof(
      fc.record({
        target: fc.constantFrom("local:file", "aws:s3", "x"),
        parameters: fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 2 }),
      }),
      anyValue,
    ),
    additional_contexts: fc.oneof(fc.array(fc.constantFrom("k8snode", "aws", "nope"), { maxLength: 2 }), anyValue),
  },
  { requiredKeys: [] },
);
const ruleItem = fc.record(
  {
    rule: fc.oneof(fc.constantFrom("Shells", "Files", ""), anyValue),
    match: fc.oneof(matchBlock, anyValue),
    actions: fc.oneof(fc.array(actionItem, { maxLength: 3 }), anyValue),
    notifiers: fc.oneof(fc.array(fc.constantFrom("webhook", "slack", "nope"), { maxLength: 2 }), anyValue),
    continue: fc.oneof(fc.boolean(), anyValue),
    dry_run: fc.oneof(fc.boolean(), fc.constantFrom("true", "no")),
    override: fc.oneof(fc.record({ actions: fc.constantFrom("append", "replace", "x") }), anyValue),
    append: fc.oneof(fc.boolean(), anyValue),
  },
  { requiredKeys: [] },
);
const actionBlock = fc.record(
  {
    action: fc.constantFrom("Terminate", "Label"),
    actionner: fc.constantFrom("kubernetes:terminate", "kubernetes:label", "bad"),
    parameters: anyValue,
  },
  { requiredKeys: [] },
);

describe("rules loader fuzzing", () => {
  it("never throws on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), check), { numRuns: 1500 });
  });

  it("never throws on YAML-ish text made of rule syntax fragments", () => {
    const fragment = fc.constantFrom(
      "- rule: x\n",
      "  match:\n",
      "    rules: [a]\n",
      "  actions:\n",
      "    - action: y\n",
      "      actionner: kubernetes:terminate\n",
      "- action: y\n",
      "  override: { actions: append }\n",
      "  - ",
      ": ",
      "{",
      "[",
      "'",
      '"',
      "&a ",
      "*a\n",
      "!!binary ",
      "---\n",
      "\t",
      "<<: *a\n",
    );
    fc.assert(
      fc.property(
        fc.array(fragment, { maxLength: 25 }).map((a) => a.join("")),
        check,
      ),
      { numRuns: 1500 },
    );
  });

  it("never throws on rule-shaped documents with arbitrary values, and reports each problem with file and line", () => {
    const before = compiledSets;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(ruleItem, actionBlock, anyValue), { maxLength: 5 }).map((doc) => stringify(doc)),
        check,
      ),
      { numRuns: 800 },
    );
    assert.ok(compiledSets > before, "some generated rule sets compile, so matching was exercised");
  });
});
