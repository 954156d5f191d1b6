// kubernetes:delete: deletes the object a Kubernetes audit event targets (ka.target.resource, ka.target.name,
// ka.target.namespace), for the resources Talon supports. Namespaces and ClusterRoles are cluster-scoped
// and need no ka.target.namespace. The object is read first, so a gone or unsupported target fails before
// anything is deleted.
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { ObjectRef } from "../../clients/kubernetes/api.ts";
import { DELETABLE_RESOURCES, objectText } from "../../clients/kubernetes/objects.ts";
import { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import { firstField } from "../../events/fields.ts";
import { defineActionner } from "../../plugins/define.ts";

const SUPPORTED = DELETABLE_RESOURCES.map((r) => r.resource);

/** The audit event's target; ERR_PREFLIGHT when a field is missing or the resource is not supported. */
function targetOf(event: FalcoEvent): ObjectRef {
  const resource = firstField(event, ["ka.target.resource"]);
  if (resource === undefined) throw new KestrelError("ERR_PREFLIGHT", "the event names no resource (ka.target.resource)");
  const kind = DELETABLE_RESOURCES.find((r) => r.resource === resource.toLowerCase());
  if (kind === undefined) {
    const hint = resource.toLowerCase() === "pods" ? " (use kubernetes:terminate for pods)" : "";
    throw new KestrelError(
      "ERR_PREFLIGHT",
      `kubernetes:delete does not support the resource '${resource}'${hint}; supported: ${SUPPORTED.join(", ")}`,
    );
  }
  const noun = kind.resource.replace(/s$/, "");
  const name = firstField(event, ["ka.target.name"]);
  if (name === undefined) throw new KestrelError("ERR_PREFLIGHT", `the event names no ${noun} (ka.target.name)`);
  if (!kind.namespaced) return { resource: kind.resource, name };
  const namespace = firstField(event, ["ka.target.namespace"]);
  if (namespace === undefined) {
    throw new KestrelError("ERR_PREFLIGHT", `the event names no namespace for the ${noun} '${name}' (ka.target.namespace)`);
  }
  return { resource: kind.resource, name, namespace };
}

/** "<apiGroup>/<resource>: get, delete" for every supported resource. */
function permissions(): string {
  return DELETABLE_RESOURCES.map((r) => `${r.group}/${r.resource}: get, delete`).join("\n");
}

export default defineActionner({
  category: "kubernetes",
  name: "delete",
  needs: ["kubernetes"],
  notes: {
    behaviour: "The resource is `ka.target.resource`, `ka.target.name` and `ka.target.namespace`.",
    talon: "unsupported resources refused before any call",
  },
  description: `Delete the resource the Kubernetes audit event targets (${SUPPORTED.join(", ")})`,
  source: "k8s_audit",
  requiredFields: ["ka.target.resource", "ka.target.name", "ka.target.namespace"],
  continueByDefault: false,
  artifact: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group).
  permissions: permissions(),
  params: z.strictObject({}),
  example: `
- action: Delete the suspicious resource
  actionner: kubernetes:delete
`,
  async preflight({ event, clients, signal }) {
    const target = targetOf(event);
    await kubernetesOf(clients).readObject(target, { signal });
    return target;
  },
  async run({ clients, signal }, target) {
    await kubernetesOf(clients).deleteObject(target, { signal });
    const objects: Record<string, string> = { resource: target.resource, name: target.name };
    if (target.namespace !== undefined) objects["namespace"] = target.namespace;
    return { summary: `${objectText(target)} has been deleted`, objects };
  },
});
