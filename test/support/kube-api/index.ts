// A Kubernetes API server for tests: HTTPS on 127.0.0.1 with a self-signed certificate and a bearer token,
// a store with real API semantics (resourceVersions, conflicts, selectors, patches, watches, subresources),
// exec into fake containers with a real sh interpreter, and hooks to seed objects, inject faults and
// observe what clients did. The real @kubernetes/client-node (and kubectl) talk to it unmodified.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { Api } from "./api.ts";
import { ExecServer, type ExecSessionRecord } from "./exec.ts";
import { Containers, normalizePath } from "./fakefs.ts";
import { bytes } from "./io.ts";
import { Logs } from "./log.ts";
import { NAMESPACE, POD, requireByKind } from "./resources.ts";
import {
  namespaceObject,
  nodeObject,
  type PodOptions,
  podObject,
  type Seeder,
  seedDaemonSet,
  seedDeployment,
  seedJob,
  seedStatefulSet,
} from "./seed.ts";
import { KubeHttpServer } from "./server.ts";
import type { Command } from "./shell.ts";
import { ApiError } from "./status.ts";
import { type ChangeType, Store } from "./store.ts";
import { selfSignedCertificate } from "./tls.ts";
import type { DelayRule, DeletionRecord, ExecLogEntry, FailRule, HangRule, KubeObject, RecordedRequest } from "./types.ts";
import { validateObject } from "./validation.ts";
import { Watches } from "./watch.ts";

export type { ExecSessionRecord } from "./exec.ts";
export type { Command, CommandContext } from "./shell.ts";
export type { DelayRule, DeletionRecord, ExecLogEntry, FailRule, HangRule, KubeObject, RecordedRequest } from "./types.ts";

export interface KubeApiServer {
  readonly url: string;
  readonly caPem: string;
  readonly token: string;
  /** A @kubernetes/client-node KubeConfig for this server (token + CA data), current namespace "default". */
  kubeConfig(): KubeConfig;
  /** Writes a kubeconfig YAML file (server, certificate-authority-data, token) into dir; returns its path. */
  writeKubeconfig(dir: string): Promise<string>;

  /** Generic store access (objects are plain JSON objects as the API returns them). */
  create(obj: KubeObject): KubeObject;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void;
  /** Stores a new state of an existing object (a controller or the kubelet changing it); bumps resourceVersion. */
  update(obj: KubeObject): KubeObject;
  /** Calls `listener` for every change (after it happened); returns the unsubscribe function. */
  onChange(listener: (type: ChangeType, obj: KubeObject) => void): () => void;
  /** The store's current resourceVersion. */
  readonly resourceVersion: string;

  /** Seeding helpers */
  addNamespace(name: string, labels?: Record<string, string>): KubeObject;
  addNode(name: string, options?: { labels?: Record<string, string>; providerID?: string; unschedulable?: boolean }): KubeObject;
  addPod(namespace: string, name: string, options?: PodOptions): KubeObject;
  addDeployment(
    namespace: string,
    name: string,
    options?: { replicas?: number; readyReplicas?: number; node?: string; labels?: Record<string, string> },
  ): { deployment: KubeObject; replicaSet: KubeObject; pods: KubeObject[] };
  addDaemonSet(
    namespace: string,
    name: string,
    options?: { nodes?: string[]; labels?: Record<string, string> },
  ): { daemonSet: KubeObject; pods: KubeObject[] };
  addStatefulSet(
    namespace: string,
    name: string,
    options?: { replicas?: number; readyReplicas?: number; node?: string },
  ): { statefulSet: KubeObject; pods: KubeObject[] };
  addJob(
    namespace: string,
    name: string,
    options?: { node?: string; phase?: string; labels?: Record<string, string> },
  ): { job: KubeObject; pods: KubeObject[] };
  addPodDisruptionBudget(
    namespace: string,
    name: string,
    options: { matchLabels: Record<string, string>; minAvailable?: number | string; maxUnavailable?: number | string },
  ): KubeObject;

