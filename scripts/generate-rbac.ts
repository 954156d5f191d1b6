// Writes deploy/rbac.yaml: the ClusterRole every Kubernetes plugin's declared permissions add up to, a
// ServiceAccount and the binding. Run after changing a plugin's permissions: node scripts/generate-rbac.ts
// (test/rbac.test.ts fails while the file is out of date).
import { writeFileSync } from "node:fs";
import { renderRbacManifest } from "./rbac-manifest.ts";

const target = new URL("../deploy/rbac.yaml", import.meta.url);
writeFileSync(target, renderRbacManifest());
process.stdout.write(`written ${target.pathname}\n`);
