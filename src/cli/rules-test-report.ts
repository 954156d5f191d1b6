// The reports of `kestrel rules test` (rules-test.ts): for each event, in text for a person or JSON for a
// program, the rules matched and why the others are not, the actions that would run with their parameters,
// the continue / ignore_errors / dry_run decisions and the notifiers called; then the expectations and a
// summary.
import { stringify } from "yaml";
import type { EventPlan, PlannedAction, PlannedNotifier, PlannedRule } from "../engine/plan.ts";
import type { ExpectCase } from "../engine/plan-expect.ts";
import type { FalcoEvent } from "../events/event.ts";

export interface Tested {
  readonly source: string;
  readonly event: FalcoEvent;
  readonly plan: EventPlan;
}

export interface CaseResult {
  readonly case: ExpectCase;
  readonly at: string;
  /** The events the case names, or why they could not be read. */
  readonly events: readonly string[];
  readonly differences: readonly string[];
}

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
  lines.push(`   ${decisionsText(a)}`);
  for (const w of a.warnings) lines.push(`   warning: ${w}`);
  if (a.mode === "run") lines.push(`   notifiers: ${resultNotifiersText(a)}`);
  return lines.join("\n");
}

/** `continue` and, for an action that runs, `ignore_errors` and what a failure would skip. */
function decisionsText(a: PlannedAction): string {
  const cont = `continue: ${a.continue}${a.continueFrom === "actionner default" ? ` (${a.actionner} default)` : ""}`;
  if (a.mode !== "run") return cont;
  if (a.ignoreErrors) return `${cont}; ignore_errors: true (a failure does not stop the rule)`;
  const skips = a.onFailureSkips.length > 0 ? ` (a failure skips ${a.onFailureSkips.map((x) => `"${x}"`).join(", ")})` : "";
  return `${cont}; ignore_errors: false${skips}`;
}

/** The notifiers told of the action's result, and those its min_priority leaves out. */
function resultNotifiersText(a: PlannedAction): string {
  const told = a.notifiers.length > 0 ? a.notifiers.map(notifierText).join(", ") : "none";
  return `${told}${a.notifiersFiltered.length > 0 ? `; not ${a.notifiersFiltered.join(", ")} (min_priority)` : ""}`;
}

function eventText(t: Tested): string {
  const e = t.event;
  const p = t.plan;
  const hostname = e.hostname !== "" ? `, hostname ${e.hostname}` : "";
  const tags = e.tags.length > 0 ? `, tags ${e.tags.join(", ")}` : "";
  const out: string[] = [`== ${t.source}`, `event: ${JSON.stringify(e.rule)}, ${e.priority}, source ${e.source}${hostname}${tags}`];
  out.push(p.matched.length === 0 ? "matched: no rule" : `matched: ${p.matched.map((r) => JSON.stringify(r)).join(", ")}`);
  for (const r of p.rules) out.push(...ruleLines(r));
  for (const s of p.stopped) out.push(`  not run: rule ${JSON.stringify(s.rule)}: ${s.because}`);
  if (p.unmatched.length > 0) {
    out.push("not matched:");
    for (const u of p.unmatched)
      out.push(`  rule ${JSON.stringify(u.rule)}: ${u.failures.map((f) => `${f.criterion}: ${f.reason}`).join("; ")}`);
  }
  out.push(`notifiers called: ${p.notifiers.length > 0 ? p.notifiers.join(", ") : "none"}`);
  return `${out.join("\n")}\n`;
}

/** A matched rule that acts: its flags, its actions in order (or where the event goes), what it skips. */
function ruleLines(r: PlannedRule): string[] {
  const flags = [r.dryRun ? "dry_run: true" : "", r.stopsLaterRules ? "continue: false (stops the later rules)" : ""].filter(
    (f) => f !== "",
  );
  const out = [`  rule ${JSON.stringify(r.rule)}${flags.length > 0 ? ` (${flags.join(", ")})` : ""}`];
  if (r.actions.length === 0) {
    out.push(`    no action: the event goes to ${r.routedTo.length > 0 ? r.routedTo.map(notifierText).join(", ") : "no notifier"}`);
  }
  r.actions.forEach((a, i) => {
    out.push(indent(actionText(a, i + 1), 4));
  });
  for (const s of r.skipped) out.push(`    skipped: action "${s.action}": ${s.because}`);
  return out;
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

export function textReport(
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

export function jsonReport(
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
