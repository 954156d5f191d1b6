// Seeding helpers: objects shaped like the ones a real cluster holds (node labels and conditions, pod
// status with container IDs, workload status counters) with controller ownerReferences, so that code
// walking Pod → ReplicaSet → Deployment (or DaemonSet, StatefulSet, Job) meets what it would in a cluster.
import { randomUUID } from "node:crypto";
import { randomHex } from "./api.ts";
import { randomSuffix, timestamp } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface Seeder {
  create(obj: KubeObject): KubeObject;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
}

export interface PodOptions {
  node?: string;
  labels?: Record<string, string>;
  containers?: string[];
  owner?: KubeObject;
  phase?: string;
  hostNetwork?: boolean;
  /** Defaults to true for Running pods. */
  ready?: boolean;
  annotations?: Record<string, string>;
  image?: string;
}

let podCounter = 0;

function nodeAddress(seeder: Seeder, node: string): string {
  const n = seeder.get("v1", "Node", undefined, node);
  const ip = (n?.status?.addresses ?? []).find((a: { type: string }) => a.type === "InternalIP")?.address;
  if (typeof ip === "string") return ip;
  let h = 0;
  for (const c of node) h = (h * 31 + c.charCodeAt(0)) % 250;
  return `192.168.0.${h + 2}`;
}

function ownerReference(owner: KubeObject): Record<string, unknown> {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function imageFor(container: string, index: number): string {
  return index === 0 ? "nginx:1.27" : `registry.example.com/${container}:1.0`;
}

/** A pod as the kubelet reports it; omitted zero/empty fields as the API omits them. */
export function podObject(seeder: Seeder, namespace: string, name: string, o: PodOptions = {}): KubeObject {
  const phase = o.phase ?? "Running";
  const node = o.node ?? "node-1";
  const containers = o.containers ?? ["app"];
  const running = phase === "Running";
  const ready = o.ready ?? running;
  const n = ++podCounter;
  const hostIP = nodeAddress(seeder, node);
  const podIP = o.hostNetwork ? hostIP : `10.244.${Math.floor(n / 250)}.${(n % 250) + 2}`;
  const now = timestamp();
  const metadata: Record<string, unknown> = { name, namespace, labels: o.labels ?? { app: name } };
  if (o.annotations !== undefined) metadata.annotations = o.annotations;
  if (o.owner !== undefined) metadata.ownerReferences = [ownerReference(o.owner)];
  const spec: Record<string, unknown> = {
    containers: containers.map((c, i) => ({
      name: c,
      image: i === 0 && o.image !== undefined ? o.image : imageFor(c, i),
      imagePullPolicy: "IfNotPresent",
      resources: {},
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
    })),
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    serviceAccountName: "default",
    serviceAccount: "default",
    schedulerName: "default-scheduler",
    enableServiceLinks: true,
    preemptionPolicy: "PreemptLowerPriority",
    priority: 0,
    tolerations: [
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    ],
  };
  if (phase !== "Pending" || o.node !== undefined) spec.nodeName = node;
  if (o.hostNetwork) spec.hostNetwork = true;
  const state = running
    ? { running: { startedAt: now } }
    : phase === "Pending"
      ? { waiting: { reason: "ContainerCreating" } }
      : {
          terminated: {
            exitCode: phase === "Succeeded" ? 0 : 1,
            reason: phase === "Succeeded" ? "Completed" : "Error",
            startedAt: now,
            finishedAt: now,
          },
        };
  const cond = (type: string, status: boolean) => ({
    type,
    status: status ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: now,
  });
  const status: Record<string, unknown> = {
    phase,
    conditions: [
      cond("PodReadyToStartContainers", phase !== "Pending"),
      cond("Initialized", true),
      cond("Ready", ready),
      cond("ContainersReady", ready),
      cond("PodScheduled", spec.nodeName !== undefined),
    ],
    qosClass: "BestEffort",
  };
  if (spec.nodeName !== undefined) {
    status.hostIP = hostIP;
    status.hostIPs = [{ ip: hostIP }];
    status.startTime = now;
  }
  if (phase !== "Pending") {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
    status.containerStatuses = containers.map((c, i) => ({
      name: c,
      state,
      lastState: {},
      ready,
      restartCount: 0,
      image: i === 0 && o.image !== undefined ? o.image : imageFor(c, i),
      imageID: `docker.io/library/${c}@sha256:${randomHex(64)}`,
      containerID: `containerd://${randomHex(64)}`,
      started: running,
    }));
  }
  return { apiVersion: "v1", kind: "Pod", metadata, spec, status };
}

export function nodeObject(
  name: string,
  o: { labels?: Record<string, string>; providerID?: string; unschedulable?: boolean; address?: string } = {},
): KubeObject {
  const now = timestamp();
  const spec: Record<string, unknown> = { podCIDR: "10.244.0.0/24", podCIDRs: ["10.244.0.0/24"] };
  if (o.providerID !== undefined) spec.providerID = o.providerID;
  if (o.unschedulable) {
    spec.unschedulable = true;
    spec.taints = [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: now }];
  }
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 250;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        ...o.labels,
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
    },
    spec,
    status: {
      addresses: [
        { type: "InternalIP", address: o.address ?? `192.168.0.${h + 2}` },
        { type: "Hostname", address: name },
      ],
      allocatable: { cpu: "2", memory: "3920Mi", pods: "110", "ephemeral-storage": "19Gi" },
      capacity: { cpu: "2", memory: "4022Mi", pods: "110", "ephemeral-storage": "20Gi" },
      conditions: [
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", lastHeartbeatTime: now, lastTransitionTime: now },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", lastHeartbeatTime: now, lastTransitionTime: now },
        { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", lastHeartbeatTime: now, lastTransitionTime: now },
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "kubelet is posting ready status",
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: randomUUID(),
        containerRuntimeVersion: "containerd://1.7.24",
        kernelVersion: "6.1.0-18-amd64",
        kubeProxyVersion: "v1.32.4",
        kubeletVersion: "v1.32.4",
        machineID: randomHex(32),
        operatingSystem: "linux",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        systemUUID: randomUUID(),
      },
    },
  };
}

