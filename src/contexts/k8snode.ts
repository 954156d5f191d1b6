// `additional_contexts: [k8snode]`: facts about the node the event's pod runs on, from the node's labels
// and spec (GET the pod → spec.nodeName → GET the node). They reach templates as NODE_HOSTNAME,
// NODE_INSTANCETYPE, NODE_ROLE, NODE_TOPOLOGY_REGION, NODE_TOPOLOGY_ZONE and NODE_SPEC_PROVIDERID (Talon's
// documented NODE_SPEC_PROVIDEDID too), and the event's `context` for programs and functions.
//
// Differences from Talon, whose k8snode never runs (no actionner sets UseContext): it runs; every key is
// set, empty when the node lacks the label, so a template using one never fails on such a node; the role
// also comes from the `node-role.kubernetes.io/<role>` labels Kubernetes tools set (comma-separated when
// several), the instance type and topology also from their deprecated beta labels; an event that names
// no pod, or whose pod is gone or not scheduled yet, falls back to the node named by the event's hostname
// (Falco reports the node's name there when deployed as a DaemonSet). The whole gathering has a short
// deadline of its own so that a slow API cannot hold the action up.

import { z } from "zod";
import { kubernetesOf } from "../clients/index.ts";
import type { KubeApi, V1Node } from "../clients/kubernetes/api.ts";
import { errorMessage, KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { firstField } from "../events/fields.ts";
import { NAMESPACE_FIELDS, podNameOf } from "../events/target.ts";
import { defineContext } from "../plugins/define.ts";

/** Deadline of one gathering (pod and node reads, retries included). */
export const K8SNODE_TIMEOUT_MS = 3000;

const ROLE_PREFIX = "node-role.kubernetes.io/";

function firstLabel(labels: Readonly<Record<string, string>>, keys: readonly string[]): string {
  for (const k of keys) if (labels[k]) return labels[k];
  return "";
}

/** The context entries of a node. */
export function nodeContext(node: V1Node): Record<string, string> {
  const labels = node.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith(ROLE_PREFIX) && k.length > ROLE_PREFIX.length)
    .map((k) => k.slice(ROLE_PREFIX.length))
    .sort();
  return {
    "node.hostname": labels["kubernetes.io/hostname"] || (node.metadata?.name ?? ""),
    "node.instancetype": firstLabel(labels, ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"]),
    "node.role": labels["kubernetes.io/role"] || roles.join(","),
    "node.topology.region": firstLabel(labels, ["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"]),
    "node.topology.zone": firstLabel(labels, ["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"]),
    "node.spec.providerid": node.spec?.providerID ?? "",
  };
}

/** The name of the node the event's pod runs on; the event's hostname when there is no scheduled pod. */
async function nodeNameOf(kube: KubeApi, event: FalcoEvent, signal: AbortSignal): Promise<string> {
  const pod = podNameOf(event);
  const namespace = firstField(event, NAMESPACE_FIELDS);
  if (pod !== undefined && namespace !== undefined) {
    try {
      const found = await kube.readPod({ pod, namespace }, { signal });
      if (found.spec?.nodeName) return found.spec.nodeName;
    } catch (err) {
      if (!(err instanceof KestrelError && err.code === "ERR_TARGET_GONE")) throw err;
    }
  }
  if (event.hostname !== "") return event.hostname;
  throw new KestrelError(
    "ERR_CONTEXT",
    pod === undefined ? "the event names no pod and no hostname" : `the pod '${pod}' runs on no known node`,
  );
}

async function gatherNode(kube: KubeApi, event: FalcoEvent, signal: AbortSignal): Promise<Record<string, string>> {
  const name = await nodeNameOf(kube, event, signal);
  return nodeContext(await kube.readNode(name, { signal }));
}

export default defineContext({
  name: "k8snode",
  needs: ["kubernetes"],
  description: "Labels and provider id of the node the event's pod runs on (node.hostname, node.role, node.topology.zone, …)",
  params: z.strictObject({}),
  permissions: `/pods: get
/nodes: get`,
  example: `
- rule: Shell in a container
  match:
    rules: [Terminal shell in container]
  actions:
    - action: Record the node
      actionner: local:command
      additional_contexts: [k8snode]
      parameters:
        command: ["/usr/bin/logger", "-t", "kestrel", "\${RULE} on \${NODE_HOSTNAME} (\${NODE_TOPOLOGY_ZONE})"]
`,
  async gather(event, { clients, signal }) {
    const kube = kubernetesOf(clients);
    const deadline = AbortSignal.timeout(K8SNODE_TIMEOUT_MS);
    const both = AbortSignal.any([signal, deadline]);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(
          deadline.aborted
            ? new KestrelError("ERR_TIMEOUT", `the Kubernetes API did not answer within ${K8SNODE_TIMEOUT_MS / 1000} s`)
            : new KestrelError("ERR_TIMEOUT", `cancelled: ${errorMessage(signal.reason)}`),
        );
      if (both.aborted) onAbort();
      else both.addEventListener("abort", onAbort, { once: true });
    });
    const work = gatherNode(kube, event, both);
    work.catch(() => {}); // when the deadline wins, the (aborted) request's own failure is moot
    try {
      return await Promise.race([work, aborted]);
    } finally {
      if (onAbort !== undefined) both.removeEventListener("abort", onAbort);
    }
  },
});
