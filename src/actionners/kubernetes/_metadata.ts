// What kubernetes:label and kubernetes:annotation share: the parameters (a map of keys to values, where an
// empty value removes the key, and the level, pod or node), the preflight (the pod, and its node for
// level node), and ONE JSON merge patch per action: {"metadata":{"labels":{"a":"b","gone":null}}}.
// Talon first UPDATEs an object that has no labels at all with a dummy entry, then sends one JSON Patch to
// set and another to remove; a merge patch does both at once, on any object.
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { kubeCall, MERGE_PATCH } from "../../clients/kubernetes-calls.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import type { ActionContext, Actionner } from "../../plugins/types.ts";
import { readPod } from "./_pod.ts";
import { nodeNameOf, readNode } from "./_workload.ts";

type Field = "labels" | "annotations";

/** A map value: YAML booleans and numbers become strings; "" and null remove the key. */
const metadataValue = z
  .union([z.string(), z.number(), z.boolean(), z.null()])
  .transform((v) => (v === null || v === "" ? null : String(v)));

function paramsFor(field: Field, noun: string) {
  const map = z
    .record(z.string().min(1, `a ${noun} key cannot be empty`), metadataValue)
    .refine((m) => Object.keys(m).length > 0, `parameter '${field}' should have at least one ${noun}`)
    .describe(`${noun}s to add or change (key: value); an empty value ("" or null) removes the ${noun}. true and 2 become "true" and "2"`);
  const level = z.enum(["pod", "node"]).default("pod").describe(`where the ${noun}s go: the pod, or the node it runs on`);
  return field === "labels" ? z.strictObject({ labels: map, level }) : z.strictObject({ annotations: map, level });
}

/** The patch body: keys with a value are set, keys without one are removed (null in a merge patch). */
export function mergePatch(
  field: Field,
  values: Readonly<Record<string, string | null>>,
): { metadata: Record<Field, Record<string, string | null>> } {
  const entries: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(values)) entries[k] = v === null || v === "" ? null : v;
  return { metadata: { [field]: entries } as Record<Field, Record<string, string | null>> };
}

interface Checked {
  readonly pod: V1Pod;
  readonly node?: string;
}

export interface MetadataActionner {
  readonly field: Field;
  readonly name: string;
  readonly noun: string;
  /** "label" / "annotate", for error messages. */
  readonly verb: string;
  /** "labeled" / "annotated". */
  readonly done: string;
  readonly description: string;
  readonly example: string;
}

/** Builds kubernetes:label or kubernetes:annotation. */
export function defineMetadataActionner(spec: MetadataActionner): Actionner {
  const params = paramsFor(spec.field, spec.noun);
  const checked = new WeakMap<object, Checked>();
  const valuesOf = (p: Record<string, unknown>): Record<string, string | null> => p[spec.field] as Record<string, string | null>;

  async function check(ctx: ActionContext): Promise<Checked> {
    const kube = kubernetesOf(ctx.clients);
    const target = podTargetOf(ctx.event);
    const pod = await readPod(kube, target, ctx.signal);
    if (ctx.params["level"] !== "node") return { pod };
    const node = nodeNameOf(pod, target);
    await readNode(kube, node, ctx.signal);
    return { pod, node };
  }

  return defineActionner({
    category: "kubernetes",
    name: spec.name,
    description: spec.description,
    source: "syscall, k8s_audit",
    requiredFields: POD_REQUIRED_FIELDS,
    continueByDefault: true,
    output: "none",
    // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group); nodes only
    // with level node.
    permissions: "/pods: get, patch\n/nodes: get, patch",
    params,
    example: spec.example,
    async preflight(ctx) {
      checked.set(ctx, await check(ctx as ActionContext));
    },
    async run(ctx) {
      const kube = kubernetesOf(ctx.clients);
      const { signal } = ctx;
      const target = podTargetOf(ctx.event);
      const { node } = checked.get(ctx) ?? (await check(ctx as ActionContext));
      const body = mergePatch(spec.field, valuesOf(ctx.params));
      const options = kube.requestOptions(signal, MERGE_PATCH);
      const objects: Record<string, string> = { pod: target.pod, namespace: target.namespace };
      if (node !== undefined) {
        await kubeCall(`${spec.verb} the node '${node}'`, { signal }, () => kube.core.patchNode({ name: node, body }, options));
        return { output: `the node '${node}' has been ${spec.done}`, objects: { ...objects, node } };
      }
      await kubeCall(`${spec.verb} the pod '${target.pod}' in the namespace '${target.namespace}'`, { signal }, () =>
        kube.core.patchNamespacedPod({ name: target.pod, namespace: target.namespace, body }, options),
      );
      return { output: `the pod '${target.pod}' in the namespace '${target.namespace}' has been ${spec.done}`, objects };
    },
  }) as unknown as Actionner;
}
