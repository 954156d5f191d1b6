// The Kubernetes pod and node actionners through the running server: a Falco event is POSTed to Kestrel,
// which acts on the Kubernetes API test server; the tests check the API objects and the requests Kestrel
// sent, and the notifications it delivered (success, ignored, failure).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Terminate
  match: { rules: [Terminate] }
  actions:
    - action: Terminate the pod
      actionner: kubernetes:terminate
      parameters: { grace_period_seconds: 5 }

- rule: Terminate unless DaemonSet
  match: { rules: [Terminate unless DaemonSet] }
  actions:
    - action: Terminate, sparing DaemonSets
      actionner: kubernetes:terminate
      parameters: { ignore_daemonsets: true, ignore_standalone_pods: true }

- rule: Terminate unless StatefulSet
  match: { rules: [Terminate unless StatefulSet] }
  actions:
    - action: Terminate, sparing StatefulSets
      actionner: kubernetes:terminate
      parameters: { ignore_statefulsets: true }

- rule: Terminate keeping 2
  match: { rules: [Terminate keeping 2] }
  actions:
    - action: Terminate, keeping 2 ready
      actionner: kubernetes:terminate
      parameters: { min_healthy_replicas: 2 }

- rule: Terminate keeping half
  match: { rules: [Terminate keeping half] }
  actions:
    - action: Terminate, keeping 50%
      actionner: kubernetes:terminate
      parameters: { min_healthy_replicas: "50%" }

- rule: Label
  match: { rules: [Label] }
  actions:
    - action: Label the pod
      actionner: kubernetes:label
      parameters:
        labels: { suspicious: true, strikes: 3, rule: "\${PROC_NAME}", stale: "", gone: null }

- rule: Annotate node
  match: { rules: [Annotate node] }
  actions:
    - action: Annotate the node
      actionner: kubernetes:annotation
      parameters:
        level: node
        annotations: { kestrel.dev/alert: "\${RULE}", kestrel.dev/old: "" }

- rule: Cordon
  match: { rules: [Cordon] }
  actions:
    - action: Cordon the node
      actionner: kubernetes:cordon

- rule: Drain
  match: { rules: [Drain] }
  actions:
    - action: Drain the node
      actionner: kubernetes:drain
      parameters: { ignore_daemonsets: true, kestrel_pod: kestrel/kestrel-0 }

- rule: Drain waiting
  match: { rules: [Drain waiting] }
  actions:
    - action: Drain the node, waiting
      actionner: kubernetes:drain
      parameters: { ignore_daemonsets: true, max_wait_period: 5 }

- rule: Drain keeping 2
  match: { rules: [Drain keeping 2] }
  actions:
    - action: Drain the node, keeping 2 ready replicas
      actionner: kubernetes:drain
      parameters: { min_healthy_replicas: 2, cordon: false }

- rule: Drain briefly
  match: { rules: [Drain briefly] }
  actions:
    - action: Drain the node, waiting 1 s
      actionner: kubernetes:drain
      parameters: { max_wait_period: 1 }

- rule: Drain briefly, not waiting for slow
  match: { rules: [Drain briefly, not waiting for slow] }
  actions:
    - action: Drain the node, waiting 1 s except in slow
      actionner: kubernetes:drain
      parameters: { max_wait_period: 1, wait_period_excluded_namespaces: [slow] }

- rule: Delete
  match: { rules: [Delete] }
  actions:
    - action: Delete the target
      actionner: kubernetes:delete
