// `kestrel rules test`: what the rules would do with Falco events, without doing it. Events come from JSON
// files (one event, or a list), NDJSON files (Falco's file_output with json_output: true), or stdin; for
// each, the rules matched and why the others are not, the actions that would run with their parameters
// rendered, the continue / ignore_errors / dry_run decisions and the notifiers called (engine/plan.ts).
// Nothing runs and no client is created. `--expect FILE` checks the plans against expectations
// (engine/plan-expect.ts). Exit codes: 0 every expectation met (or none given), 1 a difference, 2 bad input
// (configuration, rules, events or expect file).
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { stringify } from "yaml";
import { DELIVERY_KEYS, deliverySettings, type NotificationFilter, notificationFilter } from "../config/delivery.ts";
import type { Config } from "../config/schema.ts";
import { type EventPlan, type PlannedAction, type PlannedNotifier, type PlanOptions, planEvent } from "../engine/plan.ts";
import { checkPlan, type ExpectCase, parseExpectations } from "../engine/plan-expect.ts";
import { errorMessage } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { bigintReplacer } from "../events/fields.ts";
import { EventError, parseJson, validateEvent } from "../events/parse.ts";
import { createRegistries } from "../registries.ts";
import type { RuleSet } from "../rules/types.ts";
import { ExitError, type GlobalOptions, loadSetup, SetupError } from "./shared.ts";

export interface RulesTestOptions extends GlobalOptions {
  expect?: string;
  format?: "text" | "json";
}

/** One event read from the input: its place (`file`, `file:line`, `file[i]`, `<stdin>:line`) and the event or why it is invalid. */
export type InputEvent = { readonly source: string; readonly event: FalcoEvent } | { readonly source: string; readonly error: string };

interface Tested {
  readonly source: string;
  readonly event: FalcoEvent;
  readonly plan: EventPlan;
}

interface CaseResult {
  readonly case: ExpectCase;
  readonly at: string;
  /** The events the case names, or why they could not be read. */
  readonly events: readonly string[];
  readonly differences: readonly string[];
}

export async function rulesTestCommand(paths: readonly string[], options: RulesTestOptions): Promise<void> {
  // The server's own validation (loadSetup, as rules check): what would not start is not tested.
  let config: Config;
  let ruleSet: RuleSet;
  try {
    ({ config, ruleSet } = (await loadSetup(options, createRegistries())).setup);
  } catch (err) {
    if (err instanceof ExitError) throw new ExitError(2, err instanceof SetupError ? "invalid configuration or rules" : err.message);
    throw err;
  }

  const cases = options.expect === undefined ? [] : await readExpectations(options.expect);
  if (paths.length === 0 && options.expect === undefined && process.stdin.isTTY) {
    throw new ExitError(2, "no events: name event files (JSON or NDJSON, - for stdin), pipe events on stdin, or give --expect FILE");
  }
  const inputs: InputEvent[] = [];
  const sources = paths.length === 0 && options.expect === undefined ? ["-"] : paths;
  for (const path of sources) inputs.push(...(await readEventsFrom(path)));

  const planOptions = planOptionsOf(config);
  const tested: Tested[] = [];
  const invalid: { source: string; error: string }[] = [];
  const plan = (input: InputEvent): Tested | undefined => {
    if ("error" in input) {
      invalid.push(input);
      return undefined;
    }
    const t = { source: input.source, event: input.event, plan: planEvent(ruleSet, input.event, planOptions) };
    tested.push(t);
    return t;
  };
  for (const input of inputs) plan(input);
  const results: CaseResult[] = [];
  for (const c of cases) {
    const events = await caseEvents(c, options.expect!);
    const differences: string[] = [];
    for (const input of events) {
      const t = plan(input);
      if (t === undefined) differences.push(`${input.source}: ${(input as { error: string }).error}`);
      else for (const d of checkPlan(t.plan, c)) differences.push(events.length > 1 ? `${input.source}: ${d}` : d);
    }
    results.push({ case: c, at: `${c.at.file}:${c.at.line}:${c.at.column}`, events: events.map((e) => e.source), differences });
  }

  for (const e of invalid) process.stderr.write(`${e.source}: invalid event: ${e.error}\n`);
  if (options.format === "json") process.stdout.write(`${JSON.stringify(jsonReport(tested, invalid, results), bigintReplacer, 2)}\n`);
  else process.stdout.write(textReport(tested, invalid, results, cases.length > 0));
  if (invalid.length > 0) throw new ExitError(2);
  if (results.some((r) => r.differences.length > 0)) throw new ExitError(1);
}

