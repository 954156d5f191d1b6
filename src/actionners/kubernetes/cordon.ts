// kubernetes:cordon: marks the node of the event's pod unschedulable, as `kubectl cordon` does (a strategic
// merge patch {"spec":{"unschedulable":true}}; Talon sends a JSON Patch "replace").
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { cordonNode, nodeOfEventPod } from "./_workload.ts";

const params = z.strictObject({});

/** The node read by preflight, reused by run (same context object). */
const checked = new WeakMap<object, string>();

export default defineActionner({
  category: "kubernetes",
  name: "cordon",
  description: "Cordon a node",
  source: "syscall, k8s_audit",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  output: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group).
  permissions: "/pods: get\n/nodes: get, patch",
  params,
  example: `
- action: Cordon the node
  actionner: kubernetes:cordon
`,
  async preflight(ctx) {
    checked.set(ctx, await nodeOfEventPod(ctx));
  },
  async run(ctx) {
    const target = podTargetOf(ctx.event);
    const node = checked.get(ctx) ?? (await nodeOfEventPod(ctx));
    await cordonNode(kubernetesOf(ctx.clients), node, ctx.signal);
    return { output: `the node '${node}' has been cordoned`, objects: { pod: target.pod, namespace: target.namespace, node } };
  },
});
