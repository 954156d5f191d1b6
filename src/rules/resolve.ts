// Resolving a rule's action against the reusable block of the same name (Talon's ParseRules,
// rules.go:99-194). Action names are not global identifiers: an action that names no block is simply
// local. When a block exists, what the action sets locally wins, the block fills in the rest.
import type { Diagnostic } from "../yaml/source.ts";
import { copyOrigin, mismatchReporter, scalarSettings } from "./merge.ts";
import { mergeParams } from "./merge-params.ts";
import type { ActionSpec, Loc, OutputSpec, RuleSpec } from "./types.ts";

/** Every rule with its actions resolved against `blocks` (the rules are copied, not modified). */
export function resolveRules(rules: readonly RuleSpec[], blocks: readonly ActionSpec[], diagnostics: Diagnostic[]): RuleSpec[] {
  const byName = new Map(blocks.map((b) => [b.name, b]));
  return rules.map((rule) => ({
    ...rule,
    actions: rule.actions.map((a) => {
      const block = byName.get(a.name);
      return block === undefined ? a : resolveAction(a, block, diagnostics, rule.name);
    }),
  }));
}

export function resolveAction(local: ActionSpec, block: ActionSpec, diagnostics: Diagnostic[], rule: string): ActionSpec {
  const fieldAt = new Map(local.fieldAt);
  const report = mismatchReporter(diagnostics, local.name, rule);
  // The block is the earlier side and the action the later one: the action wins per map key (Talon let
  // the block win for maps only, which made a local override of one label impossible).
  const params = mergeParams(block, local, "keep-later", report);
  return {
    name: local.name,
    ...scalarSettings(local, block, fieldAt),
    additionalContexts: resolveContexts(local, block, fieldAt),
    parameters: params.parameters,
    output: resolveOutput(local, block, fieldAt, report),
    at: local.at,
    fieldAt,
    parameterAt: params.parameterAt,
    ...(Object.keys(local.parameters).length === 0 ? { blockAt: block.at } : {}),
  };
}

function resolveContexts(local: ActionSpec, block: ActionSpec, fieldAt: Map<string, Loc>): string[] {
  if (local.additionalContexts.length > 0) return [...local.additionalContexts];
  for (let i = 0; i < block.additionalContexts.length; i++) copyOrigin(fieldAt, block.fieldAt, `additional_contexts[${i}]`);
  return [...block.additionalContexts];
}

function resolveOutput(
  local: ActionSpec,
  block: ActionSpec,
  fieldAt: Map<string, Loc>,
  report: ReturnType<typeof mismatchReporter>,
): OutputSpec | undefined {
  const mine = local.output;
  const theirs = block.output;
  if (theirs === undefined) return mine;
  if (mine === undefined || mine.target === "") copyOrigin(fieldAt, block.fieldAt, "output.target");
  if (mine === undefined) {
    copyOrigin(fieldAt, block.fieldAt, "output");
    return { ...theirs, parameters: structuredClone(theirs.parameters), parameterAt: new Map(theirs.parameterAt) };
  }
  const params = mergeParams(theirs, mine, "keep-later", report);
  return {
    target: mine.target !== "" ? mine.target : theirs.target,
    parameters: params.parameters,
    at: mine.at,
    parameterAt: params.parameterAt,
  };
}
