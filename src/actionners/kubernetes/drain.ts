// kubernetes:drain: evicts the pods of the node the event's pod runs on, through the Eviction API (so
// PodDisruptionBudgets are honoured). Unlike Talon it cordons the node first (`cordon: false` to opt out),
// retries evictions refused by a PodDisruptionBudget (429) until `max_wait_period`, waits for the evicted
// pods to be gone except in `wait_period_excluded_namespaces`, skips mirror (static) pods, and never evicts
// Kestrel's own pod.

import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { KubeApi, V1Pod } from "../../clients/kubernetes/api.ts";
import { answeredStatus } from "../../clients/kubernetes/calls.ts";
import { errorMessage, KestrelError } from "../../errors.ts";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { minHealthyReplicasParam, nodeOfEventPod, RemovalPolicy } from "./_workload.ts";

/** Pause between two tries of an eviction refused by a PodDisruptionBudget, and between two checks of the pods left. */
const RETRY_MS = 500;
/** Evictions in flight at once. */
const CONCURRENCY = 8;

const params = z.strictObject({
  cordon: z
    .boolean()
    .default(true)
    .describe("mark the node unschedulable before evicting, so that the pods are not rescheduled on it (Talon does not cordon)"),
  ignore_daemonsets: z.boolean().default(false).describe("leave the pods of DaemonSets on the node"),
  ignore_statefulsets: z.boolean().default(false).describe("leave the pods of StatefulSets on the node"),
  min_healthy_replicas: minHealthyReplicasParam,
  ignore_errors: z
    .boolean()
    .default(false)
    .describe("report success even when pods could not be evicted (unlike the action's own ignore_errors, the status is success)"),
  max_wait_period: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe(
      "seconds to keep retrying evictions refused by a PodDisruptionBudget and to wait for the evicted pods to be gone; 0 evicts once and returns (keep it below action_timeout_seconds)",
    ),
  wait_period_excluded_namespaces: z.array(z.string()).default([]).describe("namespaces whose evicted pods are not waited for"),
  kestrel_pod: z
    .string()
    .optional()
    .describe(
      "Kestrel's own pod, never evicted: <namespace>/<name> or <name>; by default $POD_NAMESPACE/$POD_NAME (set them with the Downward API), else $HOSTNAME",
    ),
});

interface PodRef {
  readonly namespace: string | undefined;
  readonly name: string;
}

