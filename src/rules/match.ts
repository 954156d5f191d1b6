// Compiling a rule's `match` into plain data that an event is tested against without creating a regex,
// closure or string per event. An event matches as it does in Talon: all criteria must hold, and an empty
// criterion holds; `rules` names Falco rules, one of which must be the event's; `source` must equal the
// event's; `priority` is a range the event's priority must fall in; the items of `output_fields` and of
// `tags` are alternatives, one of which must hold, and each holds when all its own parts do.
import type { FalcoEvent, FieldValue } from "../events/event.ts";
import { fieldText } from "../events/fields.ts";
import { parseOutputFieldsItem, parseTagsItem } from "./conditions.ts";
import { inRange, parsePriorityFilter } from "./priority.ts";
import type { CompiledMatch, FieldCondition, MatchSpec } from "./types.ts";

export type { CompiledMatch, FieldCondition };

/** A problem in `match`, located by the rule's origin key (`match.priority`, `match.tags[2]`, …). */
export interface MatchProblem {
  readonly severity: "error" | "warning";
  readonly field: string;
  /** Offset inside the item's text, when known. */
  readonly offset: number | undefined;
  readonly message: string;
}

export function compileMatch(spec: MatchSpec): { match: CompiledMatch; problems: MatchProblem[] } {
  const problems: MatchProblem[] = [];
  const priority = parsePriorityFilter(spec.priority);
  if (!priority.ok) problems.push({ severity: "error", field: "match.priority", offset: undefined, message: priority.error });
  else if (priority.warning !== undefined) {
    problems.push({ severity: "warning", field: "match.priority", offset: undefined, message: priority.warning });
  }
  const tagGroups: string[][] = [];
  spec.tags.forEach((item, i) => {
    const parsed = parseTagsItem(item);
    if (parsed.ok) tagGroups.push(parsed.value);
    else
      for (const p of parsed.problems)
        problems.push({ severity: "error", field: `match.tags[${i}]`, offset: p.offset, message: p.message });
  });
  const fieldGroups: FieldCondition[][] = [];
  spec.outputFields.forEach((item, i) => {
    const parsed = parseOutputFieldsItem(item);
    if (parsed.ok) fieldGroups.push(parsed.value.map((c) => fieldCondition(c.key, c.op === "!=", c.value)));
    else
      for (const p of parsed.problems)
        problems.push({ severity: "error", field: `match.output_fields[${i}]`, offset: p.offset, message: p.message });
  });
  const match: CompiledMatch = {
    rules: [...new Set(spec.rules)],
    priority: priority.ok ? priority.range : undefined,
    source: spec.source,
    tagGroups,
    fieldGroups,
  };
  return { match, problems };
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

export function fieldCondition(key: string, negate: boolean, text: string): FieldCondition {
  const number = DECIMAL.test(text) ? Number(text) : undefined;
  let bigint: bigint | undefined;
  if (INTEGER.test(text)) bigint = BigInt(text);
  else if (number !== undefined && Number.isSafeInteger(number)) bigint = BigInt(number);
  return { key, negate, text, isNull: text === "<nil>" || text === "<NA>", number, bigint };
}

/** Every criterion except the Falco rule name. */
export function matchesCriteria(m: CompiledMatch, event: FalcoEvent): boolean {
  if (m.source !== "" && event.source !== m.source) return false;
  if (!inRange(m.priority, event.priorityLevel)) return false;
  if (m.tagGroups.length > 0 && !anyTagGroup(m.tagGroups, event.tags)) return false;
  if (m.fieldGroups.length > 0 && !anyFieldGroup(m.fieldGroups, event)) return false;
  return true;
}

/** The full match, Falco rule name included (the rule set uses its index instead). */
export function matchesEvent(m: CompiledMatch, event: FalcoEvent): boolean {
  return (m.rules.length === 0 || m.rules.includes(event.rule)) && matchesCriteria(m, event);
}

// The hot path: indexed loops only, so no callback or iterator is created per event.
function anyTagGroup(groups: readonly (readonly string[])[], tags: readonly string[]): boolean {
  for (let g = 0; g < groups.length; g++) if (allTags(groups[g]!, tags)) return true;
  return false;
}

/** Set membership: an event listing a tag twice does not stand for a second, different tag. */
function allTags(group: readonly string[], tags: readonly string[]): boolean {
  for (let i = 0; i < group.length; i++) if (!tags.includes(group[i]!)) return false;
  return true;
}

function anyFieldGroup(groups: readonly (readonly FieldCondition[])[], event: FalcoEvent): boolean {
  for (let g = 0; g < groups.length; g++) if (allConditions(groups[g]!, event)) return true;
  return false;
}

function allConditions(group: readonly FieldCondition[], event: FalcoEvent): boolean {
  for (let i = 0; i < group.length; i++) {
    const c = group[i]!;
    const value = event.field(c.key);
    if (c.negate) {
      // `!=` holds when the field is absent, as in Talon.
      if (value !== undefined && equals(value, c)) return false;
    } else if (value === undefined || !equals(value, c)) return false;
  }
  return true;
}

/** A field value equals a condition value when its text does, or, for a number, when the numbers do. A
 * string field compares as text only: "007" is not "7" (container ids, ports written as text). */
export function equals(value: FieldValue, c: FieldCondition): boolean {
  if (value === null) return c.isNull;
  switch (typeof value) {
    case "string":
      return value === c.text || (c.isNull && value === "<NA>");
    case "number":
      return value === c.number || fieldText(value) === c.text;
    case "bigint":
      return value === c.bigint;
    case "boolean":
      return (value ? "true" : "false") === c.text;
    default:
      // Lists and objects compare by their JSON text; rare in conditions, and never on the hot path.
      return fieldText(value) === c.text;
  }
}
