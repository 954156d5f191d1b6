// `rules print`: the merged rules as YAML, in the field order of Talon's `rules print`, each action shown
// resolved against its action block (what will actually run). Empty fields are left out. Secrets are
// redacted as in the logs: parameters named like secrets (password, token…) and URL credentials anywhere.
import { stringify } from "yaml";
import { redactSecrets } from "../redact.ts";
import type { ActionSpec, MatchSpec, OutputSpec, RuleSpec, RulesDocument } from "./types.ts";

export function printRules(document: RulesDocument): string {
  if (document.rules.length === 0) return "[]\n";
  return stringify(
    document.rules.map((rule) => redactSecrets(ruleObject(rule))),
    { lineWidth: 0 },
  );
}

function ruleObject(rule: RuleSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { rule: rule.name };
  if (rule.description !== "") o["description"] = rule.description;
  if (rule.continue !== undefined) o["continue"] = rule.continue;
  if (rule.dryRun !== undefined) o["dry_run"] = rule.dryRun;
  if (rule.notifiers.length > 0) o["notifiers"] = rule.notifiers;
  if (rule.actions.length > 0) o["actions"] = rule.actions.map(actionObject);
  // An empty match matches every event; printing `match: {}` keeps that visible.
  o["match"] = matchObject(rule.match);
  return o;
}

function actionObject(action: ActionSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { action: action.name };
  if (action.description !== "") o["description"] = action.description;
  if (action.actionner !== "") o["actionner"] = action.actionner;
  if (action.continue !== undefined) o["continue"] = action.continue;
  if (action.ignoreErrors !== undefined) o["ignore_errors"] = action.ignoreErrors;
  if (action.additionalContexts.length > 0) o["additional_contexts"] = action.additionalContexts;
  if (Object.keys(action.parameters).length > 0) o["parameters"] = action.parameters;
  if (action.output !== undefined) o["output"] = outputObject(action.output);
  return o;
}

function outputObject(output: OutputSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (output.target !== "") o["target"] = output.target;
  if (Object.keys(output.parameters).length > 0) o["parameters"] = output.parameters;
  return o;
}

function matchObject(match: MatchSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (match.outputFields.length > 0) o["output_fields"] = match.outputFields;
  if (match.priority !== "") o["priority"] = match.priority;
  if (match.source !== "") o["source"] = match.source;
  if (match.rules.length > 0) o["rules"] = match.rules;
  if (match.tags.length > 0) o["tags"] = match.tags;
  return o;
}
