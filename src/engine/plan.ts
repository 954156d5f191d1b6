// What the engine would do with an event, without doing it (`kestrel rules test`): the rules it matches
// and why the others do not, the actions that would run in order with their parameters rendered for the
// event, the `continue` / `ignore_errors` / `dry_run` decisions, and the notifiers that would be called.
// Pure: no actionner, output, notifier or context runs and no client is created. It mirrors
// Engine.#runRulesFrom / #runActionThenRest and run-action.ts, assuming every action that can succeed does
// (the plan tells, for each, what a failure would change). Additional contexts that need a client (k8snode,
// aws) are not gathered: their values are placeholders such as `<k8snode: node.hostname>`.

import type { NotificationFilter } from "../config/delivery.ts";
import { errorMessage } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { redactSecrets } from "../redact.ts";
import { type CriterionFailure, explainRule } from "../rules/explain.ts";
import type { CompiledAction, CompiledRule, RuleSet } from "../rules/types.ts";
import { actionVariables } from "../template/action-variables.ts";
import type { Variables } from "../template/template.ts";

/** The keys each additional context provides (contexts/k8snode.ts nodeContext, contexts/aws.ts gather). */
export const CONTEXT_KEYS: Readonly<Record<string, readonly string[]>> = {
  k8snode: ["node.hostname", "node.instancetype", "node.role", "node.topology.region", "node.topology.zone", "node.spec.providerid"],
  aws: ["aws.instance_profile_arn", "aws.instance_profile_id", "aws.region"],
};

/** TRACE_ID in rendered parameters: the engine gives each event its own. */
export const TRACE_ID_PLACEHOLDER = "<trace id>";

export function contextPlaceholder(context: string, key: string): string {
  return `<${context}: ${key}>`;
}

export interface PlanOptions {
  /** `default_notifiers`: told of every action result. */
  readonly defaultNotifiers: readonly string[];
  /** Per notifier: its min_priority / on_status settings (none: everything). */
  readonly notifierFilters?: ReadonlyMap<string, NotificationFilter>;
}

export interface PlannedNotifier {
  readonly name: string;
  /** `on_status`: only results with these statuses reach it; undefined: all. */
  readonly onStatus: readonly string[] | undefined;
}

export interface PlannedContext {
  readonly name: string;
  /** The context keys shown as placeholders. */
  readonly keys: readonly string[];
}

export interface PlannedAction {
  readonly rule: string;
  readonly action: string;
  readonly actionner: string;
  /** `run`: the actionner would be called; `dry_run`: reported as a dry run, nothing runs, nobody is notified. */
  readonly mode: "run" | "dry_run";
  /** Rendered for this event (secrets redacted); as written when rendering failed. */
  readonly parameters: Record<string, unknown>;
  readonly output: { readonly target: string; readonly parameters: Record<string, unknown> } | undefined;
  /** The effective `continue` and where it comes from. */
  readonly continue: boolean;
  readonly continueFrom: "action" | "actionner default";
  readonly ignoreErrors: boolean;
  /** Contexts not gathered (they need a client): their values in the parameters are placeholders. */
  readonly contexts: readonly PlannedContext[];
  /** A failure certain before the actionner runs (a template names what the event lacks). */
  readonly error: string | undefined;
  /** Likely problems that do not change the plan (a field the actionner requires is absent). */
  readonly warnings: readonly string[];
  /** Told of the result; empty for a dry run. */
  readonly notifiers: readonly PlannedNotifier[];
  /** Left out by their own min_priority for this event's priority. */
  readonly notifiersFiltered: readonly string[];
  /** The rule's later actions a failure of this one would skip; empty with ignore_errors or when nothing follows. */
  readonly onFailureSkips: readonly string[];
}

export interface PlannedRule {
  readonly rule: string;
  readonly dryRun: boolean;
  /** `continue: false`: the later rules are not run. */
  readonly stopsLaterRules: boolean;
  /** The actions reached, in order. */
  readonly actions: readonly PlannedAction[];
  /** The rule's actions not reached, with why. */
  readonly skipped: readonly { readonly action: string; readonly because: string }[];
  /** A rule without actions sends the event itself to its notifiers. */
  readonly routedTo: readonly PlannedNotifier[];
}

