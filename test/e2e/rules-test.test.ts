// `kestrel rules test`, run as a process: what the rules would do with events, nothing executed, and the
// --expect exit codes (0 met, 1 a difference, 2 bad input).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { moduleTrace } from "../support/module-trace.ts";
import { KESTREL_BIN } from "../support/process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const EXAMPLES = ["-c", "examples/config.yaml", "-r", "examples/rules.yaml"];

function kestrel(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  return spawnSync(process.execPath, [KESTREL_BIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-rules-test-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

interface JsonReport {
  events: {
    source: string;
    matched: string[];
    rules: {
      rule: string;
      actions: { action: string; mode: string; parameters: Record<string, unknown>; notifiers: { name: string }[]; error?: string }[];
    }[];
    unmatched: { rule: string; failures: { criterion: string; reason: string }[] }[];
    notifiers: string[];
  }[];
  invalid: { source: string; error: string }[];
  expectations: { case: string; ok: boolean; differences: string[] }[];
  summary: { events: number; invalid: number; actions: number; dry_runs: number; notifiers: string[] };
}

describe("kestrel rules test", () => {
  it("prints, for each example event, the rules matched and why the others are not, the actions with their parameters and the notifiers", () => {
    const r = kestrel(["rules", "test", ...EXAMPLES, "examples/events/terminal-shell.json", "examples/events/read-sensitive-file.json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /== examples\/events\/terminal-shell\.json/);
    assert.match(r.stdout, /matched: "Terminal shell in container"/);
    assert.match(r.stdout, /action "Record the alert" \(local:command\): would run/);
    assert.match(r.stdout, /- Terminal shell in container \(Notice\) in pod nginx-7c5ddbdf54-x2x9z of namespace default/);
    assert.match(r.stdout, /continue: true \(local:command default\); ignore_errors: false/);
    assert.match(r.stdout, /notifiers: stdout/);
    assert.match(r.stdout, /rule "Sensitive file read": priority: the priority Notice is not >=Warning/);
    assert.match(r.stdout, /rule "Sensitive file read" \(dry_run: true\)\n.*dry run: not executed/);
    assert.match(r.stdout, /summary: 2 events \(2 matched a rule, 0 none\), 1 action would run, 1 dry run, notifiers called: stdout/);
  });

  it("executes nothing and loads no client library, whatever the rules do", () => {
    const dir = tempDir({});
    const marker = join(dir, "marker");
    const rules = join(dir, "rules.yaml");
    writeFileSync(
      rules,
      `- rule: Acts
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Touch
      actionner: local:command
      parameters: { command: [/usr/bin/touch, "${marker}"] }
    - action: Node facts
      actionner: local:command
      additional_contexts: [k8snode]
      parameters: { command: [/usr/bin/touch, "${marker}-\${NODE_HOSTNAME}"] }
    - action: Terminate
      actionner: kubernetes:terminate
`,
    );
    const trace = moduleTrace();
    const r = kestrel(["rules", "test", "-r", rules, "--format", "json", "examples/events/terminal-shell.json"], { env: trace.env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(marker), false, "the command did not run");
    const report = JSON.parse(r.stdout) as JsonReport;
    const actions = report.events[0]!.rules[0]!.actions;
    assert.deepEqual(
      actions.map((a) => a.action),
      ["Touch", "Node facts", "Terminate"],
    );
    assert.deepEqual(actions[1]!.parameters["command"], ["/usr/bin/touch", `${marker}-<k8snode: node.hostname>`]);
    assert.ok(trace.loaded("/src/cli/main.ts").length > 0, "the module trace works");
    for (const library of ["/node_modules/@kubernetes/client-node/", "/node_modules/@aws-sdk/", "/node_modules/@google-cloud/"]) {
      assert.deepEqual(trace.loaded(library), [], `${library} is not loaded`);
    }
  });

  it("reads NDJSON (Falco's file_output) from stdin and prints JSON for tools", () => {
    const lines = ["examples/events/terminal-shell.json", "examples/events/namespace-created.json"].map((f) =>
      spawnSync("cat", [f], { cwd: ROOT, encoding: "utf8" }).stdout.trim(),
    );
    const r = kestrel(["rules", "test", ...EXAMPLES, "--format", "json"], { input: `${lines.join("\n")}\n\n` });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.deepEqual(
      report.events.map((e) => [e.source, e.matched]),
      [
        ["<stdin>:1", ["Terminal shell in container"]],
        ["<stdin>:2", ["Namespace created"]],
      ],
    );
    const logged = report.events[1]!.rules[0]!.actions[0]!;
    assert.deepEqual(logged.parameters["command"], ["/bin/echo", "namespace todelete created by alice@example.com"]);
    assert.deepEqual(
      logged.notifiers.map((n) => n.name),
      ["stdout"],
    );
    const why = report.events[0]!.unmatched.find((u) => u.rule === "Namespace created")!;
    assert.deepEqual(
      why.failures.map((f) => f.criterion),
      ["rules", "source"],
    );
    assert.equal(report.summary.actions, 2);
  });

  it("exits 2 on an invalid event, naming its file and line, after planning the others", () => {
    const dir = tempDir({
      "events.ndjson": `${JSON.stringify({ rule: "Terminal shell in container", priority: "Notice", output_fields: { "k8s.ns.name": "prod" } })}\n{"rule":"x","priority":"Loud","output":"o"}\n`,
    });
    const r = kestrel(["rules", "test", ...EXAMPLES, join(dir, "events.ndjson"), "examples/events/malformed.json"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /events\.ndjson:2: invalid event: unknown priority "Loud"/);
    assert.match(r.stderr, /examples\/events\/malformed\.json: invalid event: missing required field "priority"/);
    assert.match(r.stdout, /events\.ndjson:1\nevent: "Terminal shell in container"/);
  });
});

describe("kestrel rules test --expect", () => {
  it("meets the example expectations: exit 0", () => {
    const r = kestrel(["rules", "test", ...EXAMPLES, "--expect", "examples/expect.yaml"]);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /expectations: 4 cases, 4 met, 0 not met/);
  });

  it("exits 1 and prints each difference when the rules do not do what is expected", () => {
    const dir = tempDir({
      "expect.yaml": `- name: shell
  event: ${ROOT}examples/events/terminal-shell.json
  rules: [Terminal shell in container, Sensitive file read]
  unmatched: { Sensitive file read: source, Namespace created: rules }
  actions:
    - action: Record the alert
      parameters: { command: [/bin/echo, something else] }
  notifiers: [slack]
- name: template fails
  event: { rule: Terminal shell in container, priority: Notice, output_fields: { proc.name: bash } }
  actions: [Record the alert]
- name: met
  event: { rule: Terminal shell in container, priority: Notice, output_fields: { proc.name: bash } }
  actions: [{ action: Record the alert, fails: true }]
`,
    });
    const r = kestrel(["rules", "test", ...EXAMPLES, "--expect", join(dir, "expect.yaml"), "--format", "json"]);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.deepEqual(
      report.expectations.map((e) => e.ok),
      [false, false, true],
    );
    const [shell, template] = report.expectations;
    assert.deepEqual(shell!.differences, [
      `rules: expected ["Terminal shell in container", "Sensitive file read"], got ["Terminal shell in container"]`,
      `unmatched: the rule "Sensitive file read" fails priority, tags, not source`,
      `actions[0] "Record the alert": the parameter command is ["/bin/echo","Terminal shell in container (Notice) in pod nginx-7c5ddbdf54-x2x9z of namespace default"], expected ["/bin/echo","something else"]`,
      `notifiers: expected ["slack"], got ["stdout"]`,
    ]);
    assert.match(
      template!.differences[0]!,
      /actions\[0\] "Record the alert": would fail: the variable \$\{K8S_POD_NAME\} is not defined for this event/,
    );
  });

  it("exits 2 with file:line:col on a bad expect file", () => {
    const dir = tempDir({
      "expect.yaml": `- event: ${ROOT}examples/events/terminal-shell.json
  rulez: [x]
- event: ${ROOT}examples/events/terminal-shell.json
  unmatched: { Sensitive file read: priorty }
`,
      "broken.yaml": "- event: [unclosed\n",
    });
    const r = kestrel(["rules", "test", ...EXAMPLES, "--expect", join(dir, "expect.yaml")]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${dir}/expect\\.yaml:2:3: error unknown key "rulez" \\(did you mean "rules"\\?\\)`));
    assert.match(r.stderr, new RegExp(`${dir}/expect\\.yaml:4:\\d+: error the criterion is one of .*did you mean "priority"`));
    const broken = kestrel(["rules", "test", ...EXAMPLES, "--expect", join(dir, "broken.yaml")]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, new RegExp(`${dir}/broken\\.yaml:\\d+:\\d+: error `));
  });

  it("exits 2 on invalid rules, a missing event file and bad usage", () => {
    const rules = join(
      tempDir({
        "rules.yaml":
          "- rule: R\n  match: { priority: '>=Nope' }\n  actions: [{ action: A, actionner: local:command, parameters: { command: [/bin/true] } }]\n",
      }),
      "rules.yaml",
    );
    assert.equal(kestrel(["rules", "test", "-r", rules, "examples/events/terminal-shell.json"]).status, 2);
    const missing = kestrel(["rules", "test", ...EXAMPLES, "examples/events/nope.json"]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /examples\/events\/nope\.json: invalid event: cannot read/);
    const usage = kestrel(["rules", "test", ...EXAMPLES, "--format", "xml"]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--format <format>' argument 'xml' is invalid/);
  });
});
