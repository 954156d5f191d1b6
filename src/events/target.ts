// Which pod an event names, read as Talon does (the kubernetes, calico and cilium actionners act on it, the
// per-target ordering key and the k8snode context and k8sevents notifier use it): the pod is
// the first of k8s.pod.name, ka.target.pod.name, ka.target.name; its namespace k8s.ns.name, then
// ka.target.namespace. Unlike Talon, ka.target.name counts as a pod only when the audit event's target is
// a pod (ka.target.resource is "pods" or absent): a ConfigMap named "web" is not the pod "web". A missing
// field is a failure before any API call.
import { KestrelError } from "../errors.ts";
import type { FalcoEvent } from "./event.ts";
import { fieldText, firstField } from "./fields.ts";

export const POD_NAME_FIELDS = ["k8s.pod.name", "ka.target.pod.name", "ka.target.name"] as const;
export const NAMESPACE_FIELDS = ["k8s.ns.name", "ka.target.namespace"] as const;

/** For `requiredFields` of the actionners that act on the event's pod. */
export const POD_REQUIRED_FIELDS: readonly (readonly string[])[] = [POD_NAME_FIELDS, NAMESPACE_FIELDS];

export interface PodTarget {
  readonly pod: string;
  readonly namespace: string;
}

const DIRECT_POD_FIELDS = ["k8s.pod.name", "ka.target.pod.name"] as const;
const AUDIT_TARGET_NAME = ["ka.target.name"] as const;

/** The event's pod name, if it names one (see the file comment for ka.target.name). */
export function podNameOf(event: FalcoEvent): string | undefined {
  const direct = firstField(event, DIRECT_POD_FIELDS);
  if (direct !== undefined && direct !== "") return direct;
  const resource = fieldText(event.outputFields["ka.target.resource"]);
  return resource === undefined || resource === "pods" ? firstField(event, AUDIT_TARGET_NAME) : undefined;
}

/** The event's pod; throws ERR_PREFLIGHT naming the fields when the event has none. */
export function podTargetOf(event: FalcoEvent): PodTarget {
  const pod = podNameOf(event);
  const namespace = firstField(event, NAMESPACE_FIELDS);
  if (pod === undefined || pod === "") {
    throw new KestrelError("ERR_PREFLIGHT", `the event names no pod (${POD_NAME_FIELDS.join(", ")})`);
  }
  if (namespace === undefined || namespace === "") {
    throw new KestrelError("ERR_PREFLIGHT", `the event names no namespace for the pod '${pod}' (${NAMESPACE_FIELDS.join(", ")})`);
  }
  return { pod, namespace };
}
