// kubernetes:delete: deletes the object a Kubernetes audit event targets (ka.target.resource, ka.target.name,
// ka.target.namespace), for the resources Talon supports. Namespaces and ClusterRoles are cluster-scoped
// and need no ka.target.namespace. The object is read first, so a gone or unsupported target fails before
// anything is deleted.
import type { ConfigurationOptions, ObservableMiddleware } from "@kubernetes/client-node";
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { type KubeClient, kubeCall } from "../../clients/kubernetes-calls.ts";
import { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import { firstField } from "../../events/fields.ts";
import { defineActionner } from "../../plugins/define.ts";

type Options = ConfigurationOptions<ObservableMiddleware>;
type Call = (kube: KubeClient, name: string, namespace: string, options: Options) => Promise<unknown>;

interface Kind {
  /** The API group ("" for core), for the RBAC text. */
  readonly group: string;
  readonly namespaced: boolean;
  readonly read: Call;
  readonly remove: Call;
}

/** The resources kubernetes:delete handles, by their plural name as in ka.target.resource. */
const KINDS: Readonly<Record<string, Kind>> = {
  namespaces: {
    group: "",
    namespaced: false,
    read: (k, name, _ns, o) => k.core.readNamespace({ name }, o),
    remove: (k, name, _ns, o) => k.core.deleteNamespace({ name }, o),
  },
  configmaps: {
    group: "",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedConfigMap({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedConfigMap({ name, namespace }, o),
  },
  secrets: {
    group: "",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedSecret({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedSecret({ name, namespace }, o),
  },
  services: {
    group: "",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedService({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedService({ name, namespace }, o),
  },
  serviceaccounts: {
    group: "",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedServiceAccount({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedServiceAccount({ name, namespace }, o),
  },
  deployments: {
    group: "apps",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedDeployment({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedDeployment({ name, namespace }, o),
  },
  daemonsets: {
    group: "apps",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedDaemonSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedDaemonSet({ name, namespace }, o),
  },
  statefulsets: {
    group: "apps",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedStatefulSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedStatefulSet({ name, namespace }, o),
  },
  replicasets: {
    group: "apps",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedReplicaSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedReplicaSet({ name, namespace }, o),
  },
  roles: {
    group: "rbac.authorization.k8s.io",
    namespaced: true,
    read: (k, name, namespace, o) => k.rbac.readNamespacedRole({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.rbac.deleteNamespacedRole({ name, namespace }, o),
  },
  clusterroles: {
    group: "rbac.authorization.k8s.io",
    namespaced: false,
    read: (k, name, _ns, o) => k.rbac.readClusterRole({ name }, o),
    remove: (k, name, _ns, o) => k.rbac.deleteClusterRole({ name }, o),
  },
};

const SUPPORTED = Object.keys(KINDS);

interface Target {
  readonly resource: string;
  readonly kind: Kind;
  readonly name: string;
  /** "" for cluster-scoped resources. */
  readonly namespace: string;
}

/** The audit event's target; ERR_PREFLIGHT when a field is missing or the resource is not supported. */
function targetOf(event: FalcoEvent): Target {
  const resource = firstField(event, ["ka.target.resource"]);
  if (resource === undefined) throw new KestrelError("ERR_PREFLIGHT", "the event names no resource (ka.target.resource)");
  const kind = KINDS[resource.toLowerCase()];
  if (kind === undefined) {
    const hint = resource.toLowerCase() === "pods" ? " (use kubernetes:terminate for pods)" : "";
    throw new KestrelError(
      "ERR_PREFLIGHT",
      `kubernetes:delete does not support the resource '${resource}'${hint}; supported: ${SUPPORTED.join(", ")}`,
    );
  }
  const name = firstField(event, ["ka.target.name"]);
  if (name === undefined) throw new KestrelError("ERR_PREFLIGHT", `the event names no ${singular(resource)} (ka.target.name)`);
  const namespace = kind.namespaced ? firstField(event, ["ka.target.namespace"]) : "";
  if (namespace === undefined) {
    throw new KestrelError("ERR_PREFLIGHT", `the event names no namespace for the ${singular(resource)} '${name}' (ka.target.namespace)`);
  }
  return { resource: resource.toLowerCase(), kind, name, namespace };
}

function singular(resource: string): string {
  return resource.toLowerCase().replace(/s$/, "");
}

function describe(t: Target): string {
  return `the ${singular(t.resource)} '${t.name}'${t.kind.namespaced ? ` in the namespace '${t.namespace}'` : ""}`;
}

/** "<apiGroup>/<resource>: get, delete" for every supported resource. */
function permissions(): string {
  return Object.entries(KINDS)
    .map(([resource, kind]) => `${kind.group}/${resource}: get, delete`)
    .join("\n");
}

export default defineActionner({
  category: "kubernetes",
  name: "delete",
  description: `Delete the resource the Kubernetes audit event targets (${SUPPORTED.join(", ")})`,
  source: "k8s_audit",
  requiredFields: ["ka.target.resource", "ka.target.name", "ka.target.namespace"],
  continueByDefault: false,
  output: "none",
  // RBAC rules, one per line: "<apiGroup>/<resource>: <verb>, <verb>" ("" is the core group).
  permissions: permissions(),
  params: z.strictObject({}),
  example: `
- action: Delete the suspicious resource
  actionner: kubernetes:delete
`,
  async preflight({ event, clients, signal }) {
    const t = targetOf(event);
    const kube = kubernetesOf(clients);
    await kubeCall(`read ${describe(t)}`, { signal }, () => t.kind.read(kube, t.name, t.namespace, kube.requestOptions(signal)));
  },
  async run({ event, clients, signal }) {
    const t = targetOf(event);
    const kube = kubernetesOf(clients);
    await kubeCall(`delete ${describe(t)}`, { signal }, () => t.kind.remove(kube, t.name, t.namespace, kube.requestOptions(signal)));
    const objects: Record<string, string> = { resource: t.resource, name: t.name };
    if (t.kind.namespaced) objects["namespace"] = t.namespace;
    return { output: `${describe(t)} has been deleted`, objects };
  },
});
