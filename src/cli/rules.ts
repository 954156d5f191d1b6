// `kestrel rules check` and `kestrel rules print`.

import { defaultConfigFile, defaultRulesFile } from "../config/paths.ts";
import { createRegistries } from "../registries.ts";
import { printRules } from "../rules/print.ts";
import type { Diagnostic } from "../yaml/source.ts";
import {
  ExitError,
  type GlobalOptions,
  hasErrors,
  loadConfiguration,
  loadRuleSet,
  loadSetup,
  printDiagnostics,
  ruleFiles,
  SetupError,
} from "./shared.ts";

/** Rules commands need the configuration only for `rules_files`, when no -r is given; with no configuration
 * file at all, the default rules file (as the server reads it). */
async function files(options: GlobalOptions): Promise<string[]> {
  if (options.rules !== undefined && options.rules.length > 0) return options.rules;
  if (options.config === undefined && defaultConfigFile() === undefined) return [defaultRulesFile()];
  return ruleFiles(options, await loadConfiguration(options, createRegistries()));
}

/** `rules check`: the server's own validation (loadSetup), minus the network. */
export async function rulesCheckCommand(options: GlobalOptions & { strict?: boolean }): Promise<void> {
  let diagnostics: readonly Diagnostic[];
  let rules: number;
  try {
    const loaded = await loadSetup(options, createRegistries(), options.strict ?? false);
    diagnostics = loaded.diagnostics;
    rules = loaded.setup.ruleSet.rules.length;
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    const errors = err.diagnostics.filter((d) => d.severity === "error").length;
    process.stderr.write(`${errors} error${errors === 1 ? "" : "s"}: the rules are invalid\n`);
    throw new ExitError(1);
  }
  const warnings = diagnostics.filter((d) => d.severity === "warning").length;
  process.stdout.write(
    `rules valid: ${rules} rule${rules === 1 ? "" : "s"}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}\n`,
  );
}

export async function rulesPrintCommand(options: GlobalOptions): Promise<void> {
  const { ruleSet, document, diagnostics } = await loadRuleSet(await files(options), createRegistries());
  printDiagnostics(diagnostics);
  if (ruleSet === undefined || hasErrors(diagnostics)) throw new ExitError(1);
  process.stdout.write(printRules(document));
}