export function namespaceObject(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

function template(labels: Record<string, string>, containers: string[] = ["app"]): Record<string, unknown> {
  return {
    metadata: { labels },
    spec: {
      containers: containers.map((c, i) => ({ name: c, image: imageFor(c, i), imagePullPolicy: "IfNotPresent", resources: {} })),
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
    },
  };
}

/** Status counters without zero values, as the API serialises them (omitempty). */
function counters(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== 0));
}

function hash(length: number): string {
  return randomSuffix(length);
}

export function seedDeployment(
  seeder: Seeder,
  namespace: string,
  name: string,
  o: { replicas?: number; readyReplicas?: number; node?: string; labels?: Record<string, string> } = {},
) {
  const replicas = o.replicas ?? 1;
  const ready = Math.min(o.readyReplicas ?? replicas, replicas);
  const labels = o.labels ?? { app: name };
  const now = timestamp();
  const deployment = seeder.create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels, annotations: { "deployment.kubernetes.io/revision": "1" } },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: template(labels),
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 1,
      ...counters({
        replicas,
        updatedReplicas: replicas,
        readyReplicas: ready,
        availableReplicas: ready,
        unavailableReplicas: replicas - ready,
      }),
      conditions: [
        {
          type: "Available",
          status: ready >= replicas * 0.75 ? "True" : "False",
          reason: ready >= replicas * 0.75 ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
          lastUpdateTime: now,
          lastTransitionTime: now,
        },
        { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", lastUpdateTime: now, lastTransitionTime: now },
      ],
    },
  });
  const podHash = hash(10);
  const rsLabels = { ...labels, "pod-template-hash": podHash };
  const replicaSet = seeder.create({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${name}-${podHash}`,
      namespace,
      labels: rsLabels,
      annotations: {
        "deployment.kubernetes.io/desired-replicas": String(replicas),
        "deployment.kubernetes.io/max-replicas": String(replicas + Math.ceil(replicas * 0.25)),
        "deployment.kubernetes.io/revision": "1",
      },
      ownerReferences: [ownerReference(deployment)],
    },
    spec: { replicas, selector: { matchLabels: rsLabels }, template: template(rsLabels) },
    status: {
      observedGeneration: 1,
      ...counters({ replicas, fullyLabeledReplicas: replicas, readyReplicas: ready, availableReplicas: ready }),
    },
  });
  const pods: KubeObject[] = [];
  for (let i = 0; i < replicas; i++) {
    pods.push(
      seeder.create(
        podObject(seeder, namespace, `${replicaSet.metadata.name}-${hash(5)}`, {
          node: o.node,
          labels: rsLabels,
          owner: replicaSet,
          ready: i < ready,
        }),
      ),
    );
  }
  return { deployment, replicaSet, pods };
}

export function seedDaemonSet(
  seeder: Seeder,
  namespace: string,
  name: string,
  o: { nodes?: string[]; labels?: Record<string, string> } = {},
) {
  const nodes = o.nodes ?? ["node-1"];
  const labels = o.labels ?? { app: name };
  const n = nodes.length;
  const daemonSet = seeder.create({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name, namespace, labels, annotations: { "deprecated.daemonset.template.generation": "1" } },
    spec: {
      selector: { matchLabels: labels },
      template: template(labels),
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    },
    status: {
      observedGeneration: 1,
      numberMisscheduled: 0,
      ...counters({ currentNumberScheduled: n, desiredNumberScheduled: n, numberAvailable: n, numberReady: n, updatedNumberScheduled: n }),
    },
  });
  const revision = hash(10);
  const pods = nodes.map((node) =>
    seeder.create(
      podObject(seeder, namespace, `${name}-${hash(5)}`, {
        node,
        labels: { ...labels, "controller-revision-hash": revision, "pod-template-generation": "1" },
        owner: daemonSet,
      }),
    ),
  );
  return { daemonSet, pods };
}

export function seedStatefulSet(
  seeder: Seeder,
  namespace: string,
  name: string,
  o: { replicas?: number; readyReplicas?: number; node?: string; labels?: Record<string, string> } = {},
) {
  const replicas = o.replicas ?? 1;
  const ready = Math.min(o.readyReplicas ?? replicas, replicas);
  const labels = o.labels ?? { app: name };
  const revision = `${name}-${hash(10)}`;
  const statefulSet = seeder.create({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: template(labels),
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
    },
    status: {
      observedGeneration: 1,
      ...counters({ replicas, readyReplicas: ready, currentReplicas: replicas, updatedReplicas: replicas, availableReplicas: ready }),
      currentRevision: revision,
      updateRevision: revision,
      collisionCount: 0,
    },
  });
  const pods: KubeObject[] = [];
  for (let i = 0; i < replicas; i++) {
    const podName = `${name}-${i}`;
    pods.push(
      seeder.create(
        podObject(seeder, namespace, podName, {
          node: o.node,
          labels: {
            ...labels,
            "apps.kubernetes.io/pod-index": String(i),
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": podName,
          },
          owner: statefulSet,
          ready: i < ready,
        }),
      ),
    );
  }
  return { statefulSet, pods };
}

export function seedJob(
  seeder: Seeder,
  namespace: string,
  name: string,
  o: { node?: string; phase?: string; labels?: Record<string, string> } = {},
) {
  const uid = randomUUID();
  const jobLabels = {
    "batch.kubernetes.io/controller-uid": uid,
    "batch.kubernetes.io/job-name": name,
    "controller-uid": uid,
    "job-name": name,
  };
  const phase = o.phase ?? "Running";
  const now = timestamp();
  const job = seeder.create({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, uid, labels: { ...jobLabels, ...o.labels } },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: "NonIndexed",
      suspend: false,
      manualSelector: false,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": uid } },
      template: { ...template({ ...jobLabels, ...o.labels }), spec: { ...(template(jobLabels).spec as object), restartPolicy: "Never" } },
    },
    status:
      phase === "Succeeded"
        ? {
            startTime: now,
            completionTime: now,
            succeeded: 1,
            ready: 0,
            terminating: 0,
            uncountedTerminatedPods: {},
            conditions: [{ type: "Complete", status: "True", lastProbeTime: now, lastTransitionTime: now }],
          }
        : { startTime: now, active: 1, ready: phase === "Running" ? 1 : 0, terminating: 0, uncountedTerminatedPods: {} },
  });
  const pod = seeder.create(
    podObject(seeder, namespace, `${name}-${hash(5)}`, { node: o.node, labels: { ...jobLabels, ...o.labels }, owner: job, phase }),
  );
  return { job, pods: [pod] };
}
