// The objects kubernetes:delete acts on (by the plural resource name an audit event gives), and the
// read-modify-write of the network policies (Kubernetes, Calico, Cilium): how KubeApi's readObject,
// deleteObject, upsert and servesResource are done with the library's API groups.
import type { ConfigurationOptions, ObservableMiddleware } from "@kubernetes/client-node";
import { KestrelError } from "../../errors.ts";
import type { CallOptions, Metadata, ObjectRef, Resource, UpsertRequest } from "./api.ts";
import { answeredStatus, type KubeClient, kubeCall } from "./calls.ts";

/** Labels Kestrel puts on the objects it creates. */
export const MANAGED_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/managed-by": "kestrel" };

type Options = ConfigurationOptions<ObservableMiddleware>;
type Call = (kube: KubeClient, name: string, namespace: string, options: Options) => Promise<unknown>;

interface Deletable {
  /** "v1", "apps/v1", "rbac.authorization.k8s.io/v1". */
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly read: Call;
  readonly remove: Call;
}

/** The resources kubernetes:delete handles, by their plural name as in ka.target.resource. */
const DELETABLE: Readonly<Record<string, Deletable>> = {
  namespaces: {
    apiVersion: "v1",
    kind: "Namespace",
    namespaced: false,
    read: (k, name, _ns, o) => k.core.readNamespace({ name }, o),
    remove: (k, name, _ns, o) => k.core.deleteNamespace({ name }, o),
  },
  configmaps: {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedConfigMap({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedConfigMap({ name, namespace }, o),
  },
  secrets: {
    apiVersion: "v1",
    kind: "Secret",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedSecret({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedSecret({ name, namespace }, o),
  },
  services: {
    apiVersion: "v1",
    kind: "Service",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedService({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedService({ name, namespace }, o),
  },
  serviceaccounts: {
    apiVersion: "v1",
    kind: "ServiceAccount",
    namespaced: true,
    read: (k, name, namespace, o) => k.core.readNamespacedServiceAccount({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.core.deleteNamespacedServiceAccount({ name, namespace }, o),
  },
  deployments: {
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedDeployment({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedDeployment({ name, namespace }, o),
  },
  daemonsets: {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedDaemonSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedDaemonSet({ name, namespace }, o),
  },
  statefulsets: {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedStatefulSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedStatefulSet({ name, namespace }, o),
  },
  replicasets: {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    namespaced: true,
    read: (k, name, namespace, o) => k.apps.readNamespacedReplicaSet({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.apps.deleteNamespacedReplicaSet({ name, namespace }, o),
  },
  roles: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    namespaced: true,
    read: (k, name, namespace, o) => k.rbac.readNamespacedRole({ name, namespace }, o),
    remove: (k, name, namespace, o) => k.rbac.deleteNamespacedRole({ name, namespace }, o),
  },
  clusterroles: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    namespaced: false,
    read: (k, name, _ns, o) => k.rbac.readClusterRole({ name }, o),
    remove: (k, name, _ns, o) => k.rbac.deleteClusterRole({ name }, o),
  },
};

export interface DeletableResource {
  /** The plural name, as in ka.target.resource and RBAC rules. */
  readonly resource: string;
  /** The API group ("" for core), for RBAC rules. */
  readonly group: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** The resources readObject and deleteObject handle (kubernetes:delete's, which k8sevents can name). */
export const DELETABLE_RESOURCES: readonly DeletableResource[] = Object.entries(DELETABLE).map(([resource, d]) => ({
  resource,
  group: d.apiVersion.includes("/") ? d.apiVersion.slice(0, d.apiVersion.lastIndexOf("/")) : "",
  apiVersion: d.apiVersion,
  kind: d.kind,
  namespaced: d.namespaced,
}));

function singular(resource: string): string {
  return resource.toLowerCase().replace(/s$/, "");
}

/** "the secret 'db' in the namespace 'prod'", "the namespace 'dev'". */
export function objectText(ref: ObjectRef): string {
  return `the ${singular(ref.resource)} '${ref.name}'${ref.namespace === undefined ? "" : ` in the namespace '${ref.namespace}'`}`;
}

function deletable(resource: string): Deletable {
  const d = DELETABLE[resource];
  if (d === undefined) throw new KestrelError("ERR_ACTION", `the resource '${resource}' cannot be read or deleted by Kestrel`);
  return d;
}

export function readObject(kube: KubeClient, ref: ObjectRef, options: CallOptions): Promise<void> {
  const d = deletable(ref.resource);
  return kubeCall(`read ${objectText(ref)}`, options, () =>
    d.read(kube, ref.name, ref.namespace ?? "", kube.requestOptions(options.signal)),
  ).then(() => undefined);
}

export function deleteObject(kube: KubeClient, ref: ObjectRef, options: CallOptions): Promise<void> {
  const d = deletable(ref.resource);
  return kubeCall(`delete ${objectText(ref)}`, options, () =>
    d.remove(kube, ref.name, ref.namespace ?? "", kube.requestOptions(options.signal)),
  ).then(() => undefined);
}

function isNotFound(err: unknown): boolean {
  return answeredStatus(err) === 404;
}

/** Existing labels and annotations kept, the resourceVersion read carried (see KubeApi.upsert). */
function onto<T extends { metadata?: Metadata }>(body: T, existing: T): T {
  const old = existing.metadata ?? {};
  body.metadata = {
    ...body.metadata,
    labels: { ...old.labels, ...body.metadata?.labels },
    ...(old.annotations !== undefined || body.metadata?.annotations !== undefined
      ? { annotations: { ...old.annotations, ...body.metadata?.annotations } }
      : {}),
    ...(old.resourceVersion !== undefined ? { resourceVersion: old.resourceVersion } : {}),
  };
  return body;
}

/**
 * KubeApi.upsert, through the generic object API (networking.k8s.io/v1 networkpolicies have the same paths
 * under /apis as custom resources). kubeCall runs the whole read-modify-write again on a conflict (and on a
 * create that lost a race: 409 AlreadyExists), starting from a fresh read.
 */
export function upsert<T extends { metadata?: Metadata }>(
  kube: KubeClient,
  u: UpsertRequest<T>,
  options: CallOptions,
): Promise<"created" | "updated"> {
  const requestOptions = kube.requestOptions(options.signal);
  const at = { ...u.resource, namespace: u.namespace };
  return kubeCall(u.what, options, async () => {
    let existing: T | undefined;
    try {
      existing = (await kube.custom.getNamespacedCustomObject({ ...at, name: u.name }, requestOptions)) as T;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const body = u.build(existing);
    if (existing !== undefined) {
      await kube.custom.replaceNamespacedCustomObject({ ...at, name: u.name, body: onto(body, existing) }, requestOptions);
      return "updated";
    }
    try {
      await kube.custom.createNamespacedCustomObject({ ...at, body }, requestOptions);
    } catch (err) {
      if (isNotFound(err) && u.missingKindHint !== undefined) {
        throw new KestrelError("ERR_ACTION", `cannot ${u.what}: the API server answered 404 (${u.missingKindHint})`, { cause: err });
      }
      throw err;
    }
    return "created";
  });
}

export function servesResource(kube: KubeClient, resource: Resource, options: CallOptions): Promise<boolean> {
  const { group, version, plural } = resource;
  return kubeCall(`discover the API ${group}/${version}`, options, async () => {
    try {
      const list = await kube.custom.getAPIResources({ group, version }, kube.requestOptions(options.signal));
      return list.resources.some((r) => r.name === plural && r.namespaced);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  });
}

/** A 404 from the API: the object went, or (the cause of upsert's missing-kind error) the API itself did. */
export function answeredNotFound(err: unknown): boolean {
  return (err instanceof KestrelError && err.code === "ERR_TARGET_GONE") || answeredStatus(err) === 404;
}
