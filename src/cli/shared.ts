// What every command needs: the configuration and rules loaded with compiler-style diagnostics.
import { loadConfig } from "../config/load.ts";
import { DEFAULT_PATHS, type DefaultPaths, defaultConfigFile } from "../config/paths.ts";
import type { Config } from "../config/schema.ts";
import type { Registries } from "../registries.ts";
import { inSourceOrder, loadRules } from "../rules/index.ts";
import { checkSetup } from "../rules/setup-check.ts";
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
export async function loadConfiguration(
  options: GlobalOptions,
  registries: Registries,
  paths: DefaultPaths = DEFAULT_PATHS,
): Promise<Config> {
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

export interface Setup {
  readonly config: Config;
  readonly files: string[];
  readonly ruleSet: RuleSet;
  readonly document: RulesDocument;
}

/**
 * What `server` validates before it starts, and all of what `rules check` validates: the configuration
 * (the -c file, else the default ones, with the environment's overrides, exactly as the server reads it),
 * the rules (-r, else rules_files), then the static checks of every notifier, client and context the
 * rules use (rules/setup-check.ts; nothing is contacted). One function, so that the two cannot drift: when
 * `rules check -c C -r R` exits 0, `server -c C -r R` starts. Prints the diagnostics; throws ExitError(1)
 * with `what` when any is an error.
 *
 * `strict` (rules check --strict): unknown keys and parameters, unknown template variables and
 * unconfigured notifiers are errors. The server's own strictness about notifiers is the configuration's
 * `unconfigured_notifiers: error`, which rules check honours too.
 */
export async function loadSetup(
  options: GlobalOptions,
  registries: Registries,
  strict = false,
): Promise<{ setup: Setup; diagnostics: Diagnostic[] }> {
  const config = await loadConfiguration(options, registries);
  const files = ruleFiles(options, config);
  const { ruleSet, document, diagnostics } = await loadRuleSet(files, registries, strict);
  if (ruleSet !== undefined && !hasErrors(diagnostics)) {
    const notifiersStrict = strict || config.unconfigured_notifiers === "error";
    const checked = await checkSetup(config, ruleSet, registries, { strict: notifiersStrict, env: process.env });
    diagnostics.push(...checked.diagnostics);
  }
  const sorted = inSourceOrder(diagnostics, files);
  printDiagnostics(sorted);
  if (ruleSet === undefined || hasErrors(sorted)) {
    throw new SetupError(sorted);
  }
  return { setup: { config, files, ruleSet, document }, diagnostics: sorted };
}

/** The setup is invalid; its diagnostics were printed. */
export class SetupError extends ExitError {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    super(1);
    this.diagnostics = diagnostics;
  }
}

export async function loadRuleSet(
  files: string[],
  registries: Registries,
  strict = false,
): Promise<{ ruleSet: RuleSet | undefined; document: RulesDocument; diagnostics: Diagnostic[] }> {
  if (files.length === 0) {
    const diagnostics: Diagnostic[] = [
      { file: "", line: 0, column: 0, severity: "error", code: "ERR_RULES_INVALID", message: "no rules file: use -r or rules_files" },
    ];
    return { ruleSet: undefined, document: { files: [], actions: [], rules: [] }, diagnostics };
  }
  return loadRules(files, registries, { strict });
}