  /** Fault injection and observation */
  readonly requests: RecordedRequest[];
  /** Every deletion (API delete, eviction, garbage collection), with the grace period the client asked for. */
  readonly deletions: DeletionRecord[];
  blockEviction(namespace: string, pod: string): void;
  unblockEviction(namespace: string, pod: string): void;
  failNext(rule: FailRule): void;
  hangNext(rule: HangRule): void;
  /** Holds the next matching requests for `ms`, then answers them normally (slow API server). */
  delayNext(rule: DelayRule): void;
  /**
   * Registers (true) or removes (false) Calico's API server: projectcalico.org/v3 networkpolicies in
   * discovery and in the URL space. Off by default, as in a cluster that runs Calico without it.
   */
  setCalicoApiServer(on: boolean): void;
  appendLog(namespace: string, pod: string, container: string, line: string): void;
  /** Ends the follow=true log streams of that container, as its termination would. */
  endLog(namespace: string, pod: string, container: string): void;
  setFile(namespace: string, pod: string, container: string, path: string, content: string | Uint8Array): void;
  getFile(namespace: string, pod: string, container: string, path: string): Uint8Array | undefined;
  /** Makes a command absent from that container's image (`sh: 1: x: not found`; exec'ing it directly fails). */
  removeCommand(namespace: string, pod: string, container: string, name: string): void;
  /** Adds (or overrides) a command in every container. */
  defineCommand(name: string, command: Command): void;
  /** Every command run, after shell parsing, built-ins included. */
  readonly execLog: ExecLogEntry[];
  /** One record per exec WebSocket session: query flags, negotiated protocol, exit code and Status sent. */
  readonly execSessions: ExecSessionRecord[];
  /** Sends a BOOKMARK now on every watch that allowed bookmarks. */
  sendBookmarks(): void;
  /** Ends every open watch stream (clients then re-list / re-watch). */
  closeWatches(): void;
  /** Open streams, to check that clients closed theirs. */
  openStreams(): { watches: number; logFollows: number; execSessions: number };
  /** Polls `check` (every 10 ms) until it returns something truthy; rejects after timeoutMs. */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export interface KubeApiOptions {
  token?: string;
  /** Multiplies durations inside containers (sleep, timeout, tcpdump/sysdig capture): 0.01 makes a 5 s capture last 50 ms. */
  timeScale?: number;
  /** Interval of automatic BOOKMARK events on watches that allow them (0 disables; sendBookmarks() works regardless). */
  bookmarkIntervalMs?: number;
  /** Namespaces that exist from the start (default: default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[];
  /** Serve projectcalico.org/v3 from the start (see setCalicoApiServer). */
  calicoApiServer?: boolean;
}

export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApiServer> {
  const token = options.token ?? `test-${randomBytes(12).toString("hex")}`;
  const tls = await selfSignedCertificate();
  const store = new Store();
  const api = new Api(store);
  const logs = new Logs();
  const containers = new Containers();
  const watches = new Watches(store, options.bookmarkIntervalMs ?? 10_000);
  const requests: RecordedRequest[] = [];
  const execLog: ExecLogEntry[] = [];
  const execSessions: ExecSessionRecord[] = [];
  const custom = new Map<string, Command>();
  const exec = new ExecServer({ containers, timeScale: options.timeScale ?? 1, execLog, sessions: execSessions, custom });
  api.onPodRemoved((namespace, name) => {
    logs.removePod(namespace, name);
    containers.removePod(namespace, name);
  });
  const http = new KubeHttpServer({ token, api, watches, logs, exec, requests }, tls);
  http.setAggregated(options.calicoApiServer ?? false);
  const port = await http.listen();
  const url = `https://127.0.0.1:${port}`;

  const ensureNamespace = (name: string) => {
    if (!store.has(NAMESPACE, undefined, name)) store.insert(NAMESPACE, namespaceObject(name));
  };
  const create = (obj: KubeObject): KubeObject => {
    const rt = requireByKind(obj.apiVersion, obj.kind);
    const o = structuredClone(obj);
    o.metadata ??= {};
    if (rt.namespaced) {
      o.metadata.namespace ??= "default";
      ensureNamespace(o.metadata.namespace);
    }
    validateObject(rt, o);
    if (o.metadata.name && store.has(rt, o.metadata.namespace, o.metadata.name))
      throw new Error(`kube-api test server: ${obj.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name} already exists`);
    return store.insert(rt, o);
  };
  const get = (apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
    store.get(requireByKind(apiVersion, kind), namespace, name);
  const seeder: Seeder = { create, get };
  const podFor = (namespace: string, pod: string) => store.get(POD, namespace, pod);
  for (const ns of options.namespaces ?? ["default", "kube-system", "kube-public", "kube-node-lease"]) ensureNamespace(ns);

  const kubeConfig = (): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "kube-api-test", server: url, caData: Buffer.from(tls.cert).toString("base64"), skipTLSVerify: false }],
      users: [{ name: "kube-api-test", token }],
      contexts: [{ name: "kube-api-test", cluster: "kube-api-test", user: "kube-api-test", namespace: "default" }],
      currentContext: "kube-api-test",
    });
    return kc;
  };

  return {
    url,
    caPem: tls.cert,
    token,
    kubeConfig,
    async writeKubeconfig(dir) {
      const path = join(dir, "kubeconfig");
      const ca = Buffer.from(tls.cert).toString("base64");
      await writeFile(
        path,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "- name: kube-api-test",
          "  cluster:",
          `    server: ${url}`,
          `    certificate-authority-data: ${ca}`,
          "users:",
          "- name: kube-api-test",
          "  user:",
          `    token: ${token}`,
          "contexts:",
          "- name: kube-api-test",
          "  context:",
          "    cluster: kube-api-test",
          "    user: kube-api-test",
          "    namespace: default",
          "current-context: kube-api-test",
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      return path;
    },
    create,
    get,
    list: (apiVersion, kind, namespace) => store.list(requireByKind(apiVersion, kind), namespace),
    remove(apiVersion, kind, namespace, name) {
      const rt = requireByKind(apiVersion, kind);
      try {
        api.delete(rt, namespace, name, {}, "test");
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    },
    update(obj) {
      const rt = requireByKind(obj.apiVersion, obj.kind);
      if (!store.has(rt, obj.metadata.namespace, obj.metadata.name ?? ""))
        throw new Error(`kube-api test server: ${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name} does not exist`);
      validateObject(rt, obj);
      return store.replace(rt, obj);
    },
    onChange: (listener) => store.subscribe((e) => listener(e.type, structuredClone(e.object))),
    get resourceVersion() {
      return String(store.resourceVersion);
    },

    addNamespace: (name, labels) => create(namespaceObject(name, labels)),
    addNode: (name, o) => create(nodeObject(name, o)),
    addPod: (namespace, name, o) => create(podObject(seeder, namespace, name, o)),
    addDeployment: (namespace, name, o) => seedDeployment(seeder, namespace, name, o),
    addDaemonSet: (namespace, name, o) => seedDaemonSet(seeder, namespace, name, o),
    addStatefulSet: (namespace, name, o) => seedStatefulSet(seeder, namespace, name, o),
    addJob: (namespace, name, o) => seedJob(seeder, namespace, name, o),
    addPodDisruptionBudget: (namespace, name, o) => {
      const spec: Record<string, unknown> = { selector: { matchLabels: o.matchLabels } };
      if (o.minAvailable !== undefined) spec.minAvailable = o.minAvailable;
      if (o.maxUnavailable !== undefined) spec.maxUnavailable = o.maxUnavailable;
      return create({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name, namespace }, spec, status: {} });
    },

    requests,
    deletions: api.deletions as DeletionRecord[],
    blockEviction: (namespace, pod) => void api.blockedEvictions.add(`${namespace}/${pod}`),
    unblockEviction: (namespace, pod) => void api.blockedEvictions.delete(`${namespace}/${pod}`),
    failNext: (rule) => http.failNext(rule),
    hangNext: (rule) => http.hangNext(rule),
    delayNext: (rule) => http.delayNext(rule),
    setCalicoApiServer: (on) => http.setAggregated(on),
    appendLog: (namespace, pod, container, line) => logs.append(namespace, pod, container, line),
    endLog: (namespace, pod, container) => logs.end(namespace, pod, container),
    setFile(namespace, pod, container, path, content) {
      containers.get(namespace, pod, container, podFor(namespace, pod)).fs.put(normalizePath(path), bytes(content));
    },
    getFile: (namespace, pod, container, path) => containers.peek(namespace, pod, container)?.fs.read(normalizePath(path)),
    removeCommand(namespace, pod, container, name) {
      containers.get(namespace, pod, container, podFor(namespace, pod)).missing.add(name);
    },
    defineCommand: (name, command) => void custom.set(name, command),
    execLog,
    execSessions,
    sendBookmarks: () => watches.sendBookmarks(),
    closeWatches: () => watches.closeAll(),
    openStreams: () => ({ watches: watches.count, logFollows: logs.followerCount, execSessions: exec.count }),
    waitFor<T>(check: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = () => {
          let value: T | undefined | null | false;
          try {
            value = check();
          } catch (err) {
            reject(err);
            return;
          }
          if (value) resolve(value);
          else if (Date.now() - started > timeoutMs) reject(new Error(`kube-api test server: waitFor timed out after ${timeoutMs} ms`));
          else setTimeout(poll, 10);
        };
        poll();
      });
    },
    async close() {
      watches.closeAll();
      logs.closeAll();
      exec.closeAll();
      containers.killAll();
      await http.close();
    },
  };
}
