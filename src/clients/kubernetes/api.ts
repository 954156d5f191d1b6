// What plugins (actionners, the k8sevents notifier, the k8snode context) see of the cluster: operations
// named after what they do, each of which turns API failures into KestrelErrors inside (kubeCall: 404 →
// ERR_TARGET_GONE, 403 → ERR_FORBIDDEN, 409/429/5xx and dropped connections retried). Plugins never reach
// the library's API groups, so no call site can forget the mapping, and a unit test can hand in the
// in-memory fake (test/support/fake-kube.ts) instead of a client pointed at the Kubernetes API test server.
// The library's object types (V1Pod…) describe the data; plugins take them from here, so that this folder is
// the one place that names the library.
import type { CoreV1Event, V1EphemeralContainer, V1Job, V1LabelSelector, V1Node, V1Pod } from "@kubernetes/client-node";

export type {
  CoreV1Event,
  V1ContainerState,
  V1EphemeralContainer,
  V1Job,
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyPeer,
  V1Node,
  V1ObjectReference,
  V1Pod,
} from "@kubernetes/client-node";

import type { PodTarget } from "../../events/target.ts";

export interface CallOptions {
  readonly signal: AbortSignal;
  /** Attempts in all (default 3); 1 when the caller retries itself (the notification queue, a drain). */
  readonly attempts?: number;
}

/** The workload kinds a pod's owner is read as. */
export type ControllerKind = "ReplicaSet" | "DaemonSet" | "StatefulSet";

export interface Controller {
  readonly kind: ControllerKind;
  readonly name: string;
  readonly namespace: string;
}

/** What the actionners read of a controller: its selector and replica counts. */
export interface ControllerState {
  readonly selector: V1LabelSelector | undefined;
  /** spec.replicas (undefined for a DaemonSet). */
  readonly replicas: number | undefined;
  readonly readyReplicas: number | undefined;
}

/** An object by the plural resource name an audit event gives (`configmaps`); no namespace when cluster-scoped. */
export interface ObjectRef {
  readonly resource: string;
  readonly name: string;
  readonly namespace?: string;
}

/** A resource written by upsert: networking.k8s.io/v1 networkpolicies, or a custom resource (Calico, Cilium). */
export interface Resource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export interface Metadata {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
}

export interface UpsertRequest<T extends { metadata?: Metadata }> {
  readonly resource: Resource;
  readonly namespace: string;
  readonly name: string;
  /** For errors: "create or update the networkpolicy 'web' in the namespace 'prod'". */
  readonly what: string;
  /** Hint added when the create answers 404 although the namespace exists (the API kind is missing). */
  readonly missingKindHint?: string;
  /** The desired object, given the one that exists (undefined when there is none). */
  build(existing: T | undefined): T;
}

/** The object a merge patch of labels or annotations goes to. */
export type MetadataTarget = { readonly pod: PodTarget } | { readonly node: string };

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  /** Written to the command's stdin, which is then closed. No stdin when undefined. */
  readonly stdin?: string | Uint8Array;
  /** What runs, for messages ("the command", "the download of '/etc/passwd'"). */
  readonly label: string;
  readonly signal: AbortSignal;
}

export interface ExecResult {
  readonly exitCode: number;
  /** Collected stdout, up to maxOutputBytes. */
  readonly stdout: Buffer;
  /** The last 4 KiB of stderr. */
  readonly stderr: string;
}

export interface KubeApi {
  /** GETs the pod; a missing pod is ERR_TARGET_GONE. */
  readPod(target: PodTarget, options: CallOptions): Promise<V1Pod>;
  /** The pods on a node (all namespaces), or those of a namespace matching a label selector. */
  listPods(
    where: { readonly node: string } | { readonly namespace: string; readonly labelSelector: string },
    options: CallOptions,
  ): Promise<V1Pod[]>;
  /** Deletes the pod, giving it `gracePeriodSeconds` to stop. */
  terminatePod(target: PodTarget, gracePeriodSeconds: number, options: CallOptions): Promise<void>;
  /** Evicts the pod through the Eviction API (PodDisruptionBudgets answer 429). */
  evict(target: PodTarget, options: CallOptions): Promise<void>;
  /** The last lines of a container's log. */
  podLog(
    target: PodTarget,
    container: string,
    tail: { readonly lines: number; readonly limitBytes: number },
    options: CallOptions,
  ): Promise<string>;
  /** Adds an ephemeral container to the pod (pods/ephemeralcontainers). */
  addEphemeralContainer(target: PodTarget, container: V1EphemeralContainer, options: CallOptions): Promise<void>;
  /** GETs the node; a missing node is ERR_TARGET_GONE. */
  readNode(name: string, options: CallOptions): Promise<V1Node>;
  /** Marks the node unschedulable. */
  cordon(node: string, options: CallOptions): Promise<void>;
  /** ONE JSON merge patch of the labels or annotations: keys with a value are set, null removes the key. */
  patchMetadata(
    target: MetadataTarget,
    field: "labels" | "annotations",
    values: Readonly<Record<string, string | null>>,
    options: CallOptions,
  ): Promise<void>;
  readController(controller: Controller, options: CallOptions): Promise<ControllerState>;
  /** GETs an object of a resource in DELETABLE (./deletable.ts); a missing one is ERR_TARGET_GONE. */
  readObject(ref: ObjectRef, options: CallOptions): Promise<void>;
  deleteObject(ref: ObjectRef, options: CallOptions): Promise<void>;
  /**
   * GET the object, then create it or replace it carrying the resourceVersion that was read, so that a
   * concurrent writer makes the API answer 409 Conflict instead of being overwritten; the whole
   * read-modify-write runs again on a conflict. Labels and annotations others put on it are kept.
   */
  upsert<T extends { metadata?: Metadata }>(request: UpsertRequest<T>, options: CallOptions): Promise<"created" | "updated">;
  /** Whether the API server serves the (namespaced) resource: discovery of its group and version. */
  servesResource(resource: Resource, options: CallOptions): Promise<boolean>;
  createJob(job: V1Job, options: CallOptions): Promise<void>;
  /** Deletes the Job and its pods. */
  deleteJob(namespace: string, name: string, options: CallOptions): Promise<void>;
  /** Creates a core/v1 Event; its eventTime (a Date) is sent with microseconds. */
  createEvent(namespace: string, event: CoreV1Event, options: CallOptions): Promise<void>;
  /** Runs a command in a container and reports its exit code, stdout collected up to maxOutputBytes (1 MiB). */
  exec(request: ExecRequest & { readonly maxOutputBytes?: number }): Promise<ExecResult>;
  /**
   * Runs a command whose stdout is streamed, with backpressure (the exec's socket pauses while the consumer
   * lags): resolves once output starts, or the command ended without output; the iterator throws when the
   * exit code is not among `okExitCodes` (default [0]). Closing the iterator early closes the exec.
   */
  stream(request: ExecRequest & { readonly okExitCodes?: readonly number[] }): Promise<AsyncIterableIterator<Uint8Array>>;
}
