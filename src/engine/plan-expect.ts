// `kestrel rules test --expect FILE`: expectations about what the rules would do with given events, checked
// against the plans (plan.ts), so that teams can unit-test their response rules in CI. The file is a YAML
// list of cases (examples/expect.yaml):
//
//   - name: a shell in an application pod is recorded    # optional, for messages
//     event: events/terminal-shell.json                  # a JSON or NDJSON file, relative to this file; every event in it is checked
//     line: 3                                            # optional: only that line of an NDJSON file
//     rules: [Terminal shell in container]               # exactly the rules the event matches, in order
//     unmatched: {Sensitive file read: priority}         # rules that must not match (a list), or rule → the criterion that fails
//     actions:                                           # exactly the actions that would run, in order
//       - Record the alert                               # an action name, or a map:
//       - {action: Log, rule: R, actionner: local:command, parameters: {command: [...]}, fails: true}
//     dry_run: [Record the alert]                        # exactly the actions reported as dry runs, in order
//     notifiers: [stdout]                                # exactly the notifiers called (any order)
//
// `event` may also be the Falco event itself (a map). Every key but `event` is optional; a key left out is
// not checked. An action listed without `fails: true` must not fail for certain (a template naming a field
// the event lacks); `parameters` compares only the keys given, with the rendered (and redacted) values.
import { isDeepStrictEqual } from "node:util";
import type { Criterion } from "../rules/explain.ts";
import { didYouMean, type Position, YamlSource } from "../yaml/source.ts";
import type { EventPlan, PlannedAction } from "./plan.ts";

export interface ActionExpectation {
  readonly action: string;
  readonly rule: string | undefined;
  readonly actionner: string | undefined;
  readonly parameters: Readonly<Record<string, unknown>> | undefined;
  readonly fails: boolean;
}

export interface ExpectCase {
  /** The case's name, else `case N`. */
  readonly name: string;
  readonly at: Position;
  /** A file (resolved by the caller against the expect file's folder) or an inline event. */
  readonly event: { readonly file: string; readonly line: number | undefined } | { readonly inline: unknown };
  readonly rules: readonly string[] | undefined;
  readonly unmatched: ReadonlyMap<string, Criterion | undefined> | undefined;
  readonly actions: readonly ActionExpectation[] | undefined;
  readonly dryRun: readonly ActionExpectation[] | undefined;
  readonly notifiers: readonly string[] | undefined;
}

/** A problem in the expect file, at its place. */
export interface ExpectProblem extends Position {
  readonly message: string;
}

const CASE_KEYS = ["name", "event", "line", "rules", "unmatched", "actions", "dry_run", "notifiers"] as const;
const ACTION_KEYS = ["action", "rule", "actionner", "parameters", "fails"] as const;
const CRITERIA: readonly Criterion[] = ["rules", "source", "priority", "tags", "output_fields"];

/** Parses an expect file; the cases, or the problems (file:line:col) when there is any. */
export function parseExpectations(file: string, text: string): { cases: ExpectCase[]; problems: ExpectProblem[] } {
  const source = new YamlSource(file, text);
  const problems: ExpectProblem[] = source
    .syntaxDiagnostics("ERR_RULES_INVALID")
    .map((d) => ({ file: d.file, line: d.line, column: d.column, message: d.message }));
  if (problems.length > 0) return { cases: [], problems };
  const root = source.toJS();
  const problem: Report = Object.assign(
    (path: (string | number)[], message: string, key = false): void => {
      problems.push({ ...(key ? source.locateKey(path) : source.locate(path)), message });
    },
    { count: () => problems.length },
  );
  if (!Array.isArray(root)) {
    problem([], "an expect file is a YAML list of cases, each with an `event` and what it should do (rules, actions, notifiers…)");
    return { cases: [], problems };
  }
  const cases: ExpectCase[] = [];
  root.forEach((item: unknown, i) => {
    const c = parseCase(item, [i], problem);
    if (c !== undefined) cases.push({ ...c, at: source.locate([i]) });
  });
  if (cases.length === 0 && problems.length === 0) problem([], "the expect file has no case");
  return { cases, problems };
}

/** Reports a problem at a path of the document (at its key with `key`); `count()`: the problems so far. */
interface Report {
  (path: (string | number)[], message: string, key?: boolean): void;
  count(): number;
}

