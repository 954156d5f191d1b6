// kubernetes:cordon: marks the node of the event's pod unschedulable, as `kubectl cordon` does (a strategic
// merge patch {"spec":{"unschedulable":true}}; Talon sends a JSON Patch "replace").
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { nodeOfEventPod } from "./_workload.ts";

const params = z.strictObject({});

export default defineActionner({
  category: "kubernetes",
  name: "cordon",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Marks the pod's node unschedulable (a strategic merge patch, as `kubectl cordon`).",
  },
  description: "Cordon a node",
  source: "syscall, k8s_audit",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group).
  permissions: "/pods: get\n/nodes: get, patch",
  params,
  example: `
- action: Cordon the node
  actionner: kubernetes:cordon
`,
  preflight: nodeOfEventPod,
  async run(ctx, { target, node }) {
    await kubernetesOf(ctx.clients).cordon(node, { signal: ctx.signal });
    return { summary: `the node '${node}' has been cordoned`, objects: { pod: target.pod, namespace: target.namespace, node } };
  },
});
