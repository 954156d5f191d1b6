// Reading typed values out of a decoded rules item, reporting each shape problem at its file:line:col.
// Talon decoded items with yaml.v3 into Go structs, so a value of the wrong type made the whole file
// invalid and unknown keys were dropped silently; here wrong types are errors and unknown keys warnings.
import type { Diagnostic, YamlPath, YamlSource } from "../yaml/source.ts";
import { below, diagnosticAtLoc, type Subject, suggest } from "./diagnostics.ts";
import type { Loc } from "./types.ts";

export type YamlMap = Record<string, unknown>;

// Keys people write by analogy with other tools or with Talon's docs, mapped to the key that exists.
const KEY_HINTS: Readonly<Record<string, string>> = {
  contexts: "additional_contexts",
  context: "additional_contexts",
  params: "parameters",
  notifier: "notifiers",
  dryrun: "dry_run",
  dryRun: "dry_run",
  ignoreErrors: "ignore_errors",
  outputfields: "output_fields",
  outputFields: "output_fields",
};

export class ItemReader {
  readonly source: YamlSource;
  readonly diagnostics: Diagnostic[];

  constructor(source: YamlSource, diagnostics: Diagnostic[]) {
    this.source = source;
    this.diagnostics = diagnostics;
  }

  loc(path: YamlPath): Loc {
    return { source: this.source, path };
  }

  error(path: YamlPath, message: string, subject?: Subject): void {
    this.diagnostics.push(diagnosticAtLoc(this.loc(path), "error", "ERR_RULES_INVALID", message, subject));
  }

  warning(path: YamlPath, message: string, subject?: Subject): void {
    this.diagnostics.push(diagnosticAtLoc(this.loc(path), "warning", "ERR_RULES_INVALID", message, subject));
  }

  /** Warns about each key outside `allowed` (with a suggestion), since Talon ignored them silently. */
  unknownKeys(map: YamlMap, allowed: readonly string[], path: YamlPath, where: string, subject?: Subject): void {
    for (const key of Object.keys(map)) {
      if (allowed.includes(key)) continue;
      const hint = KEY_HINTS[key];
      const suggestion = hint !== undefined && allowed.includes(hint) ? ` (did you mean "${hint}"?)` : suggest(key, allowed);
      this.warning(below(path, key), `unknown key '${key}' in ${where}, ignored${suggestion}`, subject);
    }
  }

  /** A text value; numbers and booleans are taken as their text (yaml.v3 did the same for string fields). */
  string(map: YamlMap, key: string, path: YamlPath, subject?: Subject): string | undefined {
    const v = map[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
    this.error(below(path, key), `'${key}' must be a string, not ${kindOf(v)}`, subject);
    return undefined;
  }

  /** `continue`, `ignore_errors`, `dry_run`: a YAML boolean or the strings "true"/"false" (Talon's form). */
  boolean(map: YamlMap, key: string, path: YamlPath, subject?: Subject): boolean | undefined {
    const v = map[key];
    if (v === undefined || v === null) return undefined;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    this.error(below(path, key), `'${key}' setting can be 'true' or 'false' only`, subject);
    return undefined;
  }

  /** A list of texts; each item's origin is recorded in `at` under `field[i]`. */
  stringList(map: YamlMap, key: string, path: YamlPath, at: Map<string, Loc>, field: string, subject?: Subject): string[] {
    const v = map[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.error(below(path, key), `'${key}' must be a list, not ${kindOf(v)} (write it as [${JSON.stringify(String(v))}])`, subject);
      return [];
    }
    const out: string[] = [];
    v.forEach((item: unknown, i) => {
      if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") {
        at.set(`${field}[${out.length}]`, this.loc(below(path, key, i)));
        out.push(String(item));
      } else {
        this.error(below(path, key, i), `each item of '${key}' must be a string, not ${kindOf(item)}`, subject);
      }
    });
    return out;
  }

  /** A mapping; null is an empty one. */
  map(map: YamlMap, key: string, path: YamlPath, subject?: Subject): YamlMap | undefined {
    const v = map[key];
    if (v === undefined || v === null) return undefined;
    if (isMap(v)) return v;
    this.error(below(path, key), `'${key}' must be a mapping (key: value), not ${kindOf(v)}`, subject);
    return undefined;
  }
}

export function isMap(v: unknown): v is YamlMap {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "bigint") return "a number";
  return `a ${typeof v}`;
}
