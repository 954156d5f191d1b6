// kubernetes:terminate: deletes the event's pod (Talon's terminate). DaemonSet, StatefulSet and standalone
// pods can be spared by flags, and `min_healthy_replicas` spares a pod whose ReplicaSet or StatefulSet would
// drop below that many ready replicas; a spared pod is reported with status `ignored` (Talon reports
// success with an empty output).
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { minHealthyReplicasParam, RemovalPolicy } from "./_workload.ts";

const params = z.strictObject({
  grace_period_seconds: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe("seconds the pod gets to stop before it is killed; 0 deletes it immediately"),
  ignore_daemonsets: z.boolean().default(false).describe("leave pods of a DaemonSet alone (status ignored)"),
  ignore_statefulsets: z.boolean().default(false).describe("leave pods of a StatefulSet alone (status ignored)"),
  ignore_standalone_pods: z
    .boolean()
    .default(false)
    .describe("leave pods without a controller alone (status ignored); Talon lists true as default but applies false"),
  min_healthy_replicas: minHealthyReplicasParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "terminate",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Deletes the pod (after `grace_period_seconds`); skips DaemonSet, StatefulSet or standalone pods on request.",
    talon:
      "`min_healthy_replicas` as a number or a % of the desired replicas (Talon compared with the raw %); skipped pods are reported `ignored`, not `success`",
  },
  description: "Terminate the pod",
  source: "syscall, k8s_audit",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: false,
  artifact: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group). The
  // controllers are read only with min_healthy_replicas.
  permissions: "/pods: get, delete\napps/replicasets: get\napps/statefulsets: get",
  params,
  example: `
- action: Terminate the pod
  actionner: kubernetes:terminate
  parameters:
    grace_period_seconds: 5
    ignore_daemonsets: true
    ignore_statefulsets: true
    min_healthy_replicas: 33%
`,
  async preflight(ctx) {
    const target = podTargetOf(ctx.event);
    return { target, pod: await kubernetesOf(ctx.clients).readPod(target, { signal: ctx.signal }) };
  },
  async run(ctx, { target, pod }) {
    const { params: p, signal } = ctx;
    const kube = kubernetesOf(ctx.clients);
    const objects = { pod: target.pod, namespace: target.namespace };
    const why = await new RemovalPolicy(kube, p, signal).reasonToSkip(pod);
    if (why !== undefined) {
      return {
        status: "ignored",
        summary: `the pod '${target.pod}' in the namespace '${target.namespace}' has not been terminated: ${why}`,
        objects,
      };
    }
    await kube.terminatePod(target, p.grace_period_seconds, { signal });
    return { summary: `the pod '${target.pod}' in the namespace '${target.namespace}' has been terminated`, objects };
  },
});
