// KubeApi on the library's client: every operation is one kubeCall, so its failures are KestrelErrors
// (see ./calls.ts) and the retryable ones are retried. This module imports only types from
// @kubernetes/client-node (the library is loaded by ../kubernetes.ts when a client is created).

import type { CallOptions, Controller, ControllerState, KubeApi, MetadataTarget } from "./api.ts";
import { type KubeClient, kubeCall, MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "./calls.ts";
import { execCollect, execStream } from "./exec.ts";
import { deleteObject, readObject, servesResource, upsert } from "./objects.ts";

function podText(target: { pod: string; namespace: string }): string {
  return `the pod '${target.pod}' in the namespace '${target.namespace}'`;
}

function readController(kube: KubeClient, c: Controller, options: CallOptions): Promise<ControllerState> {
  const request = { name: c.name, namespace: c.namespace };
  const o = kube.requestOptions(options.signal);
  return kubeCall(`read the ${c.kind} '${c.name}' in the namespace '${c.namespace}'`, options, async (): Promise<ControllerState> => {
    if (c.kind === "DaemonSet") {
      const ds = await kube.apps.readNamespacedDaemonSet(request, o);
      return { selector: ds.spec?.selector, replicas: undefined, readyReplicas: ds.status?.numberReady };
    }
    const obj =
      c.kind === "ReplicaSet"
        ? await kube.apps.readNamespacedReplicaSet(request, o)
        : await kube.apps.readNamespacedStatefulSet(request, o);
    return { selector: obj.spec?.selector, replicas: obj.spec?.replicas, readyReplicas: obj.status?.readyReplicas };
  });
}

function patchMetadata(
  kube: KubeClient,
  target: MetadataTarget,
  field: "labels" | "annotations",
  values: Readonly<Record<string, string | null>>,
  options: CallOptions,
): Promise<unknown> {
  const body = { metadata: { [field]: { ...values } } };
  const verb = field === "labels" ? "label" : "annotate";
  const o = kube.requestOptions(options.signal, MERGE_PATCH);
  if ("node" in target) {
    return kubeCall(`${verb} the node '${target.node}'`, options, () => kube.core.patchNode({ name: target.node, body }, o));
  }
  const { pod, namespace } = target.pod;
  return kubeCall(`${verb} ${podText(target.pod)}`, options, () => kube.core.patchNamespacedPod({ name: pod, namespace, body }, o));
}

/** The narrow client plugins use, on `kube` (see ./api.ts). */
export function kubeApiOn(kube: KubeClient): KubeApi {
  const opts = (o: CallOptions) => kube.requestOptions(o.signal);
  const done = (): void => undefined;
  return {
    readPod: (t, o) =>
      kubeCall(`read ${podText(t)}`, o, () => kube.core.readNamespacedPod({ name: t.pod, namespace: t.namespace }, opts(o))),
    async listPods(where, o) {
      if ("node" in where) {
        const list = await kubeCall(`list the pods of the node '${where.node}'`, o, () =>
          kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${where.node}` }, opts(o)),
        );
        return list.items.filter((p) => p.spec?.nodeName === where.node);
      }
      const list = await kubeCall(`list the pods '${where.labelSelector}' in the namespace '${where.namespace}'`, o, () =>
        kube.core.listNamespacedPod({ namespace: where.namespace, labelSelector: where.labelSelector }, opts(o)),
      );
      return list.items;
    },
    terminatePod: (t, gracePeriodSeconds, o) =>
      kubeCall(`terminate ${podText(t)}`, o, () =>
        kube.core.deleteNamespacedPod({ name: t.pod, namespace: t.namespace, gracePeriodSeconds }, opts(o)),
      ).then(done),
    evict(t, o) {
      const body = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: t.pod, namespace: t.namespace } };
      return kubeCall(`evict ${podText(t)}`, o, () =>
        kube.core.createNamespacedPodEviction({ name: t.pod, namespace: t.namespace, body }, opts(o)),
      ).then(done);
    },
    podLog: (t, container, tail, o) =>
      kubeCall(`read the logs of the container '${container}' of ${podText(t)}`, o, () =>
        kube.core.readNamespacedPodLog(
          { name: t.pod, namespace: t.namespace, container, tailLines: tail.lines, limitBytes: tail.limitBytes },
          opts(o),
        ),
      ),
    addEphemeralContainer: (t, container, o) =>
      kubeCall(`add the ephemeral container '${container.name}' of ${podText(t)}`, o, () =>
        kube.core.patchNamespacedPodEphemeralcontainers(
          { name: t.pod, namespace: t.namespace, body: { spec: { ephemeralContainers: [container] } } },
          kube.requestOptions(o.signal, STRATEGIC_MERGE_PATCH),
        ),
      ).then(done),
    readNode: (name, o) => kubeCall(`read the node '${name}'`, o, () => kube.core.readNode({ name }, opts(o))),
    cordon: (node, o) =>
      kubeCall(`cordon the node '${node}'`, o, () =>
        kube.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, kube.requestOptions(o.signal, STRATEGIC_MERGE_PATCH)),
      ).then(done),
    patchMetadata: (target, field, values, o) => patchMetadata(kube, target, field, values, o).then(done),
    readController: (c, o) => readController(kube, c, o),
    readObject: (ref, o) => readObject(kube, ref, o),
    deleteObject: (ref, o) => deleteObject(kube, ref, o),
    upsert: (request, o) => upsert(kube, request, o),
    servesResource: (resource, o) => servesResource(kube, resource, o),
    createJob: (job, o) =>
      kubeCall(`create the Job '${job.metadata?.name}' in the namespace '${job.metadata?.namespace}'`, o, () =>
        kube.batch.createNamespacedJob({ namespace: job.metadata?.namespace ?? "", body: job }, opts(o)),
      ).then(done),
    deleteJob: (namespace, name, o) =>
      kubeCall(`delete the Job '${name}'`, o, () =>
        kube.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background", gracePeriodSeconds: 0 }, opts(o)),
      ).then(done),
    createEvent(namespace, event, o) {
      const body = {
        ...event,
        metadata: { ...event.metadata, namespace },
        ...(event.eventTime === undefined ? {} : { eventTime: kube.microTime(event.eventTime.getTime()) }),
      };
      return kubeCall(`create an event in the namespace '${namespace}'`, o, () =>
        kube.core.createNamespacedEvent({ namespace, body }, opts(o)),
      ).then(done);
    },
    exec: (request) => execCollect(kube, request),
    stream: (request) => execStream(kube, request),
  };
}
