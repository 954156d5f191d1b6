// Where the configuration and the rules are read from when no -c or rules_files names them: Kestrel's own
// files under /etc/kestrel, else Falco Talon's under /etc/falco-talon, so that a deployment that mounts
// Talon's config.yaml and rules.yaml keeps working unchanged. Each file falls back on its own.
import { existsSync } from "node:fs";

export interface DefaultPaths {
  /** Candidate configuration files, in order of preference. */
  readonly config: readonly string[];
  /** Candidate rules files, in order of preference. */
  readonly rules: readonly string[];
}

export const DEFAULT_PATHS: DefaultPaths = {
  config: ["/etc/kestrel/config.yaml", "/etc/falco-talon/config.yaml"],
  rules: ["/etc/kestrel/rules.yaml", "/etc/falco-talon/rules.yaml"],
};

/** The first configuration file that exists; undefined when none does (then the defaults apply). */
export function defaultConfigFile(paths: DefaultPaths = DEFAULT_PATHS): string | undefined {
  return paths.config.find((file) => existsSync(file));
}

/** The first rules file that exists; when none does, the first candidate (its absence is then reported
 * under Kestrel's own path). */
export function defaultRulesFile(paths: DefaultPaths = DEFAULT_PATHS): string {
  return paths.rules.find((file) => existsSync(file)) ?? paths.rules[0] ?? "";
}
