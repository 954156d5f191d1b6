// Turning a problem about a rules value into a compiler-style diagnostic. Every spec keeps the origin (Loc)
// of each value that survived the merges, so a diagnostic raised after merging several files still points
// at the file and line that wrote the offending value.
import { isDeepStrictEqual } from "node:util";
import { isNode, isScalar } from "yaml";
import type { ErrorCode } from "../errors.ts";
import { type Diagnostic, didYouMean, type Position, type YamlPath } from "../yaml/source.ts";
import type { Loc } from "./types.ts";

export type Severity = Diagnostic["severity"];

/** The rule and action a diagnostic is about (shown as `[rule "R" › action "A"]`). */
export interface Subject {
  readonly rule?: string | undefined;
  readonly action?: string | undefined;
}

export function diagnosticAt(position: Position, severity: Severity, code: ErrorCode, message: string, subject: Subject = {}): Diagnostic {
  const d: Diagnostic = { ...position, severity, code, message };
  if (subject.rule !== undefined) d.rule = subject.rule;
  if (subject.action !== undefined) d.action = subject.action;
  return d;
}

/** A diagnostic at a value's origin. */
export function diagnosticAtLoc(loc: Loc, severity: Severity, code: ErrorCode, message: string, subject: Subject = {}): Diagnostic {
  return diagnosticAt(loc.source.locate(loc.path), severity, code, message, subject);
}

/** A diagnostic not tied to a place in a file (a file that cannot be read, no file at all). */
export function diagnosticInFile(file: string, code: ErrorCode, message: string): Diagnostic {
  return { file, line: 0, column: 0, severity: "error", code, message };
}

/**
 * Position of character `offset` inside a one-line string scalar (a condition inside an `output_fields`
 * item). Falls back to the start of the value for block scalars or values spanning lines, where the
 * column arithmetic would be wrong.
 */
export function locateInString(loc: Loc, offset: number): Position {
  const start = loc.source.locate(loc.path);
  const node = loc.source.doc.getIn([...loc.path], true);
  if (!isScalar(node) || typeof node.value !== "string" || node.value.includes("\n")) return start;
  if (node.type === "PLAIN") return { ...start, column: start.column + offset };
  // A quoted scalar starts at its quote; escapes (rare in conditions) would shift the column a little.
  if (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") return { ...start, column: start.column + 1 + offset };
  return start;
}

/**
 * Position of a nested value `rest` below a parameter whose origin is `loc`. It descends into the source
 * file only while the file still holds the value that was kept: after a merge, index 3 of a concatenated
 * list may not be index 3 of the file that wrote the list, and pointing there would be misleading.
 */
export function locateNested(loc: Loc, rest: readonly PropertyKey[], merged: unknown): Position {
  const path: (string | number)[] = [...loc.path];
  let value = merged;
  for (const segment of rest) {
    if (typeof segment !== "string" && typeof segment !== "number") break;
    const next = childOf(value, segment);
    const candidate = [...path, segment];
    const node = loc.source.doc.getIn(candidate, true);
    if (node === undefined) break;
    const written = isNode(node) ? node.toJS(loc.source.doc) : node;
    if (typeof segment === "number" && !isDeepStrictEqual(written, next)) break;
    path.push(segment);
    value = next;
  }
  return loc.source.locate(path);
}

function childOf(value: unknown, key: string | number): unknown {
  if (value === null || typeof value !== "object") return undefined;
  return (value as Record<string | number, unknown>)[key];
}

/** A YAML path extended by more segments. */
export function below(path: YamlPath, ...more: (string | number)[]): YamlPath {
  return [...path, ...more];
}

/** didYouMean, also suggesting a longer name that starts with the one written (`grace_period` →
 * `grace_period_seconds`), a common way to get a parameter name wrong that edit distance misses. */
export function suggest(name: string, candidates: Iterable<string>): string {
  const list = [...candidates];
  const close = didYouMean(name, list);
  if (close !== "" || name.length < 3) return close;
  const lower = name.toLowerCase();
  const prefixed = list.find((c) => c.toLowerCase().startsWith(lower));
  return prefixed === undefined ? "" : ` (did you mean "${prefixed}"?)`;
}