/** Kestrel's own pod: the parameter, else POD_NAMESPACE/POD_NAME, else HOSTNAME (a pod's hostname is its name). */
export function kestrelPod(param: string | undefined, env: NodeJS.ProcessEnv): PodRef | undefined {
  const text = param ?? (env["POD_NAME"] ? `${env["POD_NAMESPACE"] ? `${env["POD_NAMESPACE"]}/` : ""}${env["POD_NAME"]}` : env["HOSTNAME"]);
  if (text === undefined || text === "") return undefined;
  const slash = text.indexOf("/");
  return slash === -1 ? { namespace: undefined, name: text } : { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
}

function isPod(pod: V1Pod, ref: PodRef | undefined): boolean {
  if (ref === undefined || pod.metadata?.name !== ref.name) return false;
  return ref.namespace === undefined || ref.namespace === pod.metadata?.namespace;
}

function label(pod: V1Pod): string {
  return `the pod '${pod.metadata?.name}' in the namespace '${pod.metadata?.namespace}'`;
}

function keyOf(pod: V1Pod): string {
  return pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

/** 429 on an eviction: a PodDisruptionBudget refuses it for now. */
function isPdbRefusal(err: unknown): boolean {
  return answeredStatus(err) === 429;
}

/**
 * Evicts the pod. Without a deadline a PodDisruptionBudget refusal (429) fails at once (Talon); other
 * retryable errors are tried 3 times. With a deadline, every retryable error is tried again until it.
 */
async function evict(kube: KubeApi, pod: V1Pod, deadline: number | undefined, signal: AbortSignal): Promise<void> {
  const target = { pod: pod.metadata?.name ?? "", namespace: pod.metadata?.namespace ?? "" };
  for (let attempt = 1; ; attempt++) {
    try {
      await kube.evict(target, { signal, attempts: 1 });
      return;
    } catch (err) {
      if (err instanceof KestrelError && err.code === "ERR_TARGET_GONE") return; // gone already: nothing to evict
      if (!evictAgain(err, attempt, deadline, signal)) throw err;
      await sleep(RETRY_MS * (deadline === undefined ? attempt : 1), signal);
    }
  }
}

/** Whether a failed eviction is tried again (see evict). */
function evictAgain(err: unknown, attempt: number, deadline: number | undefined, signal: AbortSignal): boolean {
  if (!(err instanceof KestrelError && err.retryable) || signal.aborted) return false;
  return deadline === undefined ? !isPdbRefusal(err) && attempt < 3 : Date.now() + RETRY_MS < deadline;
}

/** Polls the node's pods until none of `pods` is left or the deadline passes; returns those left. */
async function waitUntilGone(kube: KubeApi, node: string, pods: readonly V1Pod[], deadline: number, signal: AbortSignal): Promise<V1Pod[]> {
  let left = [...pods];
  while (left.length > 0 && !signal.aborted) {
    try {
      const present = new Set((await kube.listPods({ node }, { signal, attempts: 1 })).map(keyOf));
      left = left.filter((p) => present.has(keyOf(p)));
    } catch {
      // a failed listing is tried again at the next tick
    }
    const now = Date.now();
    if (left.length === 0 || now >= deadline) break;
    await sleep(Math.min(RETRY_MS, deadline - now), signal);
  }
  return left;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export default defineActionner({
  category: "kubernetes",
  name: "drain",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Evicts the pods of the pod's node through the Eviction API.",
    talon:
      "cordons first (`cordon: false` to opt out); honours `wait_period_excluded_namespaces` and `max_wait_period` (PDB refusals retried until then); never evicts Kestrel's own pod",
  },
  description: "Drain a node: cordon it and evict its pods",
  source: "syscall, k8s_audit",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group). Nodes are
  // patched only with cordon, controllers read only with min_healthy_replicas.
  permissions: "/pods: get, list\n/pods/eviction: create\n/nodes: get, patch\napps/replicasets: get\napps/statefulsets: get",
  params,
  example: `
- action: Drain the node
  actionner: kubernetes:drain
  parameters:
    ignore_daemonsets: true
    min_healthy_replicas: "50%"
    max_wait_period: 30
    wait_period_excluded_namespaces: [kube-system]
`,
  preflight: nodeOfEventPod,
  async run(ctx, { target, node }) {
    const { params: p, signal, log } = ctx;
    const kube = kubernetesOf(ctx.clients);
    if (p.cordon) await kube.cordon(node, { signal });
    const pods = await kube.listPods({ node }, { signal });
    const self = kestrelPod(p.kestrel_pod, process.env);
    const policy = new RemovalPolicy(kube, p, signal);
    const deadline = p.max_wait_period > 0 ? Date.now() + p.max_wait_period * 1000 : undefined;
    let ignored = 0;
    let evictionErrors = 0;
    let otherErrors = 0;
    const errors: string[] = [];
    const evicted: V1Pod[] = [];
    const skip = (pod: V1Pod, why: string): void => {
      ignored++;
      log.info({ pod: pod.metadata?.name, namespace: pod.metadata?.namespace, node }, `${label(pod)} is not evicted: ${why}`);
    };

    await forEachLimit(pods, CONCURRENCY, async (pod) => {
      if (isPod(pod, self)) return skip(pod, "it is Kestrel's own pod");
      if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined) return skip(pod, "it is a static (mirror) pod");
      let why: string | undefined;
      try {
        why = await policy.reasonToSkip(pod);
      } catch (err) {
        otherErrors++;
        errors.push(errorMessage(err));
        return;
      }
      if (why !== undefined) return skip(pod, why);
      try {
        await evict(kube, pod, deadline, signal);
        evicted.push(pod);
      } catch (err) {
        evictionErrors++;
        errors.push(errorMessage(err));
      }
    });

    let notGone = 0;
    if (deadline !== undefined) {
      const excluded = new Set(p.wait_period_excluded_namespaces);
      const awaited = evicted.filter((pod) => !excluded.has(pod.metadata?.namespace ?? ""));
      const left = await waitUntilGone(kube, node, awaited, deadline, signal);
      notGone = left.length;
      for (const pod of left) errors.push(`${label(pod)} was still there after max_wait_period (${p.max_wait_period} s)`);
    }

    const objects = { pod: target.pod, namespace: target.namespace, node };
    if (evictionErrors + otherErrors + notGone > 0 && !p.ignore_errors) {
      throw new KestrelError(
        "ERR_ACTION",
        `the node '${node}' has not been fully drained: ${ignored} pods ignored, ${evictionErrors} eviction errors, ` +
          `${notGone} were not evicted during max_wait_period, ${otherErrors} other errors (first: ${errors[0]})`,
      );
    }
    const waitText = notGone > 0 ? `, ${notGone} were not evicted during max_wait_period` : "";
    return {
      summary: `the node '${node}' has been drained, errors are ignored: ${ignored} ignored pods, ${evictionErrors} eviction errors, ${otherErrors} other errors${waitText}`,
      objects,
    };
  },
});
