// What every command needs: the configuration and rules loaded with compiler-style diagnostics.
import { loadConfig } from "../config/load.ts";
import { DEFAULT_PATHS, type DefaultPaths, defaultConfigFile } from "../config/paths.ts";
import type { Config } from "../config/schema.ts";
import type { Registries } from "../plugins/registries.ts";
import { loadRules } from "../rules/index.ts";
import type { RuleSet, RulesDocument } from "../rules/types.ts";
import { type Diagnostic, formatDiagnostic } from "../yaml/source.ts";

/** Kestrel's own default configuration file; Talon's /etc/falco-talon/config.yaml is read when it is absent. */
export const DEFAULT_CONFIG_FILE = DEFAULT_PATHS.config[0]!;

export interface GlobalOptions {
  config?: string;
  rules?: string[];
}

/** Thrown by a command to exit with a code after its diagnostics were printed. */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message = "") {
    super(message);
    this.exitCode = exitCode;
  }
}

export function printDiagnostics(diagnostics: readonly Diagnostic[], stream: NodeJS.WritableStream = process.stderr): void {
  for (const d of diagnostics) stream.write(`${formatDiagnostic(d)}\n`);
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** The configuration: the -c file (which must exist), else /etc/kestrel/config.yaml if present, else
 * Talon's /etc/falco-talon/config.yaml if present, else defaults (config/paths.ts). */
export async function loadConfiguration(options: GlobalOptions, registries: Registries, paths: DefaultPaths = DEFAULT_PATHS): Promise<Config> {
  const explicit = options.config !== undefined;
  const file = options.config ?? defaultConfigFile(paths);
  const { config, diagnostics } = await loadConfig({
    ...(file === undefined ? {} : { file }),
    env: process.env,
    registries,
    requireFile: explicit,
    defaultPaths: paths,
  });
  printDiagnostics(diagnostics);
  if (config === undefined || hasErrors(diagnostics)) throw new ExitError(1, "invalid configuration");
  return config;
}

/** The rules files: the -r flags when given, else the configuration's `rules_files`. */
export function ruleFiles(options: GlobalOptions, config: Config | undefined): string[] {
  if (options.rules !== undefined && options.rules.length > 0) return options.rules;
  return config?.rules_files ?? [];
}

export async function loadRuleSet(
  files: string[],
  registries: Registries,
  strict = false,
): Promise<{ ruleSet: RuleSet | undefined; document: RulesDocument; diagnostics: Diagnostic[] }> {
  if (files.length === 0) {
    const diagnostics: Diagnostic[] = [
      { file: "<command line>", line: 0, column: 0, severity: "error", code: "ERR_RULES_INVALID", message: "no rules file: use -r or rules_files" },
    ];
    return { ruleSet: undefined, document: { files: [], actions: [], rules: [] }, diagnostics };
  }
  return loadRules(files, registries, { strict });
}