/** The notifier settings the plan needs: default_notifiers and each notifier's min_priority / on_status. */
export function planOptionsOf(config: Config): PlanOptions {
  const filters = new Map<string, NotificationFilter>();
  for (const [name, settings] of Object.entries(config.notifiers)) {
    const picked: Record<string, unknown> = {};
    for (const k of DELIVERY_KEYS)
      if (settings !== null && typeof settings === "object" && k in settings) picked[k] = (settings as Record<string, unknown>)[k];
    const parsed = deliverySettings.safeParse(picked);
    if (parsed.success) filters.set(name, notificationFilter(parsed.data));
  }
  return { defaultNotifiers: config.default_notifiers, notifierFilters: filters };
}

async function readExpectations(file: string): Promise<ExpectCase[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ExitError(2, `cannot read the expect file ${file}: ${errorMessage(err)}`);
  }
  const { cases, problems } = parseExpectations(file, text);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p.file}:${p.line}:${p.column}: error ${p.message}\n`);
    throw new ExitError(2, `invalid expect file ${file}`);
  }
  return cases;
}

/** The events a case names: a file (relative to the expect file), one line of it, or the inline event. */
async function caseEvents(c: ExpectCase, expectFile: string): Promise<InputEvent[]> {
  const at = `${c.at.file}:${c.at.line}:${c.at.column}`;
  if ("inline" in c.event) {
    try {
      return [{ source: `${at} (inline event)`, event: validateEvent(c.event.inline).event }];
    } catch (err) {
      return [{ source: `${at} (inline event)`, error: errorMessage(err) }];
    }
  }
  const { file, line } = c.event;
  const events = await readEventsFrom(resolve(dirname(expectFile), file), file);
  if (line === undefined) return events;
  const label = `${file}:${line}`;
  const found = events.find((e) => e.source === label || (e.source === file && line === 1));
  return [found ?? { source: label, error: `no event on line ${line} (the case at ${at})` }];
}

/** Reads the events of a file ("-": stdin), labelled with `label` (the path as given). */
export async function readEventsFrom(path: string, label = path): Promise<InputEvent[]> {
  let text: string;
  const name = path === "-" ? "<stdin>" : label;
  try {
    text = path === "-" ? await readStdin() : await readFile(path, "utf8");
  } catch (err) {
    return [{ source: name, error: `cannot read: ${errorMessage(err)}` }];
  }
  return parseEvents(name, text);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The events of a text: one JSON event, a JSON list of events, or NDJSON (one event a line, blank lines skipped). */
export function parseEvents(name: string, text: string): InputEvent[] {
  const trimmed = text.trim();
  if (trimmed === "") return [{ source: name, error: "no event: the input is empty" }];
  let whole: unknown;
  let wholeError: string | undefined;
  try {
    whole = JSON.parse(trimmed);
  } catch (err) {
    wholeError = errorMessage(err);
  }
  if (wholeError === undefined) {
    if (Array.isArray(whole)) {
      const exact = parseJson(trimmed) as unknown[]; // integers beyond 2^53 kept exact
      return exact.map((v, i) => one(`${name}[${i}]`, () => validateEvent(v).event));
    }
    return [one(name, () => validateEvent(whole, trimmed).event)];
  }
  const lines = text.split("\n");
  const out: InputEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const source = `${name}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      // A first line that is no JSON: the file is neither JSON nor NDJSON; one message, not one per line.
      if (out.length === 0) return [{ source: name, error: `neither a JSON event nor NDJSON (one event a line): ${wholeError}` }];
      out.push({ source, error: `not JSON: ${errorMessage(err)}` });
      continue;
    }
    out.push(one(source, () => validateEvent(value, line).event));
  }
  return out;
}

