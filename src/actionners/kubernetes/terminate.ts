// kubernetes:terminate: deletes the event's pod (Talon's terminate). DaemonSet, StatefulSet and standalone
// pods can be spared by flags, and `min_healthy_replicas` spares a pod whose ReplicaSet or StatefulSet would
// drop below that many ready replicas; a spared pod is reported with status `ignored` (Talon reports
// success with an empty output).
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { kubeCall } from "../../clients/kubernetes-calls.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { readPod } from "./_pod.ts";
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

/** The pod read by preflight, reused by run (same context object). */
const checked = new WeakMap<object, V1Pod>();

export default defineActionner({
  category: "kubernetes",
  name: "terminate",
  description: "Terminate the pod",
  source: "syscall, k8s_audit",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: false,
  output: "none",
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
    checked.set(ctx, await readPod(kubernetesOf(ctx.clients), podTargetOf(ctx.event), ctx.signal));
  },
  async run(ctx) {
    const { params: p, signal } = ctx;
    const kube = kubernetesOf(ctx.clients);
    const target = podTargetOf(ctx.event);
    const objects = { pod: target.pod, namespace: target.namespace };
    const pod = checked.get(ctx) ?? (await readPod(kube, target, signal));
    const why = await new RemovalPolicy(kube, p, signal).reasonToSkip(pod);
    if (why !== undefined) {
      return {
        status: "ignored",
        output: `the pod '${target.pod}' in the namespace '${target.namespace}' has not been terminated: ${why}`,
        objects,
      };
    }
    await kubeCall(`terminate the pod '${target.pod}' in the namespace '${target.namespace}'`, { signal }, () =>
      kube.core.deleteNamespacedPod(
        { name: target.pod, namespace: target.namespace, gracePeriodSeconds: p.grace_period_seconds },
        kube.requestOptions(signal),
      ),
    );
    return { output: `the pod '${target.pod}' in the namespace '${target.namespace}' has been terminated`, objects };
  },
});