export interface EventPlan {
  /** The rules the event matches, in rules order (the engine's RuleSet.match). */
  readonly matched: readonly string[];
  /** The matched rules that act, in order. */
  readonly rules: readonly PlannedRule[];
  /** Matched rules not run because an earlier rule has `continue: false`. */
  readonly stopped: readonly { readonly rule: string; readonly because: string }[];
  /** The other rules, each with the criteria the event fails. */
  readonly unmatched: readonly { readonly rule: string; readonly failures: readonly CriterionFailure[] }[];
  /** Every notifier that would be called (action results and routed events), in first-call order. */
  readonly notifiers: readonly string[];
}

/** The plan for one event. */
export function planEvent(ruleSet: RuleSet, event: FalcoEvent, options: PlanOptions): EventPlan {
  const matchedRules = ruleSet.match(event);
  const { rules, stopped, notifiers } = planMatched(matchedRules, event, options);
  const unmatched = explainUnmatched(ruleSet, matchedRules, event);
  return { matched: matchedRules.map((r) => r.name), rules, stopped, unmatched, notifiers };
}

/** The rules the event does not match, each with the criteria it fails. */
function explainUnmatched(ruleSet: RuleSet, matchedRules: readonly CompiledRule[], event: FalcoEvent): EventPlan["unmatched"] {
  const matchedSet = new Set<CompiledRule>(matchedRules);
  const unmatched: { rule: string; failures: CriterionFailure[] }[] = [];
  for (const rule of ruleSet.rules) {
    if (matchedSet.has(rule)) continue;
    const failures = explainRule(rule, event);
    // Cannot happen while explain.ts mirrors match.ts; said rather than hidden if it ever does.
    unmatched.push({
      rule: rule.name,
      failures: failures.length > 0 ? failures : [{ criterion: "rules", reason: "not matched (no criterion explains it)" }],
    });
  }
  return unmatched;
}

/** The matched rules in order, until one with `continue: false`; and every notifier they would call. */
function planMatched(
  matchedRules: readonly CompiledRule[],
  event: FalcoEvent,
  options: PlanOptions,
): Pick<EventPlan, "rules" | "stopped" | "notifiers"> {
  const rules: PlannedRule[] = [];
  const stopped: { rule: string; because: string }[] = [];
  const notifiers = new Set<string>();
  let stopper: string | undefined;
  for (const rule of matchedRules) {
    if (stopper !== undefined) {
      stopped.push({ rule: rule.name, because: `the rule "${stopper}" has continue: false` });
      continue;
    }
    const planned = planRule(rule, event, options);
    for (const a of planned.actions) for (const n of a.notifiers) notifiers.add(n.name);
    for (const n of planned.routedTo) notifiers.add(n.name);
    rules.push(planned);
    if (rule.stopAfter) stopper = rule.name;
  }
  return { rules, stopped, notifiers: [...notifiers] };
}

function planRule(rule: CompiledRule, event: FalcoEvent, options: PlanOptions): PlannedRule {
  const actions: PlannedAction[] = [];
  const skipped: { action: string; because: string }[] = [];
  const routedTo = rule.actions.length === 0 ? routeTargets(rule, event, options) : [];
  for (let a = 0; a < rule.actions.length; a++) {
    const action = rule.actions[a]!;
    const rest = rule.actions.slice(a + 1).map((x) => x.name);
    const dry = rule.dryRun;
    const base = planAction(rule, action, event, options, dry);
    // An error makes the rule stop here unless ignore_errors (a dry run never fails).
    const failureStops = !dry && !action.ignoreErrors;
    // The later rules do not depend on it: a rule with continue: false stops them whatever happens.
    const onFailureSkips = failureStops && action.continueAfter ? rest : [];
    actions.push({ ...base, onFailureSkips });
    const because = stopReason(action, failureStops && base.error !== undefined);
    if (because !== undefined) {
      for (const n of rest) skipped.push({ action: n, because });
      break;
    }
  }
  return { rule: rule.name, dryRun: rule.dryRun, stopsLaterRules: rule.stopAfter, actions, skipped, routedTo };
}

/** Why the rule's later actions would not run after `action`; undefined when they would. */
function stopReason(action: CompiledAction, fails: boolean): string | undefined {
  if (fails) return `the action "${action.name}" would fail (ignore_errors: false)`;
  if (action.continueAfter) return undefined;
  const from = action.spec.continue === undefined ? ` (the ${action.actionnerName} default)` : "";
  return `the action "${action.name}" has continue: false${from}`;
}

