// Writes deploy/rbac.yaml: the ClusterRole every Kubernetes plugin's declared permissions add up to, a
// ServiceAccount and the binding; and the Helm chart's files/permissions.yaml (the same permissions by
// plugin). Run after changing a plugin's permissions: node scripts/generate-rbac.ts (test/rbac.test.ts and
// test/helm/chart.test.ts fail while the files are out of date); then npm run manifests.
import { writeFileSync } from "node:fs";
import { CHART_PERMISSIONS, renderChartPermissions } from "./chart-permissions.ts";
import { renderRbacManifest } from "./rbac-manifest.ts";

const target = new URL("../deploy/rbac.yaml", import.meta.url);
writeFileSync(target, renderRbacManifest());
process.stdout.write(`written ${target.pathname}\n`);
writeFileSync(CHART_PERMISSIONS, renderChartPermissions());
process.stdout.write(`written ${CHART_PERMISSIONS.pathname}\n`);
