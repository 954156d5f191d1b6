// The resource table: which group/version/plural the fake API server serves, with the properties that
// change API behaviour (scope, status subresource, create-on-update, custom resource semantics).

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** Subresources served (and listed in discovery). */
  readonly subresources: readonly string[];
  /** With a status subresource, the main endpoint ignores status changes (and creates drop it). */
  readonly hasStatus: boolean;
  /** PUT of a missing object creates it (leases, events) instead of answering 404. */
  readonly createOnUpdate: boolean;
  /** Custom resources: no strategic merge patch, and PUT requires metadata.resourceVersion. */
  readonly custom: boolean;
  /**
   * Served by an aggregated API server (Calico's API server for projectcalico.org/v3): absent from
   * discovery and from the URL space, as when its APIService is not registered, until the test calls
   * KubeApiServer.setCalicoApiServer(true).
   */
  readonly aggregated: boolean;
}

/** Whether the server serves a resource type now (aggregated ones only while their API server is up). */
export type Served = (rt: ResourceType) => boolean;

/** The default: everything but the aggregated API groups. */
export const NOT_AGGREGATED: Served = (rt) => !rt.aggregated;

interface Extra {
  shortNames?: string[];
  subresources?: string[];
  createOnUpdate?: boolean;
  custom?: boolean;
  aggregated?: boolean;
}

function r(group: string, version: string, plural: string, kind: string, namespaced: boolean, extra: Extra = {}): ResourceType {
  const subresources = extra.subresources ?? [];
  return {
    group,
    version,
    plural,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    shortNames: extra.shortNames ?? [],
    subresources,
    hasStatus: subresources.includes("status"),
    createOnUpdate: extra.createOnUpdate ?? false,
    custom: extra.custom ?? false,
    aggregated: extra.aggregated ?? false,
  };
}

export const RESOURCES: readonly ResourceType[] = [
  r("", "v1", "configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
  r("", "v1", "endpoints", "Endpoints", true, { shortNames: ["ep"], createOnUpdate: true }),
  r("", "v1", "events", "Event", true, { shortNames: ["ev"], createOnUpdate: true }),
  r("", "v1", "namespaces", "Namespace", false, { shortNames: ["ns"], subresources: ["status"] }),
  r("", "v1", "nodes", "Node", false, { shortNames: ["no"], subresources: ["status"] }),
  r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, { shortNames: ["pvc"], subresources: ["status"] }),
  r("", "v1", "pods", "Pod", true, {
    shortNames: ["po"],
    subresources: ["ephemeralcontainers", "eviction", "exec", "log", "status"],
  }),
  r("", "v1", "secrets", "Secret", true),
  r("", "v1", "serviceaccounts", "ServiceAccount", true, { shortNames: ["sa"] }),
  r("", "v1", "services", "Service", true, { shortNames: ["svc"], subresources: ["status"] }),
  r("apps", "v1", "controllerrevisions", "ControllerRevision", true),
  r("apps", "v1", "daemonsets", "DaemonSet", true, { shortNames: ["ds"], subresources: ["status"] }),
  r("apps", "v1", "deployments", "Deployment", true, { shortNames: ["deploy"], subresources: ["scale", "status"] }),
  r("apps", "v1", "replicasets", "ReplicaSet", true, { shortNames: ["rs"], subresources: ["scale", "status"] }),
  r("apps", "v1", "statefulsets", "StatefulSet", true, { shortNames: ["sts"], subresources: ["scale", "status"] }),
  r("batch", "v1", "cronjobs", "CronJob", true, { shortNames: ["cj"], subresources: ["status"] }),
  r("batch", "v1", "jobs", "Job", true, { subresources: ["status"] }),
  r("coordination.k8s.io", "v1", "leases", "Lease", true, { createOnUpdate: true }),
  r("events.k8s.io", "v1", "events", "Event", true, { shortNames: ["ev"], createOnUpdate: true }),
  r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, { shortNames: ["netpol"] }),
  r("networking.k8s.io", "v1", "ingresses", "Ingress", true, { shortNames: ["ing"], subresources: ["status"] }),
  r("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
  r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, { shortNames: ["pdb"], subresources: ["status"] }),
  r("crd.projectcalico.org", "v1", "globalnetworkpolicies", "GlobalNetworkPolicy", false, { custom: true }),
  r("crd.projectcalico.org", "v1", "networkpolicies", "NetworkPolicy", true, { custom: true }),
  // Calico's API server (optional in a cluster): it defaults spec.tier and validates rule actions
  // (validation.ts), and refuses a PUT without resourceVersion (AllowUnconditionalUpdate is false). The
  // real one stores a default-tier policy in the CRD above as default.<name>; here the two stores are apart.
  r("projectcalico.org", "v3", "networkpolicies", "NetworkPolicy", true, { aggregated: true }),
  r("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", false, {
    shortNames: ["ccnp"],
    subresources: ["status"],
    custom: true,
  }),
  // The Prometheus Operator's CRD (the Helm chart's ServiceMonitor).
  r("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", true, { shortNames: ["smon"], custom: true }),
  r("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", true, {
    shortNames: ["cnp", "ciliumnp"],
    subresources: ["status"],
    custom: true,
  }),
];

export function apiVersionOf(rt: ResourceType): string {
  return rt.group === "" ? rt.version : `${rt.group}/${rt.version}`;
}

/** "pods", "leases.coordination.k8s.io": how the real server names a resource in error messages. */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group === "" ? rt.plural : `${rt.plural}.${rt.group}`;
}

export function findByPlural(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((rt) => rt.group === group && rt.version === version && rt.plural === plural);
}

export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCES.find((rt) => apiVersionOf(rt) === apiVersion && rt.kind === kind);
}

export function requireByKind(apiVersion: string, kind: string): ResourceType {
  const rt = findByKind(apiVersion, kind);
  if (rt === undefined) throw new Error(`kube-api test server: no resource for ${apiVersion} ${kind}`);
  return rt;
}

export function groupVersions(served: Served = NOT_AGGREGATED): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const rt of RESOURCES.filter(served)) seen.set(apiVersionOf(rt), { group: rt.group, version: rt.version });
  return [...seen.values()];
}

export const POD = requireByKind("v1", "Pod");
export const NAMESPACE = requireByKind("v1", "Namespace");
export const NODE = requireByKind("v1", "Node");
export const PDB = requireByKind("policy/v1", "PodDisruptionBudget");
