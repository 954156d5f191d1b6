// `kestrel rules test`: what the rules would do with Falco events, without doing it. Events come from JSON
// files (one event, or a list), NDJSON files (Falco's file_output with json_output: true), or stdin; for
// each, the rules matched and why the others are not, the actions that would run with their parameters
// rendered, the continue / ignore_errors / dry_run decisions and the notifiers called (engine/plan.ts).
// Nothing runs and no client is created. `--expect FILE` checks the plans against expectations
// (engine/plan-expect.ts); the reports are written by rules-test-report.ts. Exit codes: 0 every expectation met (or none given), 1 a difference, 2 bad input
// (configuration, rules, events or expect file).
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DELIVERY_KEYS, deliverySettings, type NotificationFilter, notificationFilter } from "../config/delivery.ts";
import type { Config } from "../config/schema.ts";
import { type PlanOptions, planEvent } from "../engine/plan.ts";
import { checkPlan, type ExpectCase, parseExpectations } from "../engine/plan-expect.ts";
import { errorMessage } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { bigintReplacer } from "../events/fields.ts";
import { EventError, parseJson, validateEvent } from "../events/parse.ts";
import { createRegistries } from "../registries.ts";
import type { RuleSet } from "../rules/types.ts";
import { type CaseResult, jsonReport, type Tested, textReport } from "./rules-test-report.ts";
import { ExitError, type GlobalOptions, loadSetup, SetupError } from "./shared.ts";

export interface RulesTestOptions extends GlobalOptions {
  expect?: string;
  format?: "text" | "json";
}

/** One event read from the input: its place (`file`, `file:line`, `file[i]`, `<stdin>:line`) and the event or why it is invalid. */
export type InputEvent = { readonly source: string; readonly event: FalcoEvent } | { readonly source: string; readonly error: string };

export async function rulesTestCommand(paths: readonly string[], options: RulesTestOptions): Promise<void> {
  const { config, ruleSet } = await loadRules(options);
  const cases = options.expect === undefined ? [] : await readExpectations(options.expect);
  if (paths.length === 0 && options.expect === undefined && process.stdin.isTTY) {
    throw new ExitError(2, "no events: name event files (JSON or NDJSON, - for stdin), pipe events on stdin, or give --expect FILE");
  }
  const inputs: InputEvent[] = [];
  const sources = paths.length === 0 && options.expect === undefined ? ["-"] : paths;
  for (const path of sources) inputs.push(...(await readEventsFrom(path)));

  const planner = new Planner(ruleSet, planOptionsOf(config));
  for (const input of inputs) planner.plan(input);
  const results: CaseResult[] = [];
  for (const c of cases) results.push(await checkCase(c, options.expect!, planner));

  const { tested, invalid } = planner;
  for (const e of invalid) process.stderr.write(`${e.source}: invalid event: ${e.error}\n`);
  if (options.format === "json") process.stdout.write(`${JSON.stringify(jsonReport(tested, invalid, results), bigintReplacer, 2)}\n`);
  else process.stdout.write(textReport(tested, invalid, results, cases.length > 0));
  if (invalid.length > 0) throw new ExitError(2);
  if (results.some((r) => r.differences.length > 0)) throw new ExitError(1);
}

/** The server's own validation (loadSetup, as rules check): what would not start is not tested. */
async function loadRules(options: RulesTestOptions): Promise<{ config: Config; ruleSet: RuleSet }> {
  try {
    return (await loadSetup(options, createRegistries())).setup;
  } catch (err) {
    if (err instanceof ExitError) throw new ExitError(2, err instanceof SetupError ? "invalid configuration or rules" : err.message);
    throw err;
  }
}

/** Plans each valid event and keeps the invalid ones apart, in the order they come. */
class Planner {
  readonly tested: Tested[] = [];
  readonly invalid: { source: string; error: string }[] = [];
  readonly #ruleSet: RuleSet;
  readonly #options: PlanOptions;

  constructor(ruleSet: RuleSet, options: PlanOptions) {
    this.#ruleSet = ruleSet;
    this.#options = options;
  }

  plan(input: InputEvent): Tested | undefined {
    if ("error" in input) {
      this.invalid.push(input);
      return undefined;
    }
    const t = { source: input.source, event: input.event, plan: planEvent(this.#ruleSet, input.event, this.#options) };
    this.tested.push(t);
    return t;
  }
}

/** Plans the events a case names and compares each plan with the case. */
async function checkCase(c: ExpectCase, expectFile: string, planner: Planner): Promise<CaseResult> {
  const events = await caseEvents(c, expectFile);
  const differences: string[] = [];
  for (const input of events) {
    const t = planner.plan(input);
    if (t === undefined) differences.push(`${input.source}: ${(input as { error: string }).error}`);
    else for (const d of checkPlan(t.plan, c)) differences.push(events.length > 1 ? `${input.source}: ${d}` : d);
  }
  return { case: c, at: `${c.at.file}:${c.at.line}:${c.at.column}`, events: events.map((e) => e.source), differences };
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
