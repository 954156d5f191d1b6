// Writes the chart's files/permissions.yaml (from the plugins' permission lines) and the plain manifests of
// deploy/kubernetes/ (rendered from the chart with helm). Run after changing the chart or a plugin's
// permissions: npm run manifests (test/helm/chart.test.ts fails while they are out of date).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { CHART_PERMISSIONS, renderChartPermissions } from "./chart-permissions.ts";
import { requireHelm } from "./helm.ts";
import { MANIFESTS_DIR, renderKubernetesManifests } from "./kubernetes-manifests.ts";

writeFileSync(CHART_PERMISSIONS, renderChartPermissions());
process.stdout.write(`written ${CHART_PERMISSIONS.pathname}\n`);
const manifests = renderKubernetesManifests(requireHelm());
mkdirSync(MANIFESTS_DIR, { recursive: true });
for (const file of readdirSync(MANIFESTS_DIR)) if (file.endsWith(".yaml") && !manifests.has(file)) rmSync(new URL(file, MANIFESTS_DIR));
for (const [file, content] of manifests) {
  const target = new URL(file, MANIFESTS_DIR);
  writeFileSync(target, content);
  process.stdout.write(`written ${target.pathname}\n`);
}
