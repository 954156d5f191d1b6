// `kestrel rules check` and `kestrel rules print`.
import { createRegistries } from "../plugins/registries.ts";
import { printRules } from "../rules/print.ts";
import { defaultConfigFile, defaultRulesFile } from "../config/paths.ts";
import { ExitError, type GlobalOptions, hasErrors, loadConfiguration, loadRuleSet, printDiagnostics, ruleFiles } from "./shared.ts";

/** Rules commands need the configuration only for `rules_files`, when no -r is given; with no configuration
 * file at all, the default rules file (as the server reads it). */
async function files(options: GlobalOptions): Promise<string[]> {
  if (options.rules !== undefined && options.rules.length > 0) return options.rules;
  if (options.config === undefined && defaultConfigFile() === undefined) return [defaultRulesFile()];
  return ruleFiles(options, await loadConfiguration(options, createRegistries()));
}

export async function rulesCheckCommand(options: GlobalOptions & { strict?: boolean }): Promise<void> {
  const { ruleSet, diagnostics } = await loadRuleSet(await files(options), createRegistries(), options.strict ?? false);
  printDiagnostics(diagnostics);
  if (ruleSet === undefined || hasErrors(diagnostics)) {
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    process.stderr.write(`${errors} error${errors === 1 ? "" : "s"}: the rules are invalid\n`);
    throw new ExitError(1);
  }
  const warnings = diagnostics.length;
  process.stdout.write(`rules valid: ${ruleSet.rules.length} rule${ruleSet.rules.length === 1 ? "" : "s"}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}\n`);
}

export async function rulesPrintCommand(options: GlobalOptions): Promise<void> {
  const { ruleSet, document, diagnostics } = await loadRuleSet(await files(options), createRegistries());
  printDiagnostics(diagnostics);
  if (ruleSet === undefined || hasErrors(diagnostics)) throw new ExitError(1);
  process.stdout.write(printRules(document));
}
