// Why a rule does or does not match an event, criterion by criterion, for `kestrel rules test`. It reads
// the same compiled criteria as the matcher (match.ts) and the same comparisons (`equals`, `inRange`,
// `event.field`), so an explanation cannot disagree with the engine; it is never called on the event path,
// which keeps its allocation-free loops (match.ts, rule-set.ts).
import type { FalcoEvent, FieldValue } from "../events/event.ts";
import { fieldText } from "../events/fields.ts";
import { PRIORITIES } from "../events/priority.ts";
import { type CompiledMatch, compileMatch, equals, type FieldCondition } from "./match.ts";
import { inRange } from "./priority.ts";
import type { CompiledRule } from "./types.ts";

/** The criteria of `match`, in the order the engine tests them. */
export type Criterion = "rules" | "source" | "priority" | "tags" | "output_fields";

export interface CriterionFailure {
  readonly criterion: Criterion;
  /** One sentence for people: what the rule wants and what the event has. */
  readonly reason: string;
}

/** The criteria of `rule` that `event` fails, in the engine's order; empty when the rule matches. */
export function explainRule(rule: CompiledRule, event: FalcoEvent): CriterionFailure[] {
  return explainMatch(rule.criteria ?? compileMatch(rule.spec.match).match, event, rule.spec.match.priority);
}

/** See explainRule; `priorityText` is `match.priority` as written (">=Warning"), for the message. */
export function explainMatch(m: CompiledMatch, event: FalcoEvent, priorityText = ""): CriterionFailure[] {
  const out: CriterionFailure[] = [];
  if (m.rules.length > 0 && !m.rules.includes(event.rule)) {
    out.push({
      criterion: "rules",
      reason: `the Falco rule ${quote(event.rule)} is not in match.rules (${m.rules.map(quote).join(", ")})`,
    });
  }
  if (m.source !== "" && event.source !== m.source) {
    out.push({ criterion: "source", reason: `the source ${quote(event.source)} is not ${quote(m.source)}` });
  }
  if (!inRange(m.priority, event.priorityLevel)) {
    const wanted = priorityText.trim() !== "" ? priorityText.trim() : levels(m.priority!);
    out.push({ criterion: "priority", reason: `the priority ${event.priority} is not ${wanted}` });
  }
  const tags = tagsFailure(m.tagGroups, event);
  if (tags !== undefined) out.push({ criterion: "tags", reason: tags });
  const fields = outputFieldsFailure(m.fieldGroups, event);
  if (fields !== undefined) out.push({ criterion: "output_fields", reason: fields });
  return out;
}

/** Why no `match.tags` item is complete; undefined when one is (or there are none). */
function tagsFailure(tagGroups: CompiledMatch["tagGroups"], event: FalcoEvent): string | undefined {
  if (tagGroups.length === 0) return undefined;
  const missing = tagGroups.map((group) => [...new Set(group)].filter((tag) => !event.tags.includes(tag)));
  if (missing.some((lack) => lack.length === 0)) return undefined;
  const parts = tagGroups.map((group, i) => `${quote(group.join(", "))} lacks ${missing[i]!.join(", ")}`);
  return `no match.tags item is complete: ${parts.join("; ")}`;
}

/** Why no `match.output_fields` item holds; undefined when one does (or there are none). */
function outputFieldsFailure(fieldGroups: CompiledMatch["fieldGroups"], event: FalcoEvent): string | undefined {
  if (fieldGroups.length === 0) return undefined;
  const failed = fieldGroups.map((group) => firstFailing(group, event));
  if (failed.some((f) => f === undefined)) return undefined;
  const parts = fieldGroups.map((group, i) => {
    const item = group.map(conditionText).join(", ");
    return fieldGroups.length === 1 ? failed[i]! : `${quote(item)}: ${failed[i]!}`;
  });
  const lead =
    fieldGroups.length === 1
      ? `match.output_fields ${quote(fieldGroups[0]!.map(conditionText).join(", "))} does not hold`
      : "no match.output_fields item holds";
  return `${lead}: ${parts.join("; ")}`;
}

/** The first condition of a group the event fails, described; undefined when all hold. Same logic as
 * match.ts allConditions: `!=` holds when the field is absent. */
function firstFailing(group: readonly FieldCondition[], event: FalcoEvent): string | undefined {
  for (const c of group) {
    const value = event.field(c.key);
    if (c.negate) {
      if (value !== undefined && equals(value, c)) return `${c.key} is ${show(value)}`;
    } else if (value === undefined) {
      return `the event has no ${c.key}`;
    } else if (!equals(value, c)) {
      return `${c.key} is ${show(value)}, not ${quote(c.text)}`;
    }
  }
  return undefined;
}

export function conditionText(c: FieldCondition): string {
  const value = /[=,"']/.test(c.text) || c.text !== c.text.trim() || c.text === "" ? JSON.stringify(c.text) : c.text;
  return `${c.key}${c.negate ? "!=" : "="}${value}`;
}

function show(value: FieldValue): string {
  return value === null ? "null" : typeof value === "string" ? quote(value) : (fieldText(value) ?? String(value));
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function levels(range: { min: number; max: number }): string {
  if (range.min > range.max) return "any priority (the filter matches none)";
  return range.min === range.max ? PRIORITIES[range.min]! : `${PRIORITIES[range.min]} to ${PRIORITIES[range.max]}`;
}
