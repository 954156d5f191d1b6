// Which pods a network policy (kubernetes, calico or cilium) applies to, and its name, worked out as Talon
// does: the pod's owner (ReplicaSet, DaemonSet or StatefulSet) gives the policy its name and its selector
// (the owner's spec.selector.matchLabels without the per-revision hash labels), so that every replica is
// covered; a standalone pod gives its own name and labels.
//
// Kestrel additions: a pod owned by another kind (a Job, a custom controller) is treated as standalone
// instead of producing an empty name, and a selector that would end up empty is refused, because an empty
// selector applies the policy to every pod of the namespace.
import type { V1LabelSelector } from "@kubernetes/client-node";
import { kubernetesOf } from "../../clients/index.ts";
import { kubeCall } from "../../clients/kubernetes-calls.ts";
import { KestrelError } from "../../errors.ts";
import { podTargetOf } from "../../events/target.ts";
import type { ActionContext } from "../../plugins/types.ts";
import { ownerOf, readPod } from "./_pod.ts";

/** Labels that differ between revisions of the same workload; a selector keeping them misses replicas. */
export const REVISION_LABELS: readonly string[] = ["pod-template-hash", "pod-template-generation", "controller-revision-hash"];

export interface PolicyTarget {
  readonly pod: string;
  readonly namespace: string;
  /** The owner the policy is named after: ReplicaSet, DaemonSet, StatefulSet, or Pod for a standalone pod. */
  readonly ownerKind: string;
  /** The policy's name: the owner's, or the pod's when it has no supported owner. */
  readonly name: string;
  /** The labels that select the pods (never empty). */
  readonly selector: Readonly<Record<string, string>>;
}

const cache = new WeakMap<object, Promise<PolicyTarget>>();

/**
 * The policy target of the action's event, read from the API once per action run: preflight resolves it
 * (failing before any change when the pod or its owner is gone) and run reuses it.
 */
export function policyTargetOf(ctx: ActionContext): Promise<PolicyTarget> {
  let target = cache.get(ctx);
  if (target === undefined) {
    target = resolve(ctx);
    cache.set(ctx, target);
  }
  return target;
}

async function resolve(ctx: ActionContext): Promise<PolicyTarget> {
  const kube = kubernetesOf(ctx.clients);
  const { pod: podName, namespace } = podTargetOf(ctx.event);
  const pod = await readPod(kube, { pod: podName, namespace }, ctx.signal);
  const owner = ownerOf(pod);
  const options = kube.requestOptions(ctx.signal);
  let ownerKind = "Pod";
  let name = podName;
  let selector: V1LabelSelector | undefined;
  if (owner !== undefined && (owner.kind === "ReplicaSet" || owner.kind === "DaemonSet" || owner.kind === "StatefulSet")) {
    const what = `read the ${owner.kind} '${owner.name}' that owns the pod '${podName}' in the namespace '${namespace}'`;
    const request = { name: owner.name, namespace };
    const workload = await kubeCall(what, { signal: ctx.signal }, (): Promise<{ spec?: { selector?: V1LabelSelector } }> => {
      if (owner.kind === "ReplicaSet") return kube.apps.readNamespacedReplicaSet(request, options);
      if (owner.kind === "DaemonSet") return kube.apps.readNamespacedDaemonSet(request, options);
      return kube.apps.readNamespacedStatefulSet(request, options);
    });
    ownerKind = owner.kind;
    name = owner.name;
    selector = workload.spec?.selector;
  }
  let labels = withoutRevisionLabels(selector?.matchLabels);
  // An owner selecting by expressions only: its pods' own labels select them as well.
  if (Object.keys(labels).length === 0) labels = withoutRevisionLabels(pod.metadata?.labels);
  if (Object.keys(labels).length === 0) {
    throw new KestrelError(
      "ERR_PREFLIGHT",
      `the pod '${podName}' in the namespace '${namespace}' has no labels to select it by: a policy with an empty selector would apply to every pod of the namespace`,
    );
  }
  return { pod: podName, namespace, ownerKind, name, selector: labels };
}

function withoutRevisionLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!REVISION_LABELS.includes(k)) out[k] = v;
  return out;
}
