// Loads config.yaml (Falco Talon's format plus Kestrel's own keys), overlays environment variables the
// way Talon's viper does (`otel.timeout` ← OTEL_TIMEOUT, no prefix), validates everything (the schema,
// then each notifier's settings with that notifier's own schema) and returns a deep-frozen Config.
// Every problem is collected as a Diagnostic with file:line:col (or `env:NAME` for env vars) before
// returning; the config is undefined when any of them is an error. The steps live beside this file:
// ./read-yaml.ts (the file as viper reads it), ./env-overlay.ts, ./security.ts (env overrides that would
// open the intake), ./notifier-settings.ts; ./config-problems.ts places each diagnostic.

import { isIP } from "node:net";
import type { Registries } from "../plugins/registry.ts";
import type { Diagnostic } from "../yaml/source.ts";
import { ConfigProblems } from "./config-problems.ts";
import { EnvOverlay } from "./env-overlay.ts";
import { notifierSettings } from "./notifier-settings.ts";
import { DEFAULT_PATHS, type DefaultPaths, defaultRulesFile } from "./paths.ts";
import { applyKeyAliases, normalizeKeys, parseConfigYaml, readConfigText } from "./read-yaml.ts";
import { type Config, configSchema, type ParsedConfig } from "./schema.ts";
import { securityOverrideProblems } from "./security.ts";

export interface LoadConfigOptions {
  /** Path of config.yaml; undefined or "" means none (defaults plus env). */
  file?: string;
  /** The environment (the CLI passes process.env); nothing else is read from it. */
  env?: Record<string, string | undefined>;
  registries: Registries;
  /** When true a file that cannot be read is an error; otherwise a missing file means defaults. */
  requireFile?: boolean;
  /** Where `rules_files` points when neither the file nor RULES_FILES sets it (tests pass their own). */
  defaultPaths?: DefaultPaths;
  /** Whether the log goes to a terminal: `log_format` unset is color there, text in a pipe or a file.
   * process.stdout.isTTY when omitted. */
  stdoutIsTTY?: boolean;
}

export interface LoadConfigResult {
  /** Undefined when any diagnostic is an error. */
  config: Config | undefined;
  diagnostics: Diagnostic[];
}

/** A DNS host name (RFC 1123 labels). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export async function loadConfig(options: LoadConfigOptions): Promise<LoadConfigResult> {
  const file = options.file ?? "";
  const read = await readConfigText(file, options.requireFile ?? false);
  const parsed = read.text === undefined ? undefined : parseConfigYaml(file, read.text);
  if (parsed !== undefined && parsed.document === undefined) return { config: undefined, diagnostics: parsed.diagnostics };
  const overlay = new EnvOverlay(options.env ?? {}, options.registries);
  const problems = new ConfigProblems(file, parsed?.source, parsed?.document ?? {}, overlay);
  if (read.problem !== undefined) problems.fileError(read.problem);

  const raw = settingsWithEnv(parsed?.document ?? {}, overlay, problems);
  const valid = configSchema.safeParse(raw);
  if (!valid.success) problems.reportIssues(valid.error.issues, [], "ERR_CONFIG_INVALID");
  const notifiers = notifierSettings(raw, options.registries, problems);
  if (valid.success) checkListenAddress(valid.data.listen_address, problems);
  const config = valid.success ? buildConfig(valid.data, raw, notifiers, read.text === undefined ? "" : file, options) : undefined;
  const diagnostics = problems.sorted();
  return { config: diagnostics.some((d) => d.severity === "error") ? undefined : config, diagnostics };
}

/** The document as viper reads it (case-insensitive keys, empty values unset, Talon's `rules_file` typo),
 * then the env vars over it; env overrides that would open the intake are errors. */
function settingsWithEnv(document: Record<string, unknown>, overlay: EnvOverlay, problems: ConfigProblems): Record<string, unknown> {
  const raw = normalizeKeys(document, (path) => problems.duplicate(path));
  applyKeyAliases(raw, (alias, message) => problems.warn(problems.whereKey([alias]), message));
  overlay.apply(raw);
  for (const p of securityOverrideProblems(raw, (key) => overlay.setBy(key))) problems.error(problems.where(p.path), p.message);
  return raw;
}

/** The Config from the validated settings, with the defaults that depend on where Kestrel runs. */
function buildConfig(
  valid: ParsedConfig,
  raw: Record<string, unknown>,
  notifiers: Config["notifiers"],
  file: string,
  options: LoadConfigOptions,
): Config {
  const { deduplication, notifiers: _unparsed, ...rest } = valid;
  const stdoutIsTTY = options.stdoutIsTTY ?? process.stdout.isTTY === true;
  const config: Config = {
    ...rest,
    // Unset in the file and the environment: colors for a terminal only, no escape codes in a pipe or a file.
    log_format: rest.log_format ?? (stdoutIsTTY ? "color" : "text"),
    // Unset in the file and the environment: /etc/kestrel/rules.yaml, else Talon's /etc/falco-talon/rules.yaml.
    rules_files: raw["rules_files"] === undefined ? [defaultRulesFile(options.defaultPaths ?? DEFAULT_PATHS)] : rest.rules_files,
    deduplication: {
      leader_election: deduplication.leader_election ?? nonEmpty(options.env?.["KUBERNETES_SERVICE_HOST"]),
      time_window_seconds: deduplication.time_window_seconds,
    },
    notifiers,
    file,
  };
  return deepFreeze(config);
}

/** listen_address must be an IP address or a host name: anything else would fail at listen time with a
 * resolver's stack trace instead of a line naming the setting (or LISTEN_ADDRESS). */
function checkListenAddress(address: string, problems: ConfigProblems): void {
  if (isIP(address) !== 0 || HOST_NAME.test(address)) return;
  problems.error(problems.where(["listen_address"]), `listen_address: ${JSON.stringify(address)} is not an IP address or a host name`);
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && v !== "";
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