function parseCase(item: unknown, path: (string | number)[], problem: Report): Omit<ExpectCase, "at"> | undefined {
  if (!isMap(item)) {
    problem(path, `a case is a map with an \`event\` (got ${kind(item)})`);
    return undefined;
  }
  const before = problem.count();
  unknownKeys(item, path, CASE_KEYS, problem);
  const name = item["name"] === undefined ? `case ${Number(path[0]) + 1}` : stringAt(item["name"], [...path, "name"], problem);
  const event = eventOf(item, path, problem);
  const at = (key: string): (string | number)[] => [...path, key];
  const rules = item["rules"] === undefined ? undefined : stringList(item["rules"], at("rules"), problem);
  const unmatched = item["unmatched"] === undefined ? undefined : unmatchedOf(item["unmatched"], at("unmatched"), problem);
  const actions = item["actions"] === undefined ? undefined : actionList(item["actions"], at("actions"), problem, true);
  const dryRun = item["dry_run"] === undefined ? undefined : actionList(item["dry_run"], at("dry_run"), problem, false);
  const notifiers = item["notifiers"] === undefined ? undefined : stringList(item["notifiers"], at("notifiers"), problem);
  if (problem.count() > before || event === undefined) return undefined;
  return { name: name ?? "", event, rules, unmatched, actions, dryRun, notifiers };
}

/** Reports each key of `map` that is not one of `keys`, with the closest known one. */
function unknownKeys(map: Record<string, unknown>, path: (string | number)[], keys: readonly string[], problem: Report): void {
  for (const key of Object.keys(map)) {
    if (!keys.includes(key)) problem([...path, key], `unknown key "${key}"${didYouMean(key, keys)} (${keys.join(", ")})`, true);
  }
}

/** The case's event: a file (with the NDJSON `line` to take) or the Falco event written inline. */
function eventOf(item: Record<string, unknown>, path: (string | number)[], problem: Report): ExpectCase["event"] | undefined {
  const rawEvent = item["event"];
  const line = item["line"];
  if (rawEvent === undefined) {
    problem(path, "the case has no `event`: a JSON or NDJSON file (relative to this file) or the Falco event itself");
    return undefined;
  }
  if (typeof rawEvent === "string") {
    if (line !== undefined && !(Number.isInteger(line) && (line as number) >= 1))
      problem([...path, "line"], "`line` is a line number (1, 2, …) of the NDJSON file");
    return { file: rawEvent, line: typeof line === "number" ? line : undefined };
  }
  if (isMap(rawEvent)) {
    if (line !== undefined) problem([...path, "line"], "`line` selects a line of an event file: the event here is written inline");
    return { inline: rawEvent };
  }
  problem([...path, "event"], `\`event\` is a file name or a Falco event (a map), got ${kind(rawEvent)}`);
  return undefined;
}

function stringAt(value: unknown, path: (string | number)[], problem: Report): string | undefined {
  if (typeof value === "string") return value;
  problem(path, `expected a string, got ${kind(value)}`);
  return undefined;
}