function one(source: string, parse: () => FalcoEvent): InputEvent {
  try {
    return { source, event: parse() };
  } catch (err) {
    const field = err instanceof EventError && err.field !== undefined ? ` (field ${err.field})` : "";
    return { source, error: `${errorMessage(err)}${field}` };
  }
}

// ---- reports ----

function notifierText(n: PlannedNotifier): string {
  return n.onStatus === undefined ? n.name : `${n.name} (on_status: ${n.onStatus.join(", ")})`;
}

function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text
    .trimEnd()
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

function actionText(a: PlannedAction, n: number): string {
  const lines: string[] = [];
  const mode = a.mode === "dry_run" ? "dry run: not executed" : a.error !== undefined ? "would fail" : "would run";
  lines.push(`${n}. action "${a.action}" (${a.actionner}): ${mode}`);
  if (a.error !== undefined) lines.push(`   error: ${a.error}`);
  if (Object.keys(a.parameters).length > 0) lines.push("   parameters:", indent(stringify(a.parameters, { lineWidth: 0 }), 5));
  if (a.output !== undefined) {
    lines.push(`   output: ${a.output.target}`);
    if (Object.keys(a.output.parameters).length > 0) lines.push(indent(stringify(a.output.parameters, { lineWidth: 0 }), 5));
  }
  for (const c of a.contexts) {
    const shown = c.keys.length > 0 ? `its values (${c.keys.join(", ")}) are shown as <${c.name}: key>` : "its values are unknown";
    lines.push(`   context ${c.name}: not gathered (it needs a client), ${shown}`);
  }
  const cont = `continue: ${a.continue}${a.continueFrom === "actionner default" ? ` (${a.actionner} default)` : ""}`;
  let failure = "";
  if (a.mode === "run") {
    failure = a.ignoreErrors
      ? "; ignore_errors: true (a failure does not stop the rule)"
      : `; ignore_errors: false${a.onFailureSkips.length > 0 ? ` (a failure skips ${a.onFailureSkips.map((x) => `"${x}"`).join(", ")})` : ""}`;
  }
  lines.push(`   ${cont}${failure}`);
  for (const w of a.warnings) lines.push(`   warning: ${w}`);
  if (a.mode === "run") {
    const told = a.notifiers.length > 0 ? a.notifiers.map(notifierText).join(", ") : "none";
    lines.push(`   notifiers: ${told}${a.notifiersFiltered.length > 0 ? `; not ${a.notifiersFiltered.join(", ")} (min_priority)` : ""}`);
  }
  return lines.join("\n");
}

function eventText(t: Tested): string {
  const e = t.event;
  const out: string[] = [`== ${t.source}`];
  out.push(
    `event: ${JSON.stringify(e.rule)}, ${e.priority}, source ${e.source}${e.hostname !== "" ? `, hostname ${e.hostname}` : ""}${e.tags.length > 0 ? `, tags ${e.tags.join(", ")}` : ""}`,
  );
  const p = t.plan;
  if (p.matched.length === 0) out.push("matched: no rule");
  else out.push(`matched: ${p.matched.map((r) => JSON.stringify(r)).join(", ")}`);
  for (const r of p.rules) {
    const flags = [r.dryRun ? "dry_run: true" : "", r.stopsLaterRules ? "continue: false (stops the later rules)" : ""].filter(
      (f) => f !== "",
    );
    out.push(`  rule ${JSON.stringify(r.rule)}${flags.length > 0 ? ` (${flags.join(", ")})` : ""}`);
    if (r.actions.length === 0) {
      out.push(`    no action: the event goes to ${r.routedTo.length > 0 ? r.routedTo.map(notifierText).join(", ") : "no notifier"}`);
    }
    r.actions.forEach((a, i) => {
      out.push(indent(actionText(a, i + 1), 4));
    });
    for (const s of r.skipped) out.push(`    skipped: action "${s.action}": ${s.because}`);
  }
  for (const s of p.stopped) out.push(`  not run: rule ${JSON.stringify(s.rule)}: ${s.because}`);
  if (p.unmatched.length > 0) {
    out.push("not matched:");
    for (const u of p.unmatched)
      out.push(`  rule ${JSON.stringify(u.rule)}: ${u.failures.map((f) => `${f.criterion}: ${f.reason}`).join("; ")}`);
  }
  out.push(`notifiers called: ${p.notifiers.length > 0 ? p.notifiers.join(", ") : "none"}`);
  return `${out.join("\n")}\n`;
}

