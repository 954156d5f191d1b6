// Helpers for calls to the Kubernetes API shared by the network policy actionners, the k8sevents notifier
// and the k8snode context: the read-modify-write of an object (GET, then create, or replace with the resourceVersion that was read).
import { isApiException, type KubeClient, kubeCall } from "../../clients/kubernetes-calls.ts";
import { KestrelError } from "../../errors.ts";

/** Labels Kestrel puts on the objects it creates. */
export const MANAGED_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/managed-by": "kestrel" };

export function isNotFound(err: unknown): boolean {
  return isApiException(err) && err.code === 404;
}

export interface Metadata {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
}

export interface Upsert<T extends { metadata?: Metadata }> {
  /** For errors: "create or update the networkpolicy 'web' in the namespace 'prod'". */
  readonly what: string;
  readonly signal: AbortSignal;
  /** Hint added when the create answers 404 although the namespace exists (the API kind is missing). */
  readonly missingKindHint?: string;
  read(): Promise<T>;
  create(body: T): Promise<T>;
  replace(body: T): Promise<T>;
  /** The desired object, given the one that exists (undefined when there is none). */
  build(existing: T | undefined): T;
}

/**
 * GET the object, then create it or replace it carrying the resourceVersion that was read, so that a
 * concurrent writer makes the API answer 409 Conflict instead of being overwritten. kubeCall runs the whole
 * read-modify-write again on a conflict (and on a create that lost a race: 409 AlreadyExists), starting
 * from a fresh read. Labels and annotations others put on an existing object are kept.
 */
export function upsert<T extends { metadata?: Metadata }>(u: Upsert<T>): Promise<"created" | "updated"> {
  return kubeCall(u.what, { signal: u.signal }, async () => {
    let existing: T | undefined;
    try {
      existing = await u.read();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const body = u.build(existing);
    if (existing === undefined) {
      try {
        await u.create(body);
      } catch (err) {
        if (isNotFound(err) && u.missingKindHint !== undefined) {
          throw new KestrelError("ERR_ACTION", `cannot ${u.what}: the API server answered 404 (${u.missingKindHint})`, { cause: err });
        }
        throw err;
      }
      return "created";
    }
    const old = existing.metadata ?? {};
    body.metadata = {
      ...body.metadata,
      labels: { ...old.labels, ...body.metadata?.labels },
      ...(old.annotations !== undefined || body.metadata?.annotations !== undefined
        ? { annotations: { ...old.annotations, ...body.metadata?.annotations } }
        : {}),
      ...(old.resourceVersion !== undefined ? { resourceVersion: old.resourceVersion } : {}),
    };
    await u.replace(body);
    return "updated";
  });
}

export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** upsert for a namespaced custom object (CustomObjectsApi answers and takes plain JSON). */
export function upsertCustom<T extends { metadata?: Metadata }>(
  kube: KubeClient,
  resource: CustomResource,
  o: { namespace: string; name: string; what: string; signal: AbortSignal; build(existing: T | undefined): T },
): Promise<"created" | "updated"> {
  const options = kube.requestOptions(o.signal);
  const at = { ...resource, namespace: o.namespace };
  return upsert<T>({
    what: o.what,
    signal: o.signal,
    missingKindHint: `is the ${resource.group}/${resource.version} ${resource.plural} resource installed in the cluster?`,
    read: () => kube.custom.getNamespacedCustomObject({ ...at, name: o.name }, options) as Promise<T>,
    create: (body) => kube.custom.createNamespacedCustomObject({ ...at, body }, options) as Promise<T>,
    replace: (body) => kube.custom.replaceNamespacedCustomObject({ ...at, name: o.name, body }, options) as Promise<T>,
    build: o.build,
  });
}