function planAction(
  rule: CompiledRule,
  action: CompiledAction,
  event: FalcoEvent,
  options: PlanOptions,
  dry: boolean,
): Omit<PlannedAction, "onFailureSkips"> {
  const contexts: PlannedContext[] = action.additionalContexts.map((name) => ({ name, keys: CONTEXT_KEYS[name] ?? [] }));
  const rendered = renderParameters(action, event, contexts);
  const output = planOutput(action, event);
  const { included, filtered } = dry ? { included: [], filtered: [] } : resultTargets(rule, event, options);
  return {
    rule: rule.name,
    action: action.name,
    actionner: action.actionnerName,
    mode: dry ? "dry_run" : "run",
    parameters: redactSecrets(rendered.parameters),
    output: output?.output,
    continue: action.continueAfter,
    continueFrom: action.spec.continue === undefined ? "actionner default" : "action",
    ignoreErrors: action.ignoreErrors,
    contexts,
    error: dry ? undefined : (rendered.error ?? output?.error),
    warnings: missingFields(action, event),
    notifiers: included,
    notifiersFiltered: filtered,
  };
}

/** The action's parameters rendered for the event, the contexts not gathered shown as placeholders. */
function renderParameters(
  action: CompiledAction,
  event: FalcoEvent,
  contexts: readonly PlannedContext[],
): { parameters: Record<string, unknown>; error: string | undefined } {
  if (!action.params.hasTemplates) return { parameters: action.params.raw, error: undefined };
  const context: Record<string, string> = { ...action.staticContext };
  for (const c of contexts) for (const key of c.keys) context[key] = contextPlaceholder(c.name, key);
  const variables: Variables = actionVariables(event, context, TRACE_ID_PLACEHOLDER);
  // Parameters an actionner renders itself when it runs (`verbatim`: local:command's and kubernetes:exec's
  // command) are shown substituted all the same: that is what their values become, except in a shell
  // script, whose text stays as written and gets the values as positional parameters ("$1"…).
  try {
    return { parameters: action.params.render(variables), error: undefined };
  } catch (err) {
    return { parameters: action.params.raw, error: errorMessage(err) };
  }
}

/** The action's output target with its parameters rendered, and the failure rendering them would be. */
function planOutput(action: CompiledAction, event: FalcoEvent): { output: PlannedAction["output"]; error: string | undefined } | undefined {
  if (action.output === undefined) return undefined;
  let parameters = action.output.params.raw;
  let error: string | undefined;
  if (action.output.params.hasTemplates) {
    try {
      // As run-action.ts writeArtifact: the action's own context, not the gathered ones.
      parameters = action.output.params.render(actionVariables(event, action.staticContext, TRACE_ID_PLACEHOLDER));
    } catch (err) {
      error = `the output ${action.output.target} would fail: ${errorMessage(err)}`;
    }
  }
  return { output: { target: action.output.target, parameters: redactSecrets(parameters) }, error };
}

/** A warning for each field the actionner requires that the event lacks. */
function missingFields(action: CompiledAction, event: FalcoEvent): string[] {
  const warnings: string[] = [];
  for (const required of action.actionner.requiredFields) {
    const alternatives = typeof required === "string" ? [required] : required;
    if (alternatives.every((f) => event.field(f) === undefined)) {
      warnings.push(`${action.actionnerName} needs the field ${alternatives.join(" or ")}, which the event does not have`);
    }
  }
  return warnings;
}

/** Notifications.notify: the default notifiers, then the rule's own, each once, less those whose
 * min_priority this event is below (on_status depends on the result, so it is shown, not applied). */
function resultTargets(rule: CompiledRule, event: FalcoEvent, options: PlanOptions): { included: PlannedNotifier[]; filtered: string[] } {
  const names = [...options.defaultNotifiers];
  for (const n of rule.notifiers) if (!names.includes(n)) names.push(n);
  const included: PlannedNotifier[] = [];
  const filtered: string[] = [];
  for (const name of new Set(names)) {
    const filter = options.notifierFilters?.get(name);
    if (filter !== undefined && event.priorityLevel > filter.maxLevel) filtered.push(name);
    else included.push({ name, onStatus: filter?.statuses === undefined ? undefined : [...filter.statuses] });
  }
  return { included, filtered };
}

/** Notifications.route: exactly the rule's notifiers, filtered by priority only (kind "event"). */
function routeTargets(rule: CompiledRule, event: FalcoEvent, options: PlanOptions): PlannedNotifier[] {
  const out: PlannedNotifier[] = [];
  for (const name of new Set(rule.notifiers)) {
    const filter = options.notifierFilters?.get(name);
    if (filter === undefined || event.priorityLevel <= filter.maxLevel) out.push({ name, onStatus: undefined });
  }
  return out;
}