`;

interface Body {
  status: string;
  rule: string;
  action: string;
  actionner: string;
  output?: string;
  error?: string;
  objects?: Record<string, string>;
}

describe("Kubernetes actionners against the API test server", () => {
  let kubeApi: KubeApiServer;
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  const bodies = (): Body[] => receiver.requests.map((r) => JSON.parse(r.body) as Body);

  /** POSTs an event and resolves with the notification of its action. */
  async function act(rule: string, fields: Record<string, unknown>): Promise<Body> {
    const before = receiver.requests.length;
    const res = await kestrel.post(falcoEvent({ rule, fields }));
    assert.equal(res.status, 200);
    await receiver.waitFor(before + 1, 10_000);
    return bodies()[before]!;
  }

  const pod = (ns: string, name: string) => kubeApi.get("v1", "Pod", ns, name);
  const node = (name: string) => kubeApi.get("v1", "Node", undefined, name);
  const requestsTo = (method: string, path: RegExp) => kubeApi.requests.filter((r) => r.method === method && path.test(r.path));
  /**
   * Creates the namespace and nodes a test needs unless an earlier test did: each test sets up its own world,
   * so that any one of them runs alone (--test-name-pattern).
   */
  const world = (namespace: string, ...nodes: string[]): void => {
    if (kubeApi.get("v1", "Namespace", undefined, namespace) === undefined) kubeApi.addNamespace(namespace);
    for (const name of nodes) if (node(name) === undefined) kubeApi.addNode(name);
  };

  before(async () => {
    kubeApi = await startKubeApi();
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
      clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kubeApi?.close();
  });

  describe("kubernetes:terminate", () => {
    it("deletes the pod with the grace period and reports Talon's text", async () => {
      world("shop", "node-t1");
      const { pods } = kubeApi.addDeployment("shop", "web", { replicas: 2, node: "node-t1" });
      const victim = pods[0]!.metadata.name as string;
      const body = await act("Terminate", { "k8s.ns.name": "shop", "k8s.pod.name": victim });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, `the pod '${victim}' in the namespace 'shop' has been terminated`);
      assert.deepEqual(body.objects, { Pod: victim, Namespace: "shop" }); // the webhook Title-cases keys, as Talon
      assert.equal(pod("shop", victim), undefined);
      const [del] = requestsTo("DELETE", new RegExp(`/namespaces/shop/pods/${victim}$`));
      assert.equal(del?.query["gracePeriodSeconds"], "5");
      assert.notEqual(pod("shop", pods[1]!.metadata.name as string), undefined);
    });

    it("fails without deleting anything when the pod is gone", async () => {
      world("shop");
      const deletes = requestsTo("DELETE", /\/pods\//).length;
      const body = await act("Terminate", { "k8s.ns.name": "shop", "k8s.pod.name": "ghost" });
      assert.equal(body.status, "failure");
      assert.match(body.error ?? "", /cannot read the pod 'ghost' in the namespace 'shop': not found/);
      assert.equal(requestsTo("DELETE", /\/pods\//).length, deletes);
    });

    it("fails with the RBAC hint on 403, leaving the pod", async () => {
      world("shop", "node-t1");
      kubeApi.addPod("shop", "guarded", { node: "node-t1" });
      kubeApi.failNext({
        method: "DELETE",
        path: /\/pods\/guarded$/,
        status: 403,
        reason: "Forbidden",
        message: 'pods "guarded" is forbidden',
      });
      const body = await act("Terminate", { "k8s.ns.name": "shop", "k8s.pod.name": "guarded" });
      assert.equal(body.status, "failure");
      assert.match(body.error ?? "", /cannot terminate the pod 'guarded' in the namespace 'shop': pods "guarded" is forbidden/);
      assert.match(body.error ?? "", /RBAC/);
      assert.notEqual(pod("shop", "guarded"), undefined);
    });

    it("reports a DaemonSet pod as ignored with ignore_daemonsets, and a standalone one with ignore_standalone_pods", async () => {
      world("shop", "node-t2");
      const { pods } = kubeApi.addDaemonSet("shop", "agent", { nodes: ["node-t2"] });
      const ds = pods[0]!.metadata.name as string;
      const body = await act("Terminate unless DaemonSet", { "k8s.ns.name": "shop", "k8s.pod.name": ds });
      assert.equal(body.status, "ignored");
      assert.match(
        body.output ?? "",
        new RegExp(`the pod '${ds}' in the namespace 'shop' has not been terminated: it belongs to the DaemonSet 'agent'`),
      );
      assert.notEqual(pod("shop", ds), undefined);

      kubeApi.addPod("shop", "lonely", { node: "node-t2" });
      const standalone = await act("Terminate unless DaemonSet", { "k8s.ns.name": "shop", "k8s.pod.name": "lonely" });
      assert.equal(standalone.status, "ignored");
      assert.match(standalone.output ?? "", /standalone/);
      assert.notEqual(pod("shop", "lonely"), undefined);
    });

    it("spares a StatefulSet pod with ignore_statefulsets, and applies min_healthy_replicas to StatefulSets", async () => {
      world("shop", "node-t4");
      const db = kubeApi.addStatefulSet("shop", "db", { replicas: 3, readyReplicas: 3, node: "node-t4" });
      const first = db.pods[0]!.metadata.name as string;
      const spared = await act("Terminate unless StatefulSet", { "k8s.ns.name": "shop", "k8s.pod.name": first });
      assert.equal(spared.status, "ignored");
      assert.match(spared.output ?? "", /it belongs to the StatefulSet 'db'/);
      assert.notEqual(pod("shop", first), undefined);

      const cache = kubeApi.addStatefulSet("shop", "cache", { replicas: 3, readyReplicas: 2, node: "node-t4" });
      const readyPod = cache.pods.find((p) => isReady(p))!.metadata.name as string;
      const kept = await act("Terminate keeping 2", { "k8s.ns.name": "shop", "k8s.pod.name": readyPod });
      assert.equal(kept.status, "ignored", kept.error);
      assert.notEqual(pod("shop", readyPod), undefined);
    });

    it("min_healthy_replicas 2: ignored when terminating would leave 1 ready replica, done when it leaves 2", async () => {
      world("shop", "node-t3");
      const short = kubeApi.addDeployment("shop", "short", { replicas: 3, readyReplicas: 2, node: "node-t3" });
      const readyPod = short.pods.find((p) => isReady(p))!.metadata.name as string;
      const body = await act("Terminate keeping 2", { "k8s.ns.name": "shop", "k8s.pod.name": readyPod });
      assert.equal(body.status, "ignored", body.error);
      assert.match(
        body.output ?? "",
        /has 2 ready of 3 desired replicas: removing the pod would leave 1, fewer than min_healthy_replicas 2/,
      );
      assert.notEqual(pod("shop", readyPod), undefined);

      const full = kubeApi.addDeployment("shop", "full", { replicas: 3, readyReplicas: 3, node: "node-t3" });
      const target = full.pods[0]!.metadata.name as string;
      const done = await act("Terminate keeping 2", { "k8s.ns.name": "shop", "k8s.pod.name": target });
      assert.equal(done.status, "success", done.error);
      assert.equal(pod("shop", target), undefined);
    });

    it('min_healthy_replicas "50%" is a share of the desired replicas, rounded up', async () => {
      world("shop", "node-t3");
      // 4 desired → 2 must stay ready; 2 ready now: terminating a ready pod would leave 1.
      const half = kubeApi.addDeployment("shop", "half", { replicas: 4, readyReplicas: 2, node: "node-t3" });
      const readyPod = half.pods.find((p) => isReady(p))!.metadata.name as string;
      const body = await act("Terminate keeping half", { "k8s.ns.name": "shop", "k8s.pod.name": readyPod });
      assert.equal(body.status, "ignored", body.error);
      assert.match(body.output ?? "", /min_healthy_replicas 50% \(2\)/);
      assert.notEqual(pod("shop", readyPod), undefined);

      // 4 desired, 3 ready: 2 stay after terminating one.
      const ok = kubeApi.addDeployment("shop", "ok", { replicas: 4, readyReplicas: 3, node: "node-t3" });
      const target = ok.pods.find((p) => isReady(p))!.metadata.name as string;
      const done = await act("Terminate keeping half", { "k8s.ns.name": "shop", "k8s.pod.name": target });
      assert.equal(done.status, "success", done.error);
      assert.equal(pod("shop", target), undefined);
    });
  });

  describe("kubernetes:label and kubernetes:annotation", () => {
    it("sets, converts and removes labels in ONE merge patch", async () => {
      world("lab", "node-l1");
      kubeApi.addPod("lab", "marked", { node: "node-l1", labels: { app: "web", stale: "yes", gone: "too" } });
      const before = kubeApi.requests.length;
      const body = await act("Label", { "k8s.ns.name": "lab", "k8s.pod.name": "marked", "proc.name": "bash" });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, "the pod 'marked' in the namespace 'lab' has been labeled");
      const patches = kubeApi.requests.slice(before).filter((r) => r.method === "PATCH");
      assert.equal(patches.length, 1);
      assert.equal(patches[0]!.contentType, "application/merge-patch+json");
      assert.deepEqual(patches[0]!.body, {
        metadata: { labels: { suspicious: "true", strikes: "3", rule: "bash", stale: null, gone: null } },
      });
      assert.deepEqual(pod("lab", "marked")?.metadata.labels, { app: "web", suspicious: "true", strikes: "3", rule: "bash" });
    });

    it("retries a 409 Conflict and then succeeds", async () => {
      world("lab", "node-l1");
      kubeApi.addPod("lab", "contested", { node: "node-l1" });
      kubeApi.failNext({
        method: "PATCH",
        path: /\/pods\/contested$/,
        status: 409,
        reason: "Conflict",
        message: "the object has been modified",
        times: 1,
      });
      const body = await act("Label", { "k8s.ns.name": "lab", "k8s.pod.name": "contested", "proc.name": "sh" });
      assert.equal(body.status, "success", body.error);
      assert.equal(requestsTo("PATCH", /\/pods\/contested$/).length, 2);
      assert.equal(pod("lab", "contested")?.metadata.labels?.suspicious, "true");
    });

    it("annotates the pod's node with level: node", async () => {
      world("lab", "node-l2");
      kubeApi.addPod("lab", "on-l2", { node: "node-l2" });
      const body = await act("Annotate node", { "k8s.ns.name": "lab", "k8s.pod.name": "on-l2" });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, "the node 'node-l2' has been annotated");
      assert.deepEqual(body.objects, { Pod: "on-l2", Namespace: "lab", Node: "node-l2" });
      assert.equal(node("node-l2")?.metadata.annotations?.["kestrel.dev/alert"], "Annotate node");
      assert.equal(requestsTo("PATCH", /\/pods\/on-l2$/).length, 0);
    });
  });

  describe("kubernetes:cordon", () => {
    it("marks the pod's node unschedulable with a strategic merge patch", async () => {
      world("ops", "node-c1");
      kubeApi.addPod("ops", "p-c1", { node: "node-c1" });
      const body = await act("Cordon", { "k8s.ns.name": "ops", "k8s.pod.name": "p-c1" });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, "the node 'node-c1' has been cordoned");
      assert.equal(node("node-c1")?.spec?.unschedulable, true);
      const [patch] = requestsTo("PATCH", /\/nodes\/node-c1$/);
      assert.equal(patch?.contentType, "application/strategic-merge-patch+json");
      assert.deepEqual(patch?.body, { spec: { unschedulable: true } });
    });
  });

  describe("kubernetes:drain", () => {
    it("cordons, evicts the pods, skips DaemonSet pods and Kestrel's own pod", async () => {
      world("ops", "node-d1", "node-other");
      world("kestrel");
      const web = kubeApi.addDeployment("ops", "api", { replicas: 2, node: "node-d1" });
      const ds = kubeApi.addDaemonSet("ops", "logs", { nodes: ["node-d1", "node-other"] });
      kubeApi.addPod("kestrel", "kestrel-0", { node: "node-d1" });
      kubeApi.addPod("ops", "elsewhere", { node: "node-other" });
      const trigger = web.pods[0]!.metadata.name as string;

      const body = await act("Drain", { "k8s.ns.name": "ops", "k8s.pod.name": trigger });
      assert.equal(body.status, "success", body.error);
      assert.equal(
        body.output,
        "the node 'node-d1' has been drained, errors are ignored: 2 ignored pods, 0 eviction errors, 0 other errors",
      );
      assert.equal(node("node-d1")?.spec?.unschedulable, true);
      for (const p of web.pods) assert.equal(pod("ops", p.metadata.name as string), undefined);
      for (const p of ds.pods) assert.notEqual(pod("ops", p.metadata.name as string), undefined);
      assert.notEqual(pod("kestrel", "kestrel-0"), undefined);
      assert.notEqual(pod("ops", "elsewhere"), undefined);
      const evictions = requestsTo("POST", /\/pods\/[^/]+\/eviction$/);
      assert.deepEqual(evictions.map((r) => r.path.split("/")[6]).sort(), web.pods.map((p) => p.metadata.name).sort());
      // Cordoned before the first eviction.
      const cordonAt = kubeApi.requests.findIndex((r) => r.method === "PATCH" && /\/nodes\/node-d1$/.test(r.path));
      const firstEviction = kubeApi.requests.findIndex((r) => r.method === "POST" && /\/eviction$/.test(r.path));
      assert.ok(cordonAt !== -1 && cordonAt < firstEviction);
    });

    it("never evicts Kestrel's own pod named by POD_NAMESPACE/POD_NAME", async () => {
      world("ops", "node-d2");
      world("kestrel");
      kubeApi.addPod("ops", "trigger-d2", { node: "node-d2" });
      kubeApi.addPod("kestrel", "kestrel-self", { node: "node-d2" });
      process.env["POD_NAME"] = "kestrel-self";
      process.env["POD_NAMESPACE"] = "kestrel";
      try {
        const body = await act("Drain waiting", { "k8s.ns.name": "ops", "k8s.pod.name": "trigger-d2" });
        assert.equal(body.status, "success", body.error);
        assert.match(body.output ?? "", /1 ignored pods, 0 eviction errors/);
      } finally {
        delete process.env["POD_NAME"];
        delete process.env["POD_NAMESPACE"];
      }
      assert.equal(pod("ops", "trigger-d2"), undefined);
      assert.notEqual(pod("kestrel", "kestrel-self"), undefined);
    });

    it("counts an eviction refused by a PodDisruptionBudget (429) as an eviction error", async () => {
      world("ops", "node-d3");
      kubeApi.addPod("ops", "free-d3", { node: "node-d3" });
      kubeApi.addPod("ops", "protected-d3", { node: "node-d3" });
      kubeApi.blockEviction("ops", "protected-d3");
      const body = await act("Drain", { "k8s.ns.name": "ops", "k8s.pod.name": "free-d3" });
      assert.equal(body.status, "failure");
      assert.match(
        body.error ?? "",
        /the node 'node-d3' has not been fully drained: 0 pods ignored, 1 eviction errors, 0 were not evicted during max_wait_period, 0 other errors/,
      );
      assert.match(body.error ?? "", /disruption budget/);
      assert.equal(pod("ops", "free-d3"), undefined);
      assert.notEqual(pod("ops", "protected-d3"), undefined);
      kubeApi.unblockEviction("ops", "protected-d3");
    });

    it("retries a refused eviction until max_wait_period, and succeeds once the budget allows it", async () => {
      world("ops", "node-d4");
      kubeApi.addPod("ops", "trigger-d4", { node: "node-d4" });
      kubeApi.addPod("ops", "protected-d4", { node: "node-d4" });
      kubeApi.blockEviction("ops", "protected-d4");
      const before = receiver.requests.length;
      await kestrel.post(falcoEvent({ rule: "Drain waiting", fields: { "k8s.ns.name": "ops", "k8s.pod.name": "trigger-d4" } }));
      await until(() => requestsTo("POST", /\/pods\/protected-d4\/eviction$/).length >= 2, "a retried eviction", 5000);
      kubeApi.unblockEviction("ops", "protected-d4");
      await receiver.waitFor(before + 1, 10_000);
      const body = bodies()[before]!;
      assert.equal(body.status, "success", body.error);
      assert.equal(
        body.output,
        "the node 'node-d4' has been drained, errors are ignored: 0 ignored pods, 0 eviction errors, 0 other errors",
      );
      assert.equal(pod("ops", "protected-d4"), undefined);
    });
    it("min_healthy_replicas counts the replicas evicted from the node together", async () => {
      world("ops", "node-d5");
      const app = kubeApi.addDeployment("ops", "trio", { replicas: 3, readyReplicas: 3, node: "node-d5" });
      const trigger = app.pods[0]!.metadata.name as string;
      const body = await act("Drain keeping 2", { "k8s.ns.name": "ops", "k8s.pod.name": trigger });
      assert.equal(body.status, "success", body.error);
      assert.match(body.output ?? "", /2 ignored pods, 0 eviction errors, 0 other errors$/);
      const left = app.pods.filter((p) => pod("ops", p.metadata.name as string) !== undefined);
      assert.equal(left.length, 2);
      assert.equal(node("node-d5")?.spec?.unschedulable, undefined); // cordon: false
    });

    it("waits up to max_wait_period for evicted pods to be gone, except in wait_period_excluded_namespaces", async () => {
      world("slow", "node-d6");
      // A pod that stays after its eviction, as one with a long termination grace period does.
      const stuck = kubeApi.addPod("slow", "lingering", { node: "node-d6" });
      let recreate = true;
      const stop = kubeApi.onChange((type, obj) => {
        if (recreate && type === "DELETED" && obj.metadata.name === "lingering") {
          const { resourceVersion: _rv, deletionTimestamp: _dt, deletionGracePeriodSeconds: _g, ...metadata } = obj.metadata;
          kubeApi.create({ ...obj, metadata: { ...metadata, uid: stuck.metadata.uid } });
        }
      });
      try {
        const started = Date.now();
        const waited = await act("Drain briefly", { "k8s.ns.name": "slow", "k8s.pod.name": "lingering" });
        assert.equal(waited.status, "failure");
        assert.match(waited.error ?? "", /0 eviction errors, 1 were not evicted during max_wait_period, 0 other errors/);
        assert.match(waited.error ?? "", /the pod 'lingering' in the namespace 'slow' was still there after max_wait_period \(1 s\)/);
        assert.ok(Date.now() - started >= 900, "it waited for max_wait_period");

        const excluded = await act("Drain briefly, not waiting for slow", { "k8s.ns.name": "slow", "k8s.pod.name": "lingering" });
        assert.equal(excluded.status, "success", excluded.error);
        assert.notEqual(pod("slow", "lingering"), undefined);
      } finally {
        recreate = false;
        stop();
      }
    });
  });

  describe("kubernetes:delete", () => {
    it("deletes the configmap the audit event targets", async () => {
      world("cfg");
      kubeApi.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "leaked", namespace: "cfg" }, data: { k: "v" } });
      const body = await act("Delete", { "ka.target.resource": "configmaps", "ka.target.name": "leaked", "ka.target.namespace": "cfg" });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, "the configmap 'leaked' in the namespace 'cfg' has been deleted");
      assert.deepEqual(body.objects, { Resource: "configmaps", Name: "leaked", Namespace: "cfg" });
      assert.equal(kubeApi.get("v1", "ConfigMap", "cfg", "leaked"), undefined);
    });

    it("deletes a cluster-scoped namespace without ka.target.namespace", async () => {
      world("doomed");
      const body = await act("Delete", { "ka.target.resource": "namespaces", "ka.target.name": "doomed" });
      assert.equal(body.status, "success", body.error);
      assert.equal(body.output, "the namespace 'doomed' has been deleted");
      assert.equal(kubeApi.get("v1", "Namespace", undefined, "doomed"), undefined);
    });

    it("deletes a Role and a ClusterRole (rbac.authorization.k8s.io)", async () => {
      world("rbac");
      kubeApi.create({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "too-much", namespace: "rbac" },
        rules: [],
      });
      kubeApi.create({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "wildcard" }, rules: [] });
      const role = await act("Delete", { "ka.target.resource": "roles", "ka.target.name": "too-much", "ka.target.namespace": "rbac" });
      assert.equal(role.status, "success", role.error);
      assert.equal(kubeApi.get("rbac.authorization.k8s.io/v1", "Role", "rbac", "too-much"), undefined);
      const cluster = await act("Delete", { "ka.target.resource": "clusterroles", "ka.target.name": "wildcard" });
      assert.equal(cluster.status, "success", cluster.error);
      assert.equal(cluster.output, "the clusterrole 'wildcard' has been deleted");
      assert.equal(kubeApi.get("rbac.authorization.k8s.io/v1", "ClusterRole", undefined, "wildcard"), undefined);
    });

    it("fails before any call for an unsupported resource, and on a gone target without deleting", async () => {
      world("cfg");
      const before = kubeApi.requests.length;
      const pods = await act("Delete", { "ka.target.resource": "pods", "ka.target.name": "x", "ka.target.namespace": "cfg" });
      assert.equal(pods.status, "failure");
      assert.match(
        pods.error ?? "",
        /kubernetes:delete does not support the resource 'pods' \(use kubernetes:terminate for pods\); supported: namespaces, configmaps/,
      );
      assert.equal(kubeApi.requests.length, before);

      const gone = await act("Delete", { "ka.target.resource": "secrets", "ka.target.name": "nope", "ka.target.namespace": "cfg" });
      assert.equal(gone.status, "failure");
      assert.match(gone.error ?? "", /cannot read the secret 'nope' in the namespace 'cfg': not found/);
      assert.equal(requestsTo("DELETE", /\/secrets\/nope$/).length, 0);
    });
  });
});

describe("Kubernetes actionners: a hanging API", () => {
  it("fails the action at action_timeout_seconds", async () => {
    const kubeApi = await startKubeApi();
    const receiver = await startReceiver();
    const kestrel = await startKestrel({
      rules: `
- rule: Terminate
  match: { rules: [Terminate] }
  actions:
    - action: Terminate the pod
      actionner: kubernetes:terminate
`,
      config: `action_timeout_seconds: 1\nshutdown_timeout_seconds: 1\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
      clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
    });
    try {
      kubeApi.addNode("node-h");
      kubeApi.addPod("default", "stuck", { node: "node-h" });
      kubeApi.hangNext({ method: "DELETE", path: /\/pods\/stuck$/ });
      const started = Date.now();
      await kestrel.post(falcoEvent({ rule: "Terminate", fields: { "k8s.ns.name": "default", "k8s.pod.name": "stuck" } }));
      const [req] = await receiver.waitFor(1, 5000);
      const body = JSON.parse(req!.body) as Body;
      assert.equal(body.status, "failure");
      assert.match(body.error ?? "", /the action did not finish within 1 s/);
      assert.ok(Date.now() - started < 3000);
    } finally {
      await kestrel.close();
      await receiver.close();
      await kubeApi.close();
    }
  });
});

// biome-ignore lint/suspicious/noExplicitAny: API objects are plain JSON here.
function isReady(pod: Record<string, any>): boolean {
  const ready = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
  return ready === undefined || ready.status === "True";
}