interface Summary {
  events: number;
  invalid: number;
  matched: number;
  unmatched: number;
  actions: number;
  dry_runs: number;
  failing: number;
  notifiers: string[];
  expectations?: { cases: number; met: number; failed: number };
}

function summarize(tested: readonly Tested[], invalid: readonly unknown[], results: readonly CaseResult[], withCases: boolean): Summary {
  const actions = tested.flatMap((t) => t.plan.rules.flatMap((r) => r.actions));
  const summary: Summary = {
    events: tested.length,
    invalid: invalid.length,
    matched: tested.filter((t) => t.plan.matched.length > 0).length,
    unmatched: tested.filter((t) => t.plan.matched.length === 0).length,
    actions: actions.filter((a) => a.mode === "run").length,
    dry_runs: actions.filter((a) => a.mode === "dry_run").length,
    failing: actions.filter((a) => a.mode === "run" && a.error !== undefined).length,
    notifiers: [...new Set(tested.flatMap((t) => t.plan.notifiers))],
  };
  if (withCases) {
    const failed = results.filter((r) => r.differences.length > 0).length;
    summary.expectations = { cases: results.length, met: results.length - failed, failed };
  }
  return summary;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function textReport(
  tested: readonly Tested[],
  invalid: readonly { source: string; error: string }[],
  results: readonly CaseResult[],
  withCases: boolean,
): string {
  let out = tested.map(eventText).join("\n");
  const s = summarize(tested, invalid, results, withCases);
  if (withCases) {
    out += "\nexpectations:\n";
    for (const r of results) {
      const ok = r.differences.length === 0;
      out += `  ${ok ? "ok  " : "FAIL"} ${r.at} ${JSON.stringify(r.case.name)} (${r.events.map((e) => (e.startsWith(r.at) ? "inline event" : e)).join(", ") || "no event"})\n`;
      for (const d of r.differences) out += `       ${d}\n`;
    }
  }
  out += `\nsummary: ${plural(s.events, "event")} (${s.matched} matched a rule, ${s.unmatched} none)`;
  out += `, ${plural(s.actions, "action")} would run${s.failing > 0 ? ` (${s.failing} would fail)` : ""}, ${plural(s.dry_runs, "dry run")}`;
  out += `, notifiers called: ${s.notifiers.length > 0 ? s.notifiers.join(", ") : "none"}`;
  if (s.invalid > 0) out += `, ${plural(s.invalid, "invalid event")}`;
  out += "\n";
  if (s.expectations !== undefined) {
    out += `expectations: ${plural(s.expectations.cases, "case")}, ${s.expectations.met} met, ${s.expectations.failed} not met\n`;
  }
  out += "nothing was executed and no client was contacted\n";
  return out;
}

function jsonReport(
  tested: readonly Tested[],
  invalid: readonly { source: string; error: string }[],
  results: readonly CaseResult[],
): unknown {
  return {
    events: tested.map((t) => ({
      source: t.source,
      event: { rule: t.event.rule, priority: t.event.priority, source: t.event.source, hostname: t.event.hostname, tags: t.event.tags },
      ...t.plan,
    })),
    invalid,
    expectations: results.map((r) => ({
      case: r.case.name,
      at: r.at,
      events: r.events,
      ok: r.differences.length === 0,
      differences: r.differences,
    })),
    summary: summarize(tested, invalid, results, results.length > 0),
  };
}
