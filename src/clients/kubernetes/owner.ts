// Which pods a network policy (kubernetes, calico or cilium) applies to, and its name, worked out as Talon
// does: the pod's owner (ReplicaSet, DaemonSet or StatefulSet) gives the policy its name and its selector
// (the owner's spec.selector.matchLabels without the per-revision hash labels), so that every replica is
// covered; a standalone pod gives its own name and labels.
//
// Kestrel additions: a pod owned by another kind (a Job, a custom controller) is treated as standalone
// instead of producing an empty name, and a selector that would end up empty is refused, because an empty
// selector applies the policy to every pod of the namespace.
import type { V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { KestrelError } from "../../errors.ts";
import type { PodTarget } from "../../events/target.ts";
import type { ControllerState, KubeApi } from "./api.ts";

/** Labels that differ between revisions of the same workload; a selector keeping them misses replicas. */
export const REVISION_LABELS: readonly string[] = ["pod-template-hash", "pod-template-generation", "controller-revision-hash"];

/** The pod's controller (or first owner), as Talon reads `ownerReferences[0]`; undefined for a standalone pod. */
export function ownerOf(pod: V1Pod): V1OwnerReference | undefined {
  const owners = pod.metadata?.ownerReferences ?? [];
  return owners.find((o) => o.controller === true) ?? owners[0];
}

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

/** The policy target of the event's pod (the pod, then its owner, read from the API): fails when either is gone. */
export async function policyTargetOf(kube: KubeApi, target: PodTarget, signal: AbortSignal): Promise<PolicyTarget> {
  const pod = await kube.readPod(target, { signal });
  const owner = ownerOf(pod);
  let ownerKind = "Pod";
  let name = target.pod;
  let workload: ControllerState | undefined;
  if (owner !== undefined && (owner.kind === "ReplicaSet" || owner.kind === "DaemonSet" || owner.kind === "StatefulSet")) {
    workload = await kube.readController({ kind: owner.kind, name: owner.name, namespace: target.namespace }, { signal });
    ownerKind = owner.kind;
    name = owner.name;
  }
  let labels = withoutRevisionLabels(workload?.selector?.matchLabels);
  // An owner selecting by expressions only: its pods' own labels select them as well.
  if (Object.keys(labels).length === 0) labels = withoutRevisionLabels(pod.metadata?.labels);
  if (Object.keys(labels).length === 0) {
    throw new KestrelError(
      "ERR_PREFLIGHT",
      `the pod '${target.pod}' in the namespace '${target.namespace}' has no labels to select it by: a policy with an empty selector would apply to every pod of the namespace`,
    );
  }
  return { pod: target.pod, namespace: target.namespace, ownerKind, name, selector: labels };
}

function withoutRevisionLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!REVISION_LABELS.includes(k)) out[k] = v;
  return out;
}
