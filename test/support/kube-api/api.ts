// The REST verbs over the store, with kube-apiserver's semantics: defaulting of apiVersion/kind and
// namespace, optimistic concurrency on resourceVersion, status subresource rules, delete options and
// preconditions, owner-reference garbage collection, eviction against PodDisruptionBudgets, and the
// ephemeralcontainers subresource.

import { parse as parseYaml } from "yaml";
import { APPLY_PATCH, applyPatch, patchTypeOf } from "./patch.ts";
import { apiVersionOf, NAMESPACE, PDB, POD, RESOURCES, type ResourceType } from "./resources.ts";
import { fromLabelSelectorObject, matchesLabels, parseSelection, selects } from "./selectors.ts";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  internalError,
  invalid,
  notFound,
  successStatus,
  tooManyRequests,
  unsupportedMediaType,
} from "./status.ts";
import { type Store, timestamp } from "./store.ts";
import type { DeletionRecord, KubeObject } from "./types.ts";
import { defaultSpec, validateEphemeralUpdate, validateObject, validatePodUpdate } from "./validation.ts";

const BODY_TYPES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/cbor"];

/** Parses a POST/PUT/DELETE body by Content-Type; undefined for an empty body. */
export function parseBody(contentType: string | undefined, text: string): unknown {
  if (text.trim() === "") return undefined;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || type === "") {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
    }
  }
  if (type === "application/yaml") {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
    }
  }
  throw unsupportedMediaType(BODY_TYPES);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isDryRun(query: URLSearchParams): boolean {
  return query.getAll("dryRun").includes("All");
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export function deleteOptionsFrom(query: URLSearchParams, body: unknown): DeleteOptions {
  const opts: DeleteOptions = isObject(body) ? (structuredClone(body) as DeleteOptions) : {};
  const grace = query.get("gracePeriodSeconds");
  if (grace !== null) {
    const n = Number(grace);
    if (!Number.isInteger(n)) throw badRequest(`gracePeriodSeconds: Invalid value: "${grace}": must be an integer`);
    opts.gracePeriodSeconds = n;
  }
  const policy = query.get("propagationPolicy");
  if (policy !== null) opts.propagationPolicy = policy;
  if (query.get("orphanDependents") !== null) opts.orphanDependents = query.get("orphanDependents") === "true";
  if (query.getAll("dryRun").length > 0) opts.dryRun = query.getAll("dryRun");
  if (opts.propagationPolicy !== undefined && !["Orphan", "Background", "Foreground"].includes(opts.propagationPolicy)) {
    throw invalid({ kind: "DeleteOptions", group: "meta.k8s.io" }, "", [
      {
        type: "FieldValueNotSupported",
        field: "propagationPolicy",
        value: opts.propagationPolicy,
        detail: 'supported values: "Foreground", "Background", "Orphan", "nil"',
      },
    ]);
  }
  return opts;
}

/** What the server sends back for a list: `<Kind>List`, items without apiVersion/kind for built-in types. */
export interface ListResult {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

export class Api {
  readonly store: Store;
  readonly deletions: DeletionRecord[] = [];
  readonly blockedEvictions = new Set<string>();
  private readonly podRemovedListeners: ((namespace: string, name: string) => void)[] = [];

  constructor(store: Store) {
    this.store = store;
  }

  onPodRemoved(listener: (namespace: string, name: string) => void): void {
    this.podRemovedListeners.push(listener);
  }

  /** An object as a single GET returns it. */
  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.store.get(rt, namespace, name);
    if (obj === undefined) throw notFound(rt, name);
    return obj;
  }

  list(rt: ResourceType, namespace: string | undefined, query: URLSearchParams): ListResult {
    const selection = parseSelection(rt, query);
    let items = this.store.list(rt, namespace).filter((o) => selects(selection, rt, o));
    const resourceVersion = String(this.store.resourceVersion);
    const meta: ListResult["metadata"] = { resourceVersion };
    const cont = query.get("continue");
    if (cont) {
      let start: string;
      try {
        start = (JSON.parse(Buffer.from(cont, "base64url").toString("utf8")) as { start: string }).start;
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data");
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}` > start);
    }
    const limit = Number(query.get("limit") ?? "0");
    if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      meta.continue = Buffer.from(
        JSON.stringify({ rv: resourceVersion, start: `${last.metadata.namespace ?? ""}/${last.metadata.name}` }),
      ).toString("base64url");
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    if (!rt.custom) {
      for (const o of items) {
        delete (o as Partial<KubeObject>).apiVersion;
        delete (o as Partial<KubeObject>).kind;
      }
    }
    return { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: meta, items };
  }

  private checkTypeAndNamespace(rt: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest("Object 'Kind' is missing in the request body");
    const obj = structuredClone(body) as KubeObject;
    const apiVersion = apiVersionOf(rt);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== rt.kind)
      throw badRequest(
        `${obj.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: no kind "${obj.kind}" is registered for version "${apiVersion}"`,
      );
    obj.apiVersion = apiVersion;
    obj.kind = rt.kind;
    if (!isObject(obj.metadata)) obj.metadata = {};
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      obj.metadata.namespace = namespace;
    } else {
      delete obj.metadata.namespace;
    }
    return obj;
  }

  private requireNamespace(rt: ResourceType, namespace: string | undefined): void {
    if (rt.namespaced && !this.store.has(NAMESPACE, undefined, namespace!)) throw notFound(NAMESPACE, namespace!);
  }

  /** Defaulting the real server does on create (status reset, namespace labels, pod defaults). */
  private prepareForCreate(rt: ResourceType, obj: KubeObject): void {
    const meta = obj.metadata;
    for (const k of [
      "uid",
      "creationTimestamp",
      "deletionTimestamp",
      "deletionGracePeriodSeconds",
      "generation",
      "managedFields",
      "selfLink",
    ])
      delete meta[k];
    if (rt === NAMESPACE) {
      meta.labels = { ...meta.labels, "kubernetes.io/metadata.name": meta.name };
      obj.spec = { finalizers: ["kubernetes"], ...obj.spec };
      obj.status = { phase: "Active" };
    } else if (rt === POD) {
      obj.spec = {
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 30,
        dnsPolicy: "ClusterFirst",
        schedulerName: "default-scheduler",
        ...obj.spec,
      };
      obj.status = { phase: "Pending", qosClass: "BestEffort" };
    } else if (rt.hasStatus && rt.plural !== "nodes") {
      obj.status = {};
    }
  }

  create(rt: ResourceType, namespace: string | undefined, body: unknown, query: URLSearchParams): KubeObject {
    const obj = this.checkTypeAndNamespace(rt, namespace, body);
    if (obj.metadata.resourceVersion) throw internalError("resourceVersion should not be set on objects to be created");
    this.prepareForCreate(rt, obj);
    defaultSpec(rt, obj);
    validateObject(rt, obj);
    this.requireNamespace(rt, namespace);
    if (obj.metadata.name && this.store.has(rt, namespace, obj.metadata.name)) throw alreadyExists(rt, obj.metadata.name);
    if (isDryRun(query))
      return {
        ...obj,
        metadata: { ...obj.metadata, name: obj.metadata.name ?? `${obj.metadata.generateName}dryrn`, creationTimestamp: timestamp() },
      };
    return this.store.insert(rt, obj);
  }

  /** PUT. Returns the object and whether it was created (201) rather than updated (200). */
  update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    query: URLSearchParams,
  ): { object: KubeObject; created: boolean } {
    const next = this.checkTypeAndNamespace(rt, namespace, body);
    if (next.metadata.name !== name)
      throw badRequest(`the name of the object (${next.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    const current = this.store.get(rt, namespace, name);
    if (current === undefined) {
      if (!rt.createOnUpdate) throw notFound(rt, name);
      delete next.metadata.resourceVersion;
      return { object: this.create(rt, namespace, next, query), created: true };
    }
    if (!next.metadata.resourceVersion && (rt.custom || rt.aggregated)) {
      throw invalid(rt, name, [
        { type: "FieldValueInvalid", field: "metadata.resourceVersion", value: 0, detail: "must be specified for an update" },
      ]);
    }
    return { object: this.commit(rt, next, current, "main", query), created: false };
  }

  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string | undefined,
    body: string,
    query: URLSearchParams,
    sub: "main" | "status" | "ephemeralcontainers" = "main",
  ): { object: KubeObject; created: boolean } {
    // The patch type is checked before the object is looked up, as kube-apiserver does.
    const type = patchTypeOf(rt, contentType);
    const current = this.store.get(rt, namespace, name);
    if (current === undefined) {
      // Server-side apply creates; every other patch needs an existing object.
      if (type !== APPLY_PATCH || sub !== "main") throw notFound(rt, name);
      const seed = { apiVersion: apiVersionOf(rt), kind: rt.kind, metadata: { name, namespace } };
      const applied = applyPatch(rt, contentType, seed, body, query);
      return { object: this.create(rt, namespace, applied, query), created: true };
    }
    const patched = applyPatch(rt, contentType, current, body, query);
    if (!isObject(patched.metadata)) throw badRequest("metadata: the patched object has no metadata");
    if (patched.metadata.name !== name)
      throw badRequest(`the name of the object (${patched.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    if (rt.namespaced && patched.metadata.namespace !== namespace)
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    patched.apiVersion = current.apiVersion;
    patched.kind = current.kind;
    return { object: this.commit(rt, patched, current, sub, query), created: false };
  }

  /** PUT of a subresource (status, ephemeralcontainers). */
  updateSubresource(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    query: URLSearchParams,
    sub: "status" | "ephemeralcontainers",
  ): KubeObject {
    const next = this.checkTypeAndNamespace(rt, namespace, body);
    if (next.metadata.name !== name)
      throw badRequest(`the name of the object (${next.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    const current = this.store.get(rt, namespace, name);
    if (current === undefined) throw notFound(rt, name);
    return this.commit(rt, next, current, sub, query);
  }

  /** Preconditions, subresource rules, validation, then the write. */
  private commit(
    rt: ResourceType,
    proposed: KubeObject,
    current: KubeObject,
    sub: "main" | "status" | "ephemeralcontainers",
    query: URLSearchParams,
  ): KubeObject {
    const name = current.metadata.name!;
    const rv = proposed.metadata.resourceVersion;
    if (rv !== undefined && rv !== null && rv !== "" && rv !== current.metadata.resourceVersion) throw conflict(rt, name);
    const uid = proposed.metadata.uid;
    if (uid && uid !== current.metadata.uid) {
      throw conflict(rt, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid}`);
    }
    let next: KubeObject;
    if (sub === "status") {
      next = { ...current, status: proposed.status };
    } else if (sub === "ephemeralcontainers") {
      next = structuredClone(current);
      next.spec = { ...next.spec, ephemeralContainers: proposed.spec?.ephemeralContainers };
      if (next.spec.ephemeralContainers === undefined) delete next.spec.ephemeralContainers;
      validateEphemeralUpdate(rt, next, current);
    } else {
      next = proposed;
      defaultSpec(rt, next);
      if (rt.hasStatus) next.status = current.status;
      if (rt === POD) validatePodUpdate(rt, next, current);
    }
    next.metadata = { ...next.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
    if (current.metadata.deletionTimestamp) next.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
    validateObject(rt, next);
    if (isDryRun(query)) return next;
    const stored = this.store.replace(rt, next);
    if (sub === "ephemeralcontainers") return this.startEphemeralContainers(rt, stored);
    return stored;
  }

  /** Stands in for the kubelet: new ephemeral containers report running straight away. */
  private startEphemeralContainers(rt: ResourceType, pod: KubeObject): KubeObject {
    const statuses: Record<string, unknown>[] = pod.status?.ephemeralContainerStatuses ?? [];
    const fresh = (pod.spec?.ephemeralContainers ?? []).filter((c: { name: string }) => !statuses.some((s) => s.name === c.name));
    if (fresh.length === 0) return pod;
    const now = timestamp();
    const next = structuredClone(pod);
    next.status = {
      ...next.status,
      ephemeralContainerStatuses: [
        ...statuses,
        ...fresh.map((c: { name: string; image: string }) => ({
          name: c.name,
          image: c.image,
          imageID: "",
          containerID: `containerd://${randomHex(64)}`,
          ready: false,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      ],
    };
    return this.store.replace(rt, next);
  }

  delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    via = "delete",
  ): KubeObject | Record<string, unknown> {
    const current = this.store.get(rt, namespace, name);
    if (current === undefined) throw notFound(rt, name);
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw conflict(rt, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      );
    }
    const grace = options.gracePeriodSeconds ?? (rt === POD ? (current.spec?.terminationGracePeriodSeconds ?? 30) : undefined);
    const answer = (o: KubeObject) =>
      rt === POD || rt === NAMESPACE || rt.plural === "services" ? o : successStatus(undefined, detailsOf(rt, o));
    if (options.dryRun?.includes("All")) return answer(current);
    const removed = this.remove(rt, current, options, via, grace);
    return answer(rt === NAMESPACE ? { ...removed, status: { phase: "Terminating" } } : removed);
  }

  private remove(rt: ResourceType, current: KubeObject, options: DeleteOptions, via: string, grace: number | undefined): KubeObject {
    const name = current.metadata.name!;
    const namespace = current.metadata.namespace;
    this.deletions.push({
      apiVersion: apiVersionOf(rt),
      kind: rt.kind,
      namespace,
      name,
      uid: current.metadata.uid,
      gracePeriodSeconds: grace,
      propagationPolicy: options.propagationPolicy,
      via,
    });
    if (rt === NAMESPACE) {
      for (const [t, o] of [...this.store.all()]) {
        if (t.namespaced && o.metadata.namespace === name) this.remove(t, o, {}, "namespace", undefined);
      }
    }
    const removed = this.store.delete(rt, namespace, name, (o) => {
      if (rt === POD || rt === NAMESPACE) {
        o.metadata.deletionTimestamp = timestamp(new Date(Date.now() + (grace ?? 0) * 1000));
        if (grace !== undefined) o.metadata.deletionGracePeriodSeconds = grace;
      }
    })!;
    if (rt === POD) for (const l of this.podRemovedListeners) l(namespace!, name);
    const orphan = options.propagationPolicy === "Orphan" || (options.propagationPolicy === undefined && options.orphanDependents === true);
    if (!orphan) {
      for (const [t, o] of [...this.store.all()]) {
        const refs: { uid?: string }[] = o.metadata.ownerReferences ?? [];
        if (refs.some((r) => r.uid === current.metadata.uid) && this.store.has(t, o.metadata.namespace, o.metadata.name!)) {
          this.remove(t, structuredClone(o), { propagationPolicy: "Background" }, "cascade", undefined);
        }
      }
    }
    return removed;
  }

  deleteCollection(rt: ResourceType, namespace: string | undefined, query: URLSearchParams, options: DeleteOptions): ListResult {
    const selection = parseSelection(rt, query);
    const victims = this.store.list(rt, namespace).filter((o) => selects(selection, rt, o));
    const items: KubeObject[] = [];
    for (const o of victims) {
      if (options.dryRun?.includes("All")) items.push(o);
      else
        items.push(
          this.remove(
            rt,
            o,
            options,
            "deletecollection",
            options.gracePeriodSeconds ?? (rt === POD ? (o.spec?.terminationGracePeriodSeconds ?? 30) : undefined),
          ),
        );
    }
    return {
      kind: `${rt.kind}List`,
      apiVersion: apiVersionOf(rt),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  /** GET …/scale: the autoscaling/v1 Scale view of a workload. */
  scale(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.get(rt, namespace, name);
    const selector = Object.entries((o.spec?.selector?.matchLabels ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name,
        namespace,
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
        creationTimestamp: o.metadata.creationTimestamp,
      },
      spec: { replicas: o.spec?.replicas ?? 0 },
      status: { replicas: o.status?.replicas ?? 0, selector },
    };
  }

  /** PUT/PATCH …/scale: only spec.replicas reaches the workload; resourceVersion is checked as usual. */
  updateScale(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string | undefined,
    body: string,
    query: URLSearchParams,
    isPatch: boolean,
  ): KubeObject {
    const current = this.scale(rt, namespace, name);
    let next: KubeObject;
    if (isPatch) next = applyPatch(rt, contentType, current, body, query);
    else {
      const parsed = parseBody(contentType, body);
      if (!isObject(parsed)) throw badRequest("Object 'Kind' is missing in the request body");
      next = parsed as KubeObject;
    }
    const replicas = next.spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw invalid({ kind: "Scale", group: "autoscaling" }, name, [
        { type: "FieldValueInvalid", field: "spec.replicas", value: replicas, detail: "must be greater than or equal to 0" },
      ]);
    }
    const rv = next.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(rt, name);
    const workload = this.get(rt, namespace, name);
    workload.spec = { ...workload.spec, replicas };
    if (!isDryRun(query)) this.store.replace(rt, workload);
    return this.scale(rt, namespace, name);
  }

  /** POST pods/<name>/eviction: 201 Status, or 429 when a disruption budget (or a test block) forbids it. */
  evict(namespace: string, name: string, body: unknown, query: URLSearchParams): Record<string, unknown> {
    const pod = this.store.get(POD, namespace, name);
    if (pod === undefined) throw notFound(POD, name);
    if (!isObject(body)) throw badRequest("Object 'Kind' is missing in the request body");
    if (body.kind !== undefined && body.kind !== "Eviction")
      throw badRequest(`${String(body.kind)} in version "v1" cannot be handled as a Eviction`);
    const evictionName = isObject(body.metadata) ? body.metadata.name : undefined;
    if (evictionName !== undefined && evictionName !== name) throw badRequest("name in URL does not match name in Eviction object");
    const deleteOptions = isObject(body.deleteOptions) ? (body.deleteOptions as DeleteOptions) : {};
    this.checkDisruption(pod);
    if (!isDryRun(query) && !deleteOptions.dryRun?.includes("All")) {
      const grace = deleteOptions.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.remove(POD, pod, deleteOptions, "eviction", grace);
    }
    return successStatus(201);
  }

  /**
   * How many pods the budget expects, as the disruption controller counts them: the scale of the pods'
   * controllers (an evicted pod still counts until its replacement exists), or the pods themselves.
   */
  private expectedPods(namespace: string, pods: KubeObject[]): number {
    const owners = new Map<string, number>();
    for (const pod of pods) {
      const ref = (pod.metadata.ownerReferences ?? []).find((r: { controller?: boolean }) => r.controller === true) as
        | { apiVersion: string; kind: string; name: string; uid: string }
        | undefined;
      const rt = ref === undefined ? undefined : RESOURCES.find((t) => `${apiVersionOf(t)}/${t.kind}` === `${ref.apiVersion}/${ref.kind}`);
      const owner = rt === undefined ? undefined : this.store.get(rt, namespace, ref!.name);
      const scale = owner?.kind === "DaemonSet" ? owner.status?.desiredNumberScheduled : owner?.spec?.replicas;
      if (owner === undefined || typeof scale !== "number") return pods.length;
      owners.set(owner.metadata.uid, scale);
    }
    let total = 0;
    for (const n of owners.values()) total += n;
    return total;
  }

  private checkDisruption(pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const key = `${ns}/${pod.metadata.name}`;
    if (this.blockedEvictions.has(key)) throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.");
    const phase = pod.status?.phase;
    // Pending and finished pods, and pods already being deleted, never count against a budget.
    if (phase !== "Running" || pod.metadata.deletionTimestamp) return;
    const pdbs = this.store.list(PDB, ns).filter((p) => matchesLabels(fromLabelSelectorObject(p.spec?.selector), pod.metadata.labels));
    if (pdbs.length === 0) return;
    if (pdbs.length > 1)
      throw internalError("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    const pdb = pdbs[0]!;
    const reqs = fromLabelSelectorObject(pdb.spec?.selector);
    const covered = this.store.list(POD, ns).filter((p) => matchesLabels(reqs, p.metadata.labels) && !p.metadata.deletionTimestamp);
    const expected = this.expectedPods(ns, covered);
    const healthy = covered.filter(isHealthy).length;
    const desired = desiredHealthy(pdb.spec ?? {}, expected);
    if (!isHealthy(pod) && healthy >= desired) return;
    if (healthy - desired <= 0) {
      throw new ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", {
        causes: [
          {
            reason: "DisruptionBudget",
            message: `The disruption budget ${pdb.metadata.name} needs ${desired} healthy pods and has ${healthy} currently`,
          },
        ],
      });
    }
  }
}

function isHealthy(pod: KubeObject): boolean {
  if (pod.status?.phase !== "Running") return false;
  const ready = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
  return ready === undefined || ready.status === "True";
}

function scaled(value: number | string, total: number, roundUp: boolean): number {
  if (typeof value === "number") return value;
  const pct = Number.parseInt(value, 10) / 100;
  return roundUp ? Math.ceil(pct * total) : Math.floor(pct * total);
}

function desiredHealthy(spec: { minAvailable?: number | string; maxUnavailable?: number | string }, expected: number): number {
  if (spec.maxUnavailable !== undefined) return Math.max(0, expected - scaled(spec.maxUnavailable, expected, true));
  if (spec.minAvailable !== undefined) return scaled(spec.minAvailable, expected, true);
  return expected;
}

function detailsOf(rt: ResourceType, o: KubeObject): { name: string; group?: string; kind: string; uid: string } {
  const d: { name: string; group?: string; kind: string; uid: string } = { name: o.metadata.name!, kind: rt.plural, uid: o.metadata.uid };
  if (rt.group !== "") d.group = rt.group;
  return d;
}

export function randomHex(length: number): string {
  let s = "";
  while (s.length < length)
    s += Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
  return s.slice(0, length);
}
