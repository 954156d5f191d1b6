// Reading what the loader returned, for the loading and merging tests.
import assert from "node:assert/strict";
import type { Diagnostic } from "../../yaml/source.ts";
import type { ActionSpec, RulesDocument } from "../types.ts";

/** 1-based line of the first line of `text` containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  assert.notEqual(i, -1, `"${needle}" not in the text`);
  return i + 1;
}

/** The action block named `name`; fails the test when there is none. */
export function block(doc: RulesDocument, name: string): ActionSpec {
  const b = doc.actions.find((a) => a.name === name);
  assert.ok(b, `no block "${name}"`);
  return b;
}

export function only(diagnostics: Diagnostic[], severity: "error" | "warning"): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === severity);
}
