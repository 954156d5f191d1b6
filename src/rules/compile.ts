// Compiling the merged rules for the engine: validate every rule and action against the plugin registries
// and compile their matchers and parameter templates. Validation collects every problem of every rule
// before failing, so `rules check` shows them all in one run; the rule set exists only when none is an
// error.
import type { Registries } from "../plugins/registry.ts";
import { type Diagnostic, didYouMean } from "../yaml/source.ts";
import { type ActionEnv, compileAction } from "./compile-action.ts";
import { diagnosticAt, diagnosticAtLoc, locateInString, type Subject } from "./diagnostics.ts";
import { compileMatch, type MatchProblem, matchesCriteria } from "./match.ts";
import { createRuleSet, type IndexedRule } from "./rule-set.ts";
import type { CompiledAction, CompiledRule, RuleSet, RuleSpec, RulesDocument } from "./types.ts";

export interface CompileOptions {
  /** Unknown parameter keys are errors instead of warnings (`rules check --strict`). */
  strict?: boolean;
}

export function compileRules(
  document: RulesDocument,
  registries: Registries,
  options: CompileOptions = {},
): { ruleSet: RuleSet | undefined; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const env: ActionEnv = {
    registries,
    strict: options.strict ?? false,
    blocks: new Map(document.actions.map((a) => [a.name, a])),
    diagnostics,
    categories: new Set(),
  };
  const indexed: IndexedRule[] = [];
  document.rules.forEach((rule, index) => {
    const compiled = compileRule(rule, index, env);
    if (compiled !== undefined) indexed.push(compiled);
  });
  checkUnusedBlocks(document, env);
  const failed = diagnostics.some((d) => d.severity === "error");
  return { ruleSet: failed ? undefined : createRuleSet(indexed, env.categories), diagnostics: oncePerPlace(diagnostics) };
}

/** A problem in an action block shared by several rules is found once per rule; it is reported once (for
 * the first rule), since fixing it there fixes it for all. */
function oncePerPlace(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.file}\0${d.line}\0${d.column}\0${d.severity}\0${d.message}\0${d.action ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function compileRule(rule: RuleSpec, index: number, env: ActionEnv): IndexedRule | undefined {
  const subject: Subject = { rule: rule.name };
  const start = env.diagnostics.length;
  // A rule without actions is Kestrel's alert routing: its matched events go to its notifiers. Without
  // notifiers either, it would do nothing (Talon's "no action specified").
  if (rule.actions.length === 0 && rule.notifiers.length === 0) {
    env.diagnostics.push(
      diagnosticAtLoc(
        rule.fieldAt.get("actions") ?? rule.at,
        "error",
        "ERR_RULES_INVALID",
        "no action specified (nor notifiers to route the events to)",
        subject,
      ),
    );
  }
  checkNotifiers(rule, env, subject);
  const { match, problems } = compileMatch(rule.match);
  for (const p of problems) env.diagnostics.push(matchDiagnostic(rule, p, subject));
  const actions: CompiledAction[] = [];
  for (const spec of rule.actions) {
    const action = compileAction(rule, spec, env);
    if (action !== undefined) actions.push(action);
  }
  if (env.diagnostics.slice(start).some((d) => d.severity === "error")) return undefined;
  const compiled: CompiledRule = {
    spec: rule,
    name: rule.name,
    index,
    stopAfter: rule.continue === false,
    dryRun: rule.dryRun === true,
    notifiers: Object.freeze([...rule.notifiers]),
    actions: Object.freeze(actions),
    matches: (event) => matchesCriteria(match, event),
    criteria: match,
  };
  return { rule: compiled, falcoRules: match.rules, tagGroups: match.tagGroups };
}

/** Action blocks no rule uses are validated all the same (a typo in one would otherwise wait for the day a
 * rule uses it), and reported: an unused block is often a rule's action name misspelled. */
function checkUnusedBlocks(document: RulesDocument, env: ActionEnv): void {
  const used = new Set(document.rules.flatMap((r) => r.actions.map((a) => a.name)));
  for (const block of document.actions) {
    if (used.has(block.name)) continue;
    const message = `the action block "${block.name}" is not used by any rule${didYouMean(block.name, used)}`;
    env.diagnostics.push(diagnosticAtLoc(block.at, "warning", "ERR_RULES_INVALID", message, { action: block.name }));
    compileAction(undefined, block, env);
  }
}

function checkNotifiers(rule: RuleSpec, env: ActionEnv, subject: Subject): void {
  const known = env.registries.notifiers;
  rule.notifiers.forEach((name, i) => {
    if (known.has(name)) return;
    const at = rule.fieldAt.get(`notifiers[${i}]`) ?? rule.at;
    env.diagnostics.push(
      diagnosticAtLoc(at, "error", "ERR_PLUGIN_UNKNOWN", `unknown notifier "${name}"${didYouMean(name, known.ids())}`, subject),
    );
  });
}

/** A `match` problem at the list item (and column inside it) that holds it. */
function matchDiagnostic(rule: RuleSpec, p: MatchProblem, subject: Subject): Diagnostic {
  const loc = rule.fieldAt.get(p.field) ?? rule.fieldAt.get("match") ?? rule.at;
  const position = p.offset === undefined ? loc.source.locate(loc.path) : locateInString(loc, p.offset);
  return diagnosticAt(position, p.severity, "ERR_RULES_INVALID", p.message, subject);
}
