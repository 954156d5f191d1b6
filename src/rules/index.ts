// Loading and compiling rules in one call, for the CLI and the server.
import type { Registries } from "../plugins/registry.ts";
import type { Diagnostic } from "../yaml/source.ts";
import { type CompileOptions, compileRules } from "./compile.ts";
import { loadRulesFiles } from "./load.ts";
import type { RuleSet, RulesDocument } from "./types.ts";

export interface LoadedRules {
  /** Undefined when any diagnostic is an error. */
  ruleSet: RuleSet | undefined;
  document: RulesDocument;
  diagnostics: Diagnostic[];
}

export async function loadRules(files: readonly string[], registries: Registries, options: CompileOptions = {}): Promise<LoadedRules> {
  const loaded = await loadRulesFiles(files);
  // --strict: an unknown key (which Talon ignored, and so a warning by default) is an error.
  if (options.strict === true) loaded.diagnostics = loaded.diagnostics.map(strictKey);
  // A file that could not be read or parsed is missing from the document: compiling the rest would report
  // its absence (blocks "not found", …) as further, misleading errors.
  if (loaded.unreadable.length > 0) return { ruleSet: undefined, document: loaded.document, diagnostics: loaded.diagnostics };
  const compiled = compileRules(loaded.document, registries, options);
  const diagnostics = inSourceOrder([...loaded.diagnostics, ...compiled.diagnostics], files);
  const failed = diagnostics.some((d) => d.severity === "error");
  return { ruleSet: failed ? undefined : compiled.ruleSet, document: loaded.document, diagnostics };
}

function strictKey(d: Diagnostic): Diagnostic {
  if (d.severity !== "warning" || !d.message.startsWith("unknown key '")) return d;
  return { ...d, severity: "error", message: d.message.replace(", ignored", "") };
}

/** Diagnostics by file (in the order given), line and column, as a compiler prints them. Stable, so
 * problems at one place keep the order in which they were found. */
export function inSourceOrder(diagnostics: readonly Diagnostic[], files: readonly string[]): Diagnostic[] {
  // Diagnostics about no file in particular (-1) come first.
  const rank = (file: string): number => files.indexOf(file);
  return [...diagnostics].sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.column - b.column);
}

export { compileRules } from "./compile.ts";
export { loadRulesFiles, loadRulesText, loadRulesTexts } from "./load.ts";
export { printRules } from "./print.ts";
