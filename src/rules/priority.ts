// `match.priority`: an optional comparator and a Falco priority name (">=Warning", "<notice", "Error").
// Falco levels run from Emergency = 0 (most severe) to Debug = 7, so ">=Warning" ("at least as severe as
// Warning") means level <= 4. A filter is compiled to an inclusive range of levels: one comparison pair
// per event, whatever the comparator.

import { PRIORITIES, priorityLevel } from "../events/priority.ts";
import { didYouMean } from "../yaml/source.ts";

export interface LevelRange {
  /** Most severe level accepted (0 = Emergency). */
  readonly min: number;
  /** Least severe level accepted (7 = Debug). */
  readonly max: number;
}

export type PriorityFilter = { ok: true; range: LevelRange | undefined; warning?: string } | { ok: false; error: string };

const SYNTAX = /^(<|>)?(=)?([A-Za-z]*)$/;
const LEAST_SEVERE = PRIORITIES.length - 1;

/** Parses a `match.priority` value; an empty value (or a bare comparator) filters nothing. */
export function parsePriorityFilter(text: string): PriorityFilter {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, range: undefined };
  const m = SYNTAX.exec(trimmed);
  if (m === null) return { ok: false, error: `incorrect priority '${text}': expected a comparator (<, <=, >, >=, =) and a priority name` };
  const [, direction, equal, name] = m;
  if (name === "") {
    return { ok: true, range: undefined, warning: `the priority '${text}' has no priority name, so it matches every priority` };
  }
  const level = priorityLevel(name!);
  if (level < 0) return { ok: false, error: `incorrect priority '${text}'${didYouMean(name!, [...PRIORITIES, "Info"])}` };
  const range = rangeOf(direction, equal !== undefined, level);
  if (range.min > range.max) return { ok: true, range, warning: `the priority '${text}' matches no priority at all` };
  return { ok: true, range };
}

function rangeOf(direction: string | undefined, orEqual: boolean, level: number): LevelRange {
  // ">" = more severe = a lower level number.
  if (direction === ">") return { min: 0, max: orEqual ? level : level - 1 };
  if (direction === "<") return { min: orEqual ? level : level + 1, max: LEAST_SEVERE };
  return { min: level, max: level };
}

/** Whether an event's level passes the filter (no filter: always). */
export function inRange(range: LevelRange | undefined, level: number): boolean {
  return range === undefined || (level >= range.min && level <= range.max);
}
