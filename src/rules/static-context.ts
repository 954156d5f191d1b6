// The context entries Talon adds before every action that do not depend on the event (rules.go:661-682):
// computed once per action at load instead of per event. Entries that are unset are left out, as Talon's
// AddContext drops empty values.
import type { ActionSpec, RuleSpec } from "./types.ts";

export function staticContext(rule: RuleSpec, action: ActionSpec): Readonly<Record<string, string>> {
  const context: Record<string, string> = { "falco-talon.rule": rule.name };
  if (rule.continue !== undefined) context["falco-talon.rule.continue"] = String(rule.continue);
  if (rule.dryRun !== undefined) context["falco-talon.rule.dry_run"] = String(rule.dryRun);
  context["falco-talon.action"] = action.name;
  if (action.continue !== undefined) context["falco-talon.action.continue"] = String(action.continue);
  if (action.ignoreErrors !== undefined) context["falco-talon.action.ignore_errors"] = String(action.ignoreErrors);
  context["falco-talon.action.parameters"] = JSON.stringify(sortedKeys(action.parameters));
  context["falco-talon.actionner"] = action.actionner;
  return Object.freeze(context);
}

// Go's encoding/json writes map keys sorted; consumers comparing the JSON text see the same string.
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? Number(value) : value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortedKeys((value as Record<string, unknown>)[key]);
  return out;
}