function stringList(value: unknown, path: (string | number)[], problem: Report): string[] | undefined {
  if (!Array.isArray(value)) {
    problem(path, `expected a list of names, got ${kind(value)}`);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((v: unknown, i) => {
    const s = stringAt(v, [...path, i], problem);
    if (s !== undefined) out.push(s);
  });
  return out.length === value.length ? out : undefined;
}

function unmatchedOf(value: unknown, path: (string | number)[], problem: Report): Map<string, Criterion | undefined> | undefined {
  if (Array.isArray(value)) {
    const names = stringList(value, path, problem);
    return names === undefined ? undefined : new Map(names.map((n) => [n, undefined]));
  }
  if (!isMap(value)) {
    problem(path, `\`unmatched\` is a list of rule names, or a map of rule name → the criterion that fails (${CRITERIA.join(", ")})`);
    return undefined;
  }
  const out = new Map<string, Criterion | undefined>();
  for (const [rule, criterion] of Object.entries(value)) {
    if (typeof criterion === "string" && (CRITERIA as readonly string[]).includes(criterion)) out.set(rule, criterion as Criterion);
    else
      problem(
        [...path, rule],
        `the criterion is one of ${CRITERIA.join(", ")}${typeof criterion === "string" ? didYouMean(criterion, CRITERIA) : ""}`,
      );
  }
  return out;
}

function actionList(value: unknown, path: (string | number)[], problem: Report, canFail: boolean): ActionExpectation[] | undefined {
  if (!Array.isArray(value)) {
    problem(path, `expected a list of actions (names, or maps with \`action\`), got ${kind(value)}`);
    return undefined;
  }
  const out: ActionExpectation[] = [];
  value.forEach((v: unknown, i) => {
    const action = actionOf(v, [...path, i], problem, canFail);
    if (action !== undefined) out.push(action);
  });
  return out;
}

/** One expected action: its name, or a map with `action` and what else to compare. */
function actionOf(v: unknown, at: (string | number)[], problem: Report, canFail: boolean): ActionExpectation | undefined {
  if (typeof v === "string") return { action: v, rule: undefined, actionner: undefined, parameters: undefined, fails: false };
  if (!isMap(v)) {
    problem(at, `an action is its name or a map with \`action\`, got ${kind(v)}`);
    return undefined;
  }
  unknownKeys(v, at, canFail ? ACTION_KEYS : ACTION_KEYS.filter((k) => k !== "fails"), problem);
  const optionalString = (key: string): string | undefined => (v[key] === undefined ? undefined : stringAt(v[key], [...at, key], problem));
  const action = optionalString("action");
  if (v["action"] === undefined) problem(at, "the action's name is missing (`action: …`)");
  const rule = optionalString("rule");
  const actionner = optionalString("actionner");
  const parameters = v["parameters"];
  if (parameters !== undefined && !isMap(parameters))
    problem([...at, "parameters"], `\`parameters\` is a map of the parameters to compare, got ${kind(parameters)}`);
  const fails = v["fails"];
  if (fails !== undefined && typeof fails !== "boolean") problem([...at, "fails"], "`fails` is true or false");
  if (action === undefined) return undefined;
  return { action, rule, actionner, parameters: isMap(parameters) ? parameters : undefined, fails: fails === true };
}

/** What differs between a plan and a case; empty when the plan meets it. */
export function checkPlan(plan: EventPlan, c: ExpectCase): string[] {
  const out: string[] = [];
  if (c.rules !== undefined && !isDeepStrictEqual([...plan.matched], [...c.rules])) {
    out.push(`rules: expected ${list(c.rules)}, got ${list(plan.matched)}`);
  }
  if (c.unmatched !== undefined) out.push(...checkUnmatched(plan, c.unmatched));
  const all = plan.rules.flatMap((r) => r.actions);
  const planned = (mode: PlannedAction["mode"]) => all.filter((a) => a.mode === mode);
  if (c.actions !== undefined) out.push(...compareActions("actions", c.actions, planned("run")));
  if (c.dryRun !== undefined) out.push(...compareActions("dry_run", c.dryRun, planned("dry_run")));
  if (c.notifiers !== undefined) {
    const expected = [...new Set(c.notifiers)].sort();
    const got = [...plan.notifiers].sort();
    if (!isDeepStrictEqual(expected, got)) out.push(`notifiers: expected ${list(expected)}, got ${list(got)}`);
  }
  return out;
}

/** Each rule expected not to match: it exists, does not match, and fails the expected criterion. */
function checkUnmatched(plan: EventPlan, unmatched: ReadonlyMap<string, Criterion | undefined>): string[] {
  const out: string[] = [];
  for (const [rule, criterion] of unmatched) {
    const u = plan.unmatched.find((x) => x.rule === rule);
    if (u === undefined) {
      out.push(plan.matched.includes(rule) ? `unmatched: the rule "${rule}" matches` : `unmatched: there is no rule "${rule}"`);
    } else if (criterion !== undefined && !u.failures.some((f) => f.criterion === criterion)) {
      out.push(`unmatched: the rule "${rule}" fails ${u.failures.map((f) => f.criterion).join(", ")}, not ${criterion}`);
    }
  }
  return out;
}

function compareActions(key: string, expected: readonly ActionExpectation[], got: readonly PlannedAction[]): string[] {
  const names = (xs: readonly { rule?: string | undefined; action: string }[]): string =>
    list(xs.map((x) => (x.rule === undefined ? x.action : `${x.rule} › ${x.action}`)));
  const sameOrder =
    expected.length === got.length &&
    expected.every((e, i) => e.action === got[i]!.action && (e.rule === undefined || e.rule === got[i]!.rule));
  if (!sameOrder) return [`${key}: expected ${names(expected)}, got ${names(got)}`];
  return expected.flatMap((e, i) => compareAction(`${key}[${i}] "${got[i]!.action}"`, e, got[i]!));
}

/** What differs between one expected action and the planned one at its place (`which` names it). */
function compareAction(which: string, e: ActionExpectation, g: PlannedAction): string[] {
  const out: string[] = [];
  if (e.actionner !== undefined && e.actionner !== g.actionner)
    out.push(`${which}: expected the actionner ${e.actionner}, got ${g.actionner}`);
  if (e.fails && g.error === undefined) out.push(`${which}: expected to fail, but nothing makes it fail before it runs`);
  if (!e.fails && g.error !== undefined) out.push(`${which}: would fail: ${g.error}`);
  for (const [param, value] of Object.entries(e.parameters ?? {})) {
    if (!isDeepStrictEqual(g.parameters[param], value)) {
      out.push(
        `${which}: the parameter ${param} is ${JSON.stringify(g.parameters[param]) ?? "not set"}, expected ${JSON.stringify(value)}`,
      );
    }
  }
  return out;
}

function list(xs: readonly string[]): string {
  return `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `the ${typeof v} ${JSON.stringify(v)}`;
}
