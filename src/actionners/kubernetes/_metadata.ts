// What kubernetes:label and kubernetes:annotation share: the parameters (a map of keys to values, where an
// empty value removes the key, and the level, pod or node), the preflight (the pod, and its node for
// level node), and ONE JSON merge patch per action (KubeApi.patchMetadata): {"metadata":{"labels":{"a":"b","gone":null}}}.
// Talon first UPDATEs an object that has no labels at all with a dummy entry, then sends one JSON Patch to
// set and another to remove; a merge patch does both at once, on any object.
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { MetadataTarget } from "../../clients/kubernetes/api.ts";
import { POD_REQUIRED_FIELDS, type PodTarget, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import type { Actionner, ActionRun } from "../../plugins/types.ts";
import { nodeNameOf } from "./_workload.ts";

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

/** What preflight found: the pod, and the node for level node. */
interface Checked {
  readonly target: PodTarget;
  readonly node?: string;
}

export interface MetadataActionner {
  readonly field: Field;
  readonly name: string;
  readonly noun: string;
  /** "labeled" / "annotated". */
  readonly done: string;
  readonly description: string;
  readonly example: string;
}

/** The pod, and its (existing) node for level node. */
async function check(ctx: ActionRun): Promise<Checked> {
  const kube = kubernetesOf(ctx.clients);
  const target = podTargetOf(ctx.event);
  const pod = await kube.readPod(target, { signal: ctx.signal });
  if (ctx.params["level"] !== "node") return { target };
  const node = nodeNameOf(pod, target);
  await kube.readNode(node, { signal: ctx.signal });
  return { target, node };
}

/** Builds kubernetes:label or kubernetes:annotation. */
export function defineMetadataActionner(spec: MetadataActionner): Actionner {
  const params = paramsFor(spec.field, spec.noun);
  const valuesOf = (p: Record<string, unknown>): Record<string, string | null> => p[spec.field] as Record<string, string | null>;

  return defineActionner<typeof params, Checked>({
    category: "kubernetes",
    name: spec.name,
    needs: ["kubernetes"],
    notes: {
      behaviour: "On the pod or on its node (`level`).",
      talon: 'one merge patch; YAML booleans and numbers accepted as values; `""` or `null` removes the key',
    },
    description: spec.description,
    source: "syscall, k8s_audit",
    requiredFields: POD_REQUIRED_FIELDS,
    continueByDefault: true,
    artifact: "none",
    // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group); nodes only
    // with level node.
    permissions: "/pods: get, patch\n/nodes: get, patch",
    params,
    example: spec.example,
    preflight: (ctx) => check(ctx as ActionRun),
    async run(ctx, { target, node }) {
      const kube = kubernetesOf(ctx.clients);
      const on: MetadataTarget = node === undefined ? { pod: target } : { node };
      await kube.patchMetadata(on, spec.field, valuesOf(ctx.params), { signal: ctx.signal });
      const objects: Record<string, string> = { pod: target.pod, namespace: target.namespace };
      if (node !== undefined) return { summary: `the node '${node}' has been ${spec.done}`, objects: { ...objects, node } };
      return { summary: `the pod '${target.pod}' in the namespace '${target.namespace}' has been ${spec.done}`, objects };
    },
  });
}
