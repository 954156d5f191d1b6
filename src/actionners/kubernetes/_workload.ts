// What terminate, label, annotation, cordon and drain share: the node a pod runs on, and the decision
// whether a pod may be removed (ignore_daemonsets, ignore_statefulsets, ignore_standalone_pods,
// min_healthy_replicas, which applies to pods of ReplicaSets and StatefulSets).

import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { KubeApi, V1Pod } from "../../clients/kubernetes/api.ts";
import { ownerOf } from "../../clients/kubernetes/owner.ts";
import { KestrelError } from "../../errors.ts";
import { type PodTarget, podTargetOf } from "../../events/target.ts";
import type { ActionRun } from "../../plugins/types.ts";

/** The name of the node the pod is scheduled on; ERR_PREFLIGHT for a pod not scheduled yet. */
export function nodeNameOf(pod: V1Pod, target: PodTarget): string {
  const node = pod.spec?.nodeName;
  if (node === undefined || node === "") {
    throw new KestrelError("ERR_PREFLIGHT", `the pod '${target.pod}' in the namespace '${target.namespace}' is not scheduled on a node`);
  }
  return node;
}

/** The (existing) node the event's pod runs on: the preflight of cordon and drain. */
export async function nodeOfEventPod(ctx: Pick<ActionRun, "clients" | "event" | "signal">): Promise<{ target: PodTarget; node: string }> {
  const kube = kubernetesOf(ctx.clients);
  const target = podTargetOf(ctx.event);
  const node = nodeNameOf(await kube.readPod(target, { signal: ctx.signal }), target);
  await kube.readNode(node, { signal: ctx.signal });
  return { target, node };
}

const MIN_HEALTHY = /^(\d+)(%?)$/;

/**
 * `min_healthy_replicas`: an absolute number of ready replicas (2, "2") or a percentage of the desired
 * replicas ("50%"), normalised to a string. Talon takes only a string and compares a percentage with the
 * ready count as if it were a number; Kestrel computes ceil(percent × desired replicas).
 */
export const minHealthyReplicasParam = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((v, ctx) => {
    const text = String(v).trim();
    const m = MIN_HEALTHY.exec(text);
    if (m === null) {
      ctx.addIssue({ code: "custom", message: `expected a number of replicas or a percentage such as "50%", got "${text}"` });
      return z.NEVER;
    }
    if (m[2] === "%" && Number(m[1]) > 100) {
      ctx.addIssue({ code: "custom", message: `a percentage must be between 0% and 100%, got "${text}"` });
      return z.NEVER;
    }
    return text;
  })
  .optional()
  .describe(
    'minimum of ready replicas the pod\'s ReplicaSet or StatefulSet must keep: a number (2) or a percentage of its desired replicas ("50%", rounded up); when removing the pod would leave fewer, the pod is left alone (status ignored)',
  );

export interface MinHealthy {
  readonly value: number;
  readonly percent: boolean;
}

export function parseMinHealthy(text: string): MinHealthy {
  const m = MIN_HEALTHY.exec(text.trim());
  if (m === null) throw new KestrelError("ERR_PARAMS_INVALID", `invalid min_healthy_replicas "${text}"`);
  return { value: Number(m[1]), percent: m[2] === "%" };
}

/** The number of ready replicas `min` asks for, given the desired replicas. */
export function requiredReady(min: MinHealthy, desired: number): number {
  return min.percent ? Math.ceil((min.value * desired) / 100) : min.value;
}

/** Whether the pod counts among its controller's ready replicas. Unknown (no Ready condition) counts as ready. */
export function podIsReady(pod: V1Pod): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  return ready === undefined ? pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed" : ready.status === "True";
}

export interface SkipPolicy {
  readonly ignore_daemonsets: boolean;
  readonly ignore_statefulsets: boolean;
  readonly ignore_standalone_pods?: boolean;
  readonly min_healthy_replicas?: string | undefined;
}

interface Allowance {
  readonly controller: string;
  readonly ready: number;
  readonly desired: number;
  readonly required: number;
  /** Ready pods already allowed to go. */
  removed: number;
}

/**
 * Decides, pod by pod, whether a pod may be removed. Removals of ready pods are counted against their
 * controller, so that draining a node that runs several replicas of one ReplicaSet still leaves the
 * ReplicaSet at least `min_healthy_replicas` ready ones (each controller is read once).
 */
export class RemovalPolicy {
  readonly #kube: KubeApi;
  readonly #policy: SkipPolicy;
  readonly #signal: AbortSignal;
  readonly #min: MinHealthy | undefined;
  readonly #allowances = new Map<string, Promise<Allowance>>();

  constructor(kube: KubeApi, policy: SkipPolicy, signal: AbortSignal) {
    this.#kube = kube;
    this.#policy = policy;
    this.#signal = signal;
    this.#min = policy.min_healthy_replicas === undefined ? undefined : parseMinHealthy(policy.min_healthy_replicas);
  }

  /** Undefined when the pod may be removed, else why it is left alone. Throws when a controller cannot be read. */
  async reasonToSkip(pod: V1Pod): Promise<string | undefined> {
    const owner = ownerOf(pod);
    const kind = owner?.kind ?? "StandalonePod";
    if (kind === "DaemonSet" && this.#policy.ignore_daemonsets) return `it belongs to the DaemonSet '${owner!.name}' (ignore_daemonsets)`;
    if (kind === "StatefulSet" && this.#policy.ignore_statefulsets)
      return `it belongs to the StatefulSet '${owner!.name}' (ignore_statefulsets)`;
    if (kind === "StandalonePod" && this.#policy.ignore_standalone_pods === true) return "it is a standalone pod (ignore_standalone_pods)";
    if (this.#min === undefined || owner === undefined || (kind !== "ReplicaSet" && kind !== "StatefulSet")) return undefined;
    if (!podIsReady(pod)) return undefined; // removing it does not lower the ready count
    const namespace = pod.metadata?.namespace ?? "";
    const key = `${namespace}/${kind}/${owner.name}`;
    let pending = this.#allowances.get(key);
    if (pending === undefined) {
      pending = this.#readAllowance(kind, owner.name, namespace);
      this.#allowances.set(key, pending);
    }
    const a = await pending;
    const after = a.ready - a.removed - 1;
    if (after >= a.required) {
      a.removed++;
      return undefined;
    }
    const others = a.removed > 0 ? ` after the ${a.removed} already removed` : "";
    return (
      `the ${a.controller} has ${a.ready} ready of ${a.desired} desired replicas: removing the pod${others} would leave ` +
      `${Math.max(after, 0)}, fewer than min_healthy_replicas ${this.#minText(a.required)}`
    );
  }

  #minText(required: number): string {
    const text = this.#policy.min_healthy_replicas ?? "";
    return this.#min?.percent === true ? `${text} (${required})` : text;
  }

  async #readAllowance(kind: "ReplicaSet" | "StatefulSet", name: string, namespace: string): Promise<Allowance> {
    const obj = await this.#kube.readController({ kind, name, namespace }, { signal: this.#signal });
    const desired = obj.replicas ?? 1;
    const ready = obj.readyReplicas ?? 0;
    return { controller: `${kind} '${name}'`, ready, desired, required: requiredReady(this.#min!, desired), removed: 0 };
  }
}
