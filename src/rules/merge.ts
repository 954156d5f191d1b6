// Merging items that share a name, across files and within a file, in order (Talon's
// extractActionsRules, rules.go:263-381): each later duplicate is merged into the first occurrence, which
// keeps its position. The merged value keeps the origin (Loc) of whichever item wrote it.
import type { Diagnostic } from "../yaml/source.ts";
import { diagnosticAtLoc } from "./diagnostics.ts";
import { type MismatchReport, mergeParams } from "./merge-params.ts";
import type { ActionSpec, Loc, OutputSpec, RuleSpec } from "./types.ts";

/** Action blocks with duplicates merged into their first occurrence, in first-occurrence order. */
export function mergeBlocks(blocks: readonly ActionSpec[], diagnostics: Diagnostic[]): ActionSpec[] {
  return mergeByName(blocks, (first, later) => mergeBlock(first, later, diagnostics));
}

/** Rules with duplicates merged into their first occurrence, in first-occurrence order. */
export function mergeRules(rules: readonly RuleSpec[]): RuleSpec[] {
  return mergeByName(rules, mergeRule);
}

function mergeByName<T extends { name: string }>(items: readonly T[], merge: (first: T, later: T) => T): T[] {
  const byName = new Map<string, number>();
  const out: T[] = [];
  for (const item of items) {
    const i = byName.get(item.name);
    if (i === undefined) {
      byName.set(item.name, out.length);
      out.push(item);
    } else {
      out[i] = merge(out[i]!, item);
    }
  }
  return out;
}

function mergeBlock(first: ActionSpec, later: ActionSpec, diagnostics: Diagnostic[]): ActionSpec {
  const fieldAt = new Map(first.fieldAt);
  const report = mismatchReporter(diagnostics, first.name);
  const params = mergeParams(first, later, "keep-earlier", report);
  return {
    name: first.name,
    ...scalarSettings(later, first, fieldAt),
    additionalContexts: appendItems(
      "additional_contexts",
      first.additionalContexts,
      later.additionalContexts,
      fieldAt,
      later.fieldAt,
      true,
    ),
    parameters: params.parameters,
    output: mergeBlockOutputs(first.output, later.output, fieldAt, later.fieldAt, report),
    at: first.at,
    fieldAt,
    parameterAt: params.parameterAt,
  };
}

// Talon kept the first `output.target` of duplicate blocks (it set it only when empty), so an override
// file could not redirect an artifact. Kestrel lets a later non-empty target win, like `actionner`.
function mergeBlockOutputs(
  first: OutputSpec | undefined,
  later: OutputSpec | undefined,
  fieldAt: Map<string, Loc>,
  laterAt: ReadonlyMap<string, Loc>,
  report: MismatchReport,
): OutputSpec | undefined {
  if (later === undefined) return first;
  if (later.target !== "") copyOrigin(fieldAt, laterAt, "output.target");
  if (first === undefined) {
    copyOrigin(fieldAt, laterAt, "output");
    return later;
  }
  const params = mergeParams(first, later, "keep-earlier", report);
  return {
    target: later.target !== "" ? later.target : first.target,
    parameters: params.parameters,
    at: later.target !== "" ? later.at : first.at,
    parameterAt: params.parameterAt,
  };
}

function mergeRule(first: RuleSpec, later: RuleSpec): RuleSpec {
  const fieldAt = new Map(first.fieldAt);
  if (!fieldAt.has("match")) copyOrigin(fieldAt, later.fieldAt, "match");
  const pick = <V>(field: string, a: V, b: V, set: boolean): V => {
    if (!set) return a;
    copyOrigin(fieldAt, later.fieldAt, field);
    return b;
  };
  const append = (field: string, a: readonly string[], b: readonly string[], dedupe: boolean): string[] =>
    appendItems(field, a, b, fieldAt, later.fieldAt, dedupe);
  return {
    name: first.name,
    description: pick("description", first.description, later.description, later.description !== ""),
    continue: pick("continue", first.continue, later.continue, later.continue !== undefined),
    dryRun: pick("dry_run", first.dryRun, later.dryRun, later.dryRun !== undefined),
    notifiers: append("notifiers", first.notifiers, later.notifiers, true),
    match: {
      rules: append("match.rules", first.match.rules, later.match.rules, false),
      // Talon always replaced these, so an override that only added an action cleared the filter.
      priority: pick("match.priority", first.match.priority, later.match.priority, later.match.priority !== ""),
      source: pick("match.source", first.match.source, later.match.source, later.match.source !== ""),
      tags: append("match.tags", first.match.tags, later.match.tags, false),
      outputFields: append("match.output_fields", first.match.outputFields, later.match.outputFields, false),
    },
    actions: [...first.actions, ...later.actions],
    at: first.at,
    fieldAt,
  };
}

/**
 * `a` followed by the items of `b` (skipping those already present when `dedupe`); origins of list items
 * are kept under `field[i]`, so the appended items are re-keyed at their new index.
 */
export function appendItems(
  field: string,
  a: readonly string[],
  b: readonly string[],
  fieldAt: Map<string, Loc>,
  bAt: ReadonlyMap<string, Loc>,
  dedupe: boolean,
): string[] {
  const out = [...a];
  b.forEach((item, j) => {
    if (dedupe && out.includes(item)) return;
    const at = bAt.get(`${field}[${j}]`);
    if (at !== undefined) fieldAt.set(`${field}[${out.length}]`, at);
    out.push(item);
  });
  return out;
}

type ScalarSettings = Pick<ActionSpec, "description" | "actionner" | "continue" | "ignoreErrors">;

/** An action's scalar settings, each from `preferred` when it sets it, else from `fallback`; the origins in
 * `fieldAt` follow the side whose value is taken. */
export function scalarSettings(preferred: ActionSpec, fallback: ActionSpec, fieldAt: Map<string, Loc>): ScalarSettings {
  const pick = <V>(field: string, mine: V, theirs: V, set: boolean): V => {
    copyOrigin(fieldAt, (set ? preferred : fallback).fieldAt, field);
    return set ? mine : theirs;
  };
  return {
    description: pick("description", preferred.description, fallback.description, preferred.description !== ""),
    actionner: pick("actionner", preferred.actionner, fallback.actionner, preferred.actionner !== ""),
    continue: pick("continue", preferred.continue, fallback.continue, preferred.continue !== undefined),
    ignoreErrors: pick("ignore_errors", preferred.ignoreErrors, fallback.ignoreErrors, preferred.ignoreErrors !== undefined),
  };
}

export function copyOrigin(to: Map<string, Loc>, from: ReadonlyMap<string, Loc>, field: string): void {
  const at = from.get(field);
  if (at !== undefined) to.set(field, at);
}

export function mismatchReporter(diagnostics: Diagnostic[], action: string, rule?: string): MismatchReport {
  return (key, kept) => {
    if (kept === undefined) return;
    const message = `mismatch of type for parameter '${key}': the value written here is kept, the other one ignored`;
    diagnostics.push(diagnosticAtLoc(kept, "warning", "ERR_RULES_INVALID", message, { rule, action }));
  };
}
