// Merging two parameter maps, per top-level key, the way Talon merges `parameters` and `output.parameters`
// (rules.go:99-194 and 263-351), with Kestrel's deliberate fixes:
// - a list present only in the later map is taken as is (Talon wrapped it in another list);
// - for a map value the later map wins per key in both uses: for duplicate blocks "later" is the later
//   file, and for a rule's action resolved against its block "later" is the action (Talon let the block
//   win there, the opposite of its scalars).
import type { Loc } from "./types.ts";

export interface Params {
  parameters: Record<string, unknown>;
  parameterAt: Map<string, Loc>;
}

/** Which side keeps its value when both set a key with values of different kinds. */
export type OnMismatch = "keep-earlier" | "keep-later";

/** Called for a key whose values differ in kind; the result keeps one side as `onMismatch` says. */
export type MismatchReport = (key: string, kept: Loc | undefined) => void;

/**
 * `earlier` and `later` merged: lists are concatenated (earlier items first); maps are merged key by key,
 * the later one winning; scalars: the later one wins. Decoding already dropped null values (Talon's "nil:
 * skip"); should one get here, it gives way to the other side. Origins follow the value that was kept (the
 * later map's for a concatenation or a map merge). Inputs are not modified and the result shares no list
 * or map with them.
 */
export function mergeParams(earlier: Params, later: Params, onMismatch: OnMismatch, report: MismatchReport): Params {
  const parameters: Record<string, unknown> = {};
  const parameterAt = new Map<string, Loc>();
  const take = (key: string, value: unknown, at: Loc | undefined): void => {
    parameters[key] = structuredClone(value);
    if (at !== undefined) parameterAt.set(key, at);
  };
  for (const key of Object.keys(earlier.parameters)) take(key, earlier.parameters[key], earlier.parameterAt.get(key));
  for (const key of Object.keys(later.parameters)) {
    const b = later.parameters[key];
    if (b === null || b === undefined) continue;
    const bAt = later.parameterAt.get(key);
    const merged = mergedValue(earlier.parameters[key], b);
    if (merged !== MISMATCH) {
      take(key, merged, bAt);
      continue;
    }
    const keepLater = onMismatch === "keep-later";
    if (keepLater) take(key, b, bAt);
    report(key, keepLater ? bAt : earlier.parameterAt.get(key));
  }
  return { parameters, parameterAt };
}

const MISMATCH = Symbol("mismatch");

/** The later value merged onto the earlier one (lists concatenated, maps merged, scalars replaced);
 * MISMATCH when their kinds differ. */
function mergedValue(a: unknown, b: unknown): unknown {
  if (a === null || a === undefined) return b;
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return MISMATCH;
  if (kind === "list") return [...(a as unknown[]), ...(b as unknown[])];
  if (kind === "map") return { ...(a as object), ...(b as object) };
  return b;
}

type Kind = "list" | "map" | "string" | "number" | "boolean" | "other";

// Go compared reflect kinds (int and float64 differ); JavaScript has one number type, so 5 and 5.5 agree.
function kindOf(v: unknown): Kind {
  if (Array.isArray(v)) return "list";
  if (v !== null && typeof v === "object") return "map";
  if (typeof v === "string") return "string";
  if (typeof v === "number" || typeof v === "bigint") return "number";
  if (typeof v === "boolean") return "boolean";
  return "other";
}
