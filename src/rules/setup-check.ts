// The static checks `server` makes before it starts, shared with `rules check` so that they cannot drift:
// every notifier, client and context the rules use is checked from its settings alone (nothing is
// contacted). Each problem is a diagnostic at the rules or configuration line that causes it.
//
// A notifier that a rule names but the configuration leaves unusable (Talon's chart ships `slack` with an
// empty webhookUrl) is what Talon does: logged, skipped, the server starts. Here it is a warning at the
// rule's `notifiers:` item, and its sends are skipped and counted; `--strict`, or
// `unconfigured_notifiers: error` in config.yaml, make it an error.
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { FileError, readRegularFileSync } from "../files.ts";
import type { Registries } from "../plugins/registry.ts";
import type { ClientNeed } from "../plugins/types.ts";
import { type Diagnostic, type Position, type YamlPath, YamlSource } from "../yaml/source.ts";
import { diagnosticAt, diagnosticAtLoc } from "./diagnostics.ts";
import { awsUses, clientNeeds } from "./needs.ts";
import type { RuleSet } from "./types.ts";

export interface SetupCheckOptions {
  /** Unconfigured notifiers are errors (`rules check --strict`, `unconfigured_notifiers: error`). */
  readonly strict: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export interface SetupCheck {
  readonly diagnostics: Diagnostic[];
  /** Notifiers the rules name that the configuration leaves unusable, with why. */
  readonly unconfigured: ReadonlyMap<string, string>;
}

/** Why `name` cannot be created from the configuration, or undefined when it can. */
export function unconfiguredReason(config: Config, registries: Registries, name: string): string | undefined {
  const plugin = registries.notifiers.get(name);
  if (plugin === undefined || config.notifiers[name] !== undefined) return undefined;
  const parsed = plugin.params.safeParse({});
  if (parsed.success) return undefined;
  const missing = parsed.error.issues.map((i) => `"${i.path.map(String).join(".")}"`).join(", ");
  return config.file === "" ? `no configuration file sets notifiers.${name}, which needs ${missing}` : `notifiers.${name} needs ${missing}`;
}

export async function checkSetup(
  config: Config,
  ruleSet: RuleSet,
  registries: Registries,
  options: SetupCheckOptions,
): Promise<SetupCheck> {
  const where = configLocator(config);
  const unconfigured = new Map<string, string>();
  for (const name of ruleSet.notifierNames) {
    const reason = unconfiguredReason(config, registries, name);
    if (reason !== undefined) unconfigured.set(name, reason);
  }
  const diagnostics = [
    ...unconfiguredNotifierUses(config, ruleSet, unconfigured, options.strict),
    ...notifierFileProblems(config, ruleSet, where),
  ];
  await checkClients(config, clientNeeds(config, ruleSet, registries), where, diagnostics, options.env ?? process.env);
  return { diagnostics, unconfigured };
}

/** Each `notifiers:` item of a rule that names an unconfigured notifier (default notifiers are reported
 * by the configuration itself). */
function unconfiguredNotifierUses(
  config: Config,
  ruleSet: RuleSet,
  unconfigured: ReadonlyMap<string, string>,
  strict: boolean,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of ruleSet.rules) {
    rule.notifiers.forEach((name, i) => {
      const reason = unconfigured.get(name);
      if (reason === undefined || config.default_notifiers.includes(name)) return;
      const at = rule.spec.fieldAt.get(`notifiers[${i}]`) ?? rule.spec.fieldAt.get("notifiers") ?? rule.spec.at;
      const message = strict
        ? `notifier "${name}" is not configured: ${reason}`
        : `notifier "${name}" is not configured (${reason}): its notifications are skipped and counted (an error with --strict or unconfigured_notifiers: error)`;
      out.push(diagnosticAtLoc(at, strict ? "error" : "warning", "ERR_CONFIG_INVALID", message, { rule: rule.name }));
    });
  }
  return out;
}

/** Files a notifier in use reads when it starts (smtp's and syslog's ca_file) that cannot be read. */
function notifierFileProblems(config: Config, ruleSet: RuleSet, where: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const name of new Set([...config.default_notifiers, ...ruleSet.notifierNames])) {
    for (const [key, value] of Object.entries(config.notifiers[name] ?? {})) {
      if (!key.endsWith("_file") || typeof value !== "string" || value === "") continue;
      const problem = unreadable(value);
      if (problem === undefined) continue;
      const message = `notifiers.${name}.${key}: cannot read ${value}: ${problem}`;
      out.push(diagnosticAt(where(["notifiers", name, key]), "error", "ERR_CONFIG_INVALID", message));
    }
  }
  return out;
}

/** The clients' settings, statically: a kubeconfig or credentials file that cannot be read, AWS keys
 * without their pair, a MinIO endpoint that is not one. Whether the cluster or cloud answers is not known
 * here (the server finds out when it starts). */
async function checkClients(
  config: Config,
  needs: ReadonlySet<ClientNeed>,
  where: Locator,
  diagnostics: Diagnostic[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const error: SettingError = (path, message) => diagnostics.push(diagnosticAt(where(path), "error", "ERR_CONFIG_INVALID", message));
  if (needs.has("kubernetes") && config.kubeconfig !== "") {
    const problem = unreadable(config.kubeconfig);
    if (problem !== undefined) error(["kubeconfig"], `kubeconfig: cannot read ${config.kubeconfig}: ${problem}`);
  }
  if (needs.has("gcp") && (config.gcp.credentials_path ?? "") !== "") await checkGcpCredentials(config, env, error);
  const uses = awsUses(needs);
  if (uses !== undefined) await checkAwsSettings(config, uses, error);
}

type SettingError = (path: YamlPath, message: string) => void;

async function checkGcpCredentials(config: Config, env: NodeJS.ProcessEnv, error: SettingError): Promise<void> {
  const { resolveCredentials } = await import("../clients/gcp/credentials.ts");
  try {
    resolveCredentials(config.gcp, { env });
  } catch (err) {
    error(["gcp", "credentials_path"], errorMessage(err));
  }
}

async function checkAwsSettings(config: Config, uses: NonNullable<ReturnType<typeof awsUses>>, error: SettingError): Promise<void> {
  const { awsSettingsProblems, minioTarget } = await import("../clients/aws/settings.ts");
  if (uses.aws || uses.metadata) for (const p of awsSettingsProblems(config.aws)) error(["aws", settingOf(p, "aws")], p);
  if (!uses.minio) return;
  const target = minioTarget(config.minio);
  if (Array.isArray(target)) for (const p of target) error(["minio", settingOf(p, "minio")], p);
}

/** `aws.secret_key is not set…` → `secret_key`. */
function settingOf(problem: string, section: string): string {
  return new RegExp(`${section}\\.([a-z_]+)`).exec(problem)?.[1] ?? "";
}

function unreadable(path: string): string | undefined {
  try {
    readRegularFileSync(path);
    return undefined;
  } catch (err) {
    return err instanceof FileError ? err.reason : errorMessage(err);
  }
}

type Locator = (path: YamlPath) => Position;

/** Positions in the configuration file (the deepest key of `path` it has); no file: no position. */
function configLocator(config: Config): Locator {
  let source: YamlSource | undefined;
  return (path) => {
    if (config.file === "") return { file: "", line: 0, column: 0 };
    try {
      source ??= new YamlSource(config.file, readRegularFileSync(config.file).toString("utf8"));
    } catch {
      return { file: config.file, line: 0, column: 0 };
    }
    return source.locate(path);
  };
}
