// Reading the pod an event names (events/target.ts) and its owner.
import type { V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { type KubeClient, kubeCall } from "../../clients/kubernetes-calls.ts";
import type { PodTarget } from "../../events/target.ts";

/** GETs the pod; a missing pod is ERR_TARGET_GONE. */
export function readPod(kube: KubeClient, target: PodTarget, signal: AbortSignal): Promise<V1Pod> {
  return kubeCall(`read the pod '${target.pod}' in the namespace '${target.namespace}'`, { signal }, () =>
    kube.core.readNamespacedPod({ name: target.pod, namespace: target.namespace }, kube.requestOptions(signal)),
  );
}

/** The pod's controller (or first owner), as Talon reads `ownerReferences[0]`; undefined for a standalone pod. */
export function ownerOf(pod: V1Pod): V1OwnerReference | undefined {
  const owners = pod.metadata?.ownerReferences ?? [];
  return owners.find((o) => o.controller === true) ?? owners[0];
}
