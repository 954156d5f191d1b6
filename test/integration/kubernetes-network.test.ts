// The network policy actionners through the running server against the Kubernetes API test server:
// a Falco event posted to Kestrel → kubernetes:networkpolicy, calico:networkpolicy or cilium:networkpolicy
// → the objects the API server stores (names, selectors, egress rules, denied IPs), the update path
// (resourceVersion carried, denies accumulated without duplicates, a 409 conflict retried from a fresh
// read) and the failures that must stop before any change (pod gone, no remote IP, forbidden). Calico's
// policy goes through projectcalico.org/v3 when Calico's API server is there, else through its CRD.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, type KubeObject, startKubeApi } from "../support/kube-api/index.ts";
import { loggedError } from "../support/logs.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Isolate
  match: { rules: [Isolate workload] }
  actions:
    - action: Block egress
      actionner: kubernetes:networkpolicy
      parameters:
        allow_cidr: ["192.168.1.0/24", "2001:db8:1::/48"]
        allow_namespaces: [green-ns, blue-ns]

- rule: Isolate fully
  match: { rules: [Isolate fully] }
  actions:
    - action: Block all egress
      actionner: kubernetes:networkpolicy

- rule: Deny remote
  match: { rules: [Deny remote IP] }
  actions:
    - action: Deny the remote IP
      actionner: kubernetes:networkpolicy
      parameters: { deny_remote_ip: true }

- rule: Deny remote within allowed
  match: { rules: [Deny remote IP within allowed] }
  actions:
    - action: Deny the remote IP, allow a subnet
      actionner: kubernetes:networkpolicy
      parameters: { deny_remote_ip: true, allow_cidr: ["10.0.0.0/8"] }

- rule: Calico
  match: { rules: [Calico deny] }
  actions:
    - action: Calico deny
      actionner: calico:networkpolicy
      parameters:
        order: 20
        allow_cidr: ["192.168.1.0/24"]
        allow_namespaces: [green-ns]

- rule: Calico open
  match: { rules: [Calico deny open] }
  actions:
    - action: Calico deny, everything else open
      actionner: calico:networkpolicy

- rule: Cilium
  match: { rules: [Cilium deny] }
  actions:
    - action: Cilium deny
      actionner: cilium:networkpolicy

- rule: Cilium with allow lists
  match: { rules: [Cilium deny with allow lists] }
  actions:
    - action: Cilium deny, allow lists
      actionner: cilium:networkpolicy
      parameters:
        allow_cidr: ["192.168.1.0/24"]
        allow_namespaces: [green-ns]
`;

type LogEntry = Record<string, unknown>;

describe("network policy actionners against the Kubernetes API", () => {
  let kube: KubeApiServer;
  let kestrel: RunningKestrel;
  /** The pods of the "web" Deployment in "prod" and their ReplicaSet. */
  let webPod: string;
  let webRs: string;

  before(async () => {
    kube = await startKubeApi();
    kube.addNamespace("prod");
    const web = kube.addDeployment("prod", "web", { labels: { app: "web", tier: "front" } });
    webPod = web.pods[0]!.metadata.name!;
    webRs = web.replicaSet.metadata.name!;
    kestrel = await startKestrel({ rules: RULES, clients: createClients({ kubernetes: createKubeClient(kube.kubeConfig()) }) });
  });
  after(async () => {
    await kestrel?.close();
    await kube?.close();
  });

  /** Posts an event for the pod and resolves to the action's result log line. */
  async function fire(rule: string, fields: Record<string, unknown>): Promise<LogEntry> {
    const res = await kestrel.post(falcoEvent({ rule, fields: { "k8s.ns.name": "prod", "k8s.pod.name": webPod, ...fields } }));
    assert.equal(res.status, 200);
    const { trace_id } = (await res.json()) as { trace_id: string };
    const isResult = (l: LogEntry) => l["trace_id"] === trace_id && /^action (success|failed)$/.test(String(l["msg"]));
    await until(() => kestrel.logs.some(isResult), `the result of "${rule}"`, 8000);
    return kestrel.logs.find(isResult)!;
  }

  const ok = (entry: LogEntry): void => assert.equal(entry["msg"], "action success", loggedError(entry));
  const requestsSince = (mark: number, path: RegExp) => kube.requests.slice(mark).filter((r) => path.test(r.path));
  const netpol = (namespace: string, name: string) => kube.get("networking.k8s.io/v1", "NetworkPolicy", namespace, name);

  describe("kubernetes:networkpolicy", () => {
    it("creates an Egress policy named after the ReplicaSet, selecting its pods, with the allow lists and the real namespace label", async () => {
      const entry = await fire("Isolate workload", {});
      ok(entry);
      assert.equal(entry["output"], `the networkpolicy '${webRs}' in the namespace 'prod' has been created`);
      const policy = netpol("prod", webRs)!;
      assert.ok(policy, "the policy exists");
      assert.equal(policy.metadata.labels["app.kubernetes.io/managed-by"], "kestrel");
      // The ReplicaSet's selector without pod-template-hash: every replica, of every revision.
      assert.deepEqual(policy.spec.podSelector, { matchLabels: { app: "web", tier: "front" } });
      assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
      assert.deepEqual(policy.spec.egress, [
        {
          to: [
            { ipBlock: { cidr: "192.168.1.0/24" } },
            { ipBlock: { cidr: "2001:db8:1::/48" } },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "green-ns" } } },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "blue-ns" } } },
          ],
        },
      ]);
    });

    it("blocks all egress of a DaemonSet's pods without the per-revision labels, and names a standalone pod's policy after it", async () => {
      kube.addNamespace("infra");
      const agent = kube.addDaemonSet("infra", "agent", { nodes: ["node-1"], labels: { app: "agent" } });
      ok(await fire("Isolate fully", { "k8s.ns.name": "infra", "k8s.pod.name": agent.pods[0]!.metadata.name }));
      const ds = netpol("infra", "agent")!;
      assert.deepEqual(ds.spec.podSelector, { matchLabels: { app: "agent" } });
      assert.deepEqual(ds.spec.egress ?? [], [], "no egress rule: all egress denied");

      kube.addPod("infra", "debug", { labels: { run: "debug" } });
      const entry = await fire("Isolate fully", { "k8s.ns.name": "infra", "k8s.pod.name": "debug" });
      ok(entry);
      assert.deepEqual(netpol("infra", "debug")!.spec.podSelector, { matchLabels: { run: "debug" } });
    });

    it("refuses a pod without labels: an empty selector would isolate the whole namespace", async () => {
      kube.addPod("infra", "bare", { labels: {} });
      const mark = kube.requests.length;
      const entry = await fire("Isolate fully", { "k8s.ns.name": "infra", "k8s.pod.name": "bare" });
      assert.equal(entry["code"], "ERR_PREFLIGHT");
      assert.match(loggedError(entry), /no labels to select it by/);
      assert.equal(requestsSince(mark, /networkpolicies/).length, 0);
    });

    it("denies only the remote IP, as an except of 0.0.0.0/0 (/32) or ::/0 (/128), accumulating without duplicates", async () => {
      kube.addNamespace("shop");
      const cart = kube.addDeployment("shop", "cart");
      const pod = cart.pods[0]!.metadata.name;
      const name = cart.replicaSet.metadata.name!;
      const at = { "k8s.ns.name": "shop", "k8s.pod.name": pod };

      let entry = await fire("Deny remote IP", { ...at, "fd.rip": "203.0.113.7", "fd.sip": "10.0.0.1" });
      ok(entry);
      assert.deepEqual(entry["objects"], { networkpolicy: name, namespace: "shop", pod, ip: "203.0.113.7" });
      assert.deepEqual(netpol("shop", name)!.spec.egress, [
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["203.0.113.7/32"] } }, { ipBlock: { cidr: "::/0" } }] },
      ]);

      const mark = kube.requests.length;
      const before = netpol("shop", name)!.metadata.resourceVersion;
      entry = await fire("Deny remote IP", { ...at, "fd.sip": "2001:DB8::0007" }); // no fd.rip: fd.sip
      ok(entry);
      assert.match(String(entry["output"]), /has been updated$/);
      entry = await fire("Deny remote IP", { ...at, "fd.rip": "203.0.113.7" }); // the same IP again
      ok(entry);
      entry = await fire("Deny remote IP", { ...at, "fd.rip": "::ffff:198.51.100.1" }); // IPv4-mapped
      ok(entry);
      assert.deepEqual(netpol("shop", name)!.spec.egress, [
        {
          to: [
            { ipBlock: { cidr: "0.0.0.0/0", except: ["203.0.113.7/32", "198.51.100.1/32"] } },
            { ipBlock: { cidr: "::/0", except: ["2001:db8::7/128"] } },
          ],
        },
      ]);
      // The update carried the resourceVersion it read: a replace, not a blind overwrite.
      const put = requestsSince(mark, /\/networkpolicies\//).find((r) => r.method === "PUT");
      assert.equal((put!.body as KubeObject).metadata.resourceVersion, before);
    });

    it("keeps a denied IP denied inside an allowed CIDR", async () => {
      kube.addNamespace("batch");
      const worker = kube.addDeployment("batch", "worker");
      const name = worker.replicaSet.metadata.name!;
      ok(
        await fire("Deny remote IP within allowed", {
          "k8s.ns.name": "batch",
          "k8s.pod.name": worker.pods[0]!.metadata.name,
          "fd.rip": "10.9.8.7",
        }),
      );
      assert.deepEqual(netpol("batch", name)!.spec.egress, [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.9.8.7/32"] } }] }]);
    });

    it("replaces an existing policy with its resourceVersion, and retries a 409 conflict from a fresh read", async () => {
      // Someone else changed the policy since Kestrel created it.
      const current = netpol("prod", webRs)!;
      kube.update({
        ...current,
        metadata: { ...current.metadata, labels: { ...current.metadata.labels, team: "web" } },
        spec: { podSelector: {}, policyTypes: ["Ingress"] },
      });
      const rv = netpol("prod", webRs)!.metadata.resourceVersion;
      kube.failNext({
        method: "PUT",
        path: new RegExp(`/networkpolicies/${webRs}$`),
        status: 409,
        reason: "Conflict",
        message: "the object has been modified",
      });
      const mark = kube.requests.length;
      const entry = await fire("Isolate workload", {});
      ok(entry);
      assert.equal(entry["output"], `the networkpolicy '${webRs}' in the namespace 'prod' has been updated`);
      const calls = requestsSince(mark, /\/networkpolicies\//).map((r) => `${r.method} ${r.status}`);
      assert.deepEqual(calls, ["GET 200", "PUT 409", "GET 200", "PUT 200"], "the whole read-modify-write ran again");
      const puts = requestsSince(mark, /\/networkpolicies\//).filter((r) => r.method === "PUT");
      for (const put of puts) assert.equal((put.body as KubeObject).metadata.resourceVersion, rv);
      const policy = netpol("prod", webRs)!;
      assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
      assert.deepEqual(policy.spec.podSelector, { matchLabels: { app: "web", tier: "front" } });
      assert.equal(policy.metadata.labels.team, "web", "labels others set are kept");
    });

    it("fails before any change when the pod is gone, when the event has no remote IP, or when Kestrel may not write policies", async () => {
      let mark = kube.requests.length;
      let entry = await fire("Isolate workload", { "k8s.pod.name": "gone-123" });
      assert.equal(entry["code"], "ERR_TARGET_GONE");
      assert.match(loggedError(entry), /read the pod 'gone-123' in the namespace 'prod': not found/);
      assert.equal(requestsSince(mark, /networkpolicies/).length, 0);

      mark = kube.requests.length;
      entry = await fire("Deny remote IP", { "fd.name": "/etc/shadow" });
      assert.equal(entry["code"], "ERR_PREFLIGHT");
      assert.match(loggedError(entry), /no remote IP to deny \(fd\.rip, fd\.sip are missing\)/);
      assert.equal(kube.requests.length, mark, "no API call at all");

      entry = await fire("Deny remote IP", { "fd.rip": "999.1.1.1" });
      assert.equal(entry["code"], "ERR_PREFLIGHT");
      assert.match(loggedError(entry), /fd\.rip '999\.1\.1\.1' is not a valid IP address/);

      kube.failNext({
        method: "PUT",
        path: /\/networkpolicies\//,
        status: 403,
        reason: "Forbidden",
        message: "networkpolicies is forbidden",
      });
      mark = kube.requests.length;
      entry = await fire("Isolate workload", {});
      assert.equal(entry["code"], "ERR_FORBIDDEN");
      assert.match(loggedError(entry), /networkpolicies is forbidden .*RBAC/);
      assert.equal(requestsSince(mark, /\/networkpolicies\//).filter((r) => r.method === "PUT").length, 1, "a 403 is not retried");
    });
  });

  describe("calico:networkpolicy without Calico's API server (crd.projectcalico.org/v1)", () => {
    const calico = (namespace: string, name: string) => kube.get("crd.projectcalico.org/v1", "NetworkPolicy", namespace, name);

    it("creates the crd.projectcalico.org/v1 policy of the default tier: Deny the remote IP first, then the allow lists", async () => {
      const mark = kube.requests.length;
      const entry = await fire("Calico deny", { "fd.rip": "203.0.113.50" });
      ok(entry);
      // Discovery found no projectcalico.org/v3, so nothing was sent to it.
      assert.deepEqual(
        requestsSince(mark, /projectcalico\.org/).map((r) => `${r.method} ${r.path} ${r.status}`),
        [
          "GET /apis/projectcalico.org/v3 404",
          `GET /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies/default.${webRs} 404`,
          "POST /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies 201",
        ],
      );
      assert.deepEqual(entry["objects"], { networkpolicy: `default.${webRs}`, namespace: "prod", pod: webPod, ip: "203.0.113.50" });
      assert.equal(entry["output"], `the caliconetworkpolicy '${webRs}' in the namespace 'prod' has been created`);
      const policy = calico("prod", `default.${webRs}`)!;
      assert.ok(policy, "stored under the default tier's name");
      assert.equal(policy.metadata.labels["app.kubernetes.io/managed-by"], "kestrel");
      assert.deepEqual(policy.spec, {
        order: 20,
        selector: "app == 'web' && tier == 'front'",
        types: ["Egress"],
        egress: [
          { action: "Deny", destination: { nets: ["203.0.113.50/32"] } },
          { action: "Allow", destination: { nets: ["192.168.1.0/24"] } },
          { action: "Allow", destination: { namespaceSelector: "kubernetes.io/metadata.name in { 'green-ns' }" } },
        ],
      });
    });

    it("accumulates denied IPs on update without duplicates, IPv6 as /128 in its own rule, with the resourceVersion read", async () => {
      const name = `default.${webRs}`;
      const rv = calico("prod", name)!.metadata.resourceVersion;
      const mark = kube.requests.length;
      const entry = await fire("Calico deny", { "fd.rip": "2001:db8::50" });
      ok(entry);
      assert.match(String(entry["output"]), /has been updated$/);
      const put = requestsSince(mark, /\/networkpolicies\//).find((r) => r.method === "PUT");
      assert.equal((put!.body as KubeObject).metadata.resourceVersion, rv);
      assert.equal(requestsSince(mark, /^\/apis\/projectcalico\.org/).length, 0, "the discovery answer is cached");
      ok(await fire("Calico deny", { "fd.rip": "203.0.113.50" }));
      ok(await fire("Calico deny", { "fd.rip": "203.0.113.51" }));
      assert.deepEqual(calico("prod", name)!.spec.egress.slice(0, 2), [
        { action: "Deny", destination: { nets: ["203.0.113.50/32", "203.0.113.51/32"] } },
        { action: "Deny", destination: { nets: ["2001:db8::50/128"] } },
      ]);
    });

    it("allows everything else when neither allow list is set, and retries a conflict", async () => {
      kube.addNamespace("calico-open");
      const api = kube.addDeployment("calico-open", "api");
      const name = `default.${api.replicaSet.metadata.name}`;
      const at = { "k8s.ns.name": "calico-open", "k8s.pod.name": api.pods[0]!.metadata.name };
      ok(await fire("Calico deny open", { ...at, "fd.sip": "198.51.100.9" }));
      kube.failNext({ method: "PUT", path: /\/networkpolicies\//, status: 409, reason: "Conflict" });
      ok(await fire("Calico deny open", { ...at, "fd.sip": "198.51.100.10" }));
      assert.deepEqual(calico("calico-open", name)!.spec.egress, [
        { action: "Deny", destination: { nets: ["198.51.100.9/32", "198.51.100.10/32"] } },
        { action: "Allow" },
      ]);
      assert.equal(calico("calico-open", name)!.spec.order, undefined, "no order unless asked");
    });

    it("fails in preflight, with no API call, when the event has no remote IP", async () => {
      const mark = kube.requests.length;
      const entry = await fire("Calico deny", {});
      assert.equal(entry["code"], "ERR_PREFLIGHT");
      assert.match(loggedError(entry), /no remote IP/);
      assert.equal(kube.requests.length, mark);
    });
  });

  describe("cilium:networkpolicy", () => {
    const cilium = (namespace: string, name: string) => kube.get("cilium.io/v2", "CiliumNetworkPolicy", namespace, name);

    it("creates a CiliumNetworkPolicy named after the owner: egressDeny to the remote IP, everything else allowed", async () => {
      const entry = await fire("Cilium deny", { "fd.rip": "203.0.113.60" });
      ok(entry);
      assert.equal(entry["output"], `the ciliumnetworkpolicy '${webRs}' in the namespace 'prod' has been created`);
      const policy = cilium("prod", webRs)!;
      assert.equal(policy.metadata.labels["app.kubernetes.io/managed-by"], "kestrel");
      assert.deepEqual(policy.spec.endpointSelector, { matchLabels: { app: "web", tier: "front" } });
      assert.deepEqual(policy.spec.egressDeny, [{ toCIDR: ["203.0.113.60/32"] }]);
      assert.deepEqual(policy.spec.egress, [{ toEntities: ["all"] }]);
    });

    it("merges denied IPs into one egressDeny rule without duplicates, carrying the resourceVersion", async () => {
      const rv = cilium("prod", webRs)!.metadata.resourceVersion;
      const mark = kube.requests.length;
      ok(await fire("Cilium deny", { "fd.rip": "203.0.113.60" }));
      const put = requestsSince(mark, /\/ciliumnetworkpolicies\//).find((r) => r.method === "PUT");
      assert.equal((put!.body as KubeObject).metadata.resourceVersion, rv);
      ok(await fire("Cilium deny", { "fd.rip": "2001:db8::60" }));
      ok(await fire("Cilium deny", { "fd.rip": "203.0.113.60" }));
      const policy = cilium("prod", webRs)!;
      assert.deepEqual(policy.spec.egressDeny, [{ toCIDR: ["203.0.113.60/32", "2001:db8::60/128"] }]);
      assert.deepEqual(policy.spec.egress, [{ toEntities: ["all"] }], "allow rules are rebuilt, not appended");
    });

    it("allows the listed CIDRs and namespaces (by the endpoints' namespace label)", async () => {
      kube.addNamespace("cilium-lists");
      const db = kube.addStatefulSet("cilium-lists", "db", { replicas: 1 });
      ok(
        await fire("Cilium deny with allow lists", {
          "k8s.ns.name": "cilium-lists",
          "k8s.pod.name": db.pods[0]!.metadata.name,
          "fd.rip": "203.0.113.61",
        }),
      );
      const policy = cilium("cilium-lists", "db")!;
      assert.deepEqual(policy.spec.endpointSelector, { matchLabels: { app: "db" } });
      assert.deepEqual(policy.spec.egress, [
        { toCIDR: ["192.168.1.0/24"] },
        { toEndpoints: [{ matchExpressions: [{ key: "k8s:io.kubernetes.pod.namespace", operator: "In", values: ["green-ns"] }] }] },
      ]);
    });

    it("fails before any change when the pod is gone or the API refuses", async () => {
      let mark = kube.requests.length;
      let entry = await fire("Cilium deny", { "k8s.pod.name": "gone-456", "fd.rip": "203.0.113.62" });
      assert.equal(entry["code"], "ERR_TARGET_GONE");
      assert.equal(requestsSince(mark, /ciliumnetworkpolicies/).length, 0);

      kube.failNext({
        method: "GET",
        path: /\/ciliumnetworkpolicies\//,
        status: 403,
        reason: "Forbidden",
        message: "ciliumnetworkpolicies.cilium.io is forbidden",
      });
      mark = kube.requests.length;
      entry = await fire("Cilium deny", { "fd.rip": "203.0.113.63" });
      assert.equal(entry["code"], "ERR_FORBIDDEN");
      assert.equal(requestsSince(mark, /ciliumnetworkpolicies/).length, 1, "nothing written, nothing retried");
      assert.deepEqual(cilium("prod", webRs)!.spec.egressDeny, [{ toCIDR: ["203.0.113.60/32", "2001:db8::60/128"] }]);
    });
  });
});

describe("calico:networkpolicy with Calico's API server (projectcalico.org/v3)", () => {
  let kube: KubeApiServer;
  let kestrel: RunningKestrel;
  let webPod: string;
  let webRs: string;

  before(async () => {
    kube = await startKubeApi({ calicoApiServer: true });
    kube.addNamespace("prod");
    const web = kube.addDeployment("prod", "web", { labels: { app: "web", tier: "front" } });
    webPod = web.pods[0]!.metadata.name!;
    webRs = web.replicaSet.metadata.name!;
    kestrel = await startKestrel({ rules: RULES, clients: createClients({ kubernetes: createKubeClient(kube.kubeConfig()) }) });
  });
  after(async () => {
    await kestrel?.close();
    await kube?.close();
  });

  async function fire(fields: Record<string, unknown>): Promise<LogEntry> {
    const res = await kestrel.post(
      falcoEvent({ rule: "Calico deny", fields: { "k8s.ns.name": "prod", "k8s.pod.name": webPod, ...fields } }),
    );
    assert.equal(res.status, 200);
    const { trace_id } = (await res.json()) as { trace_id: string };
    const isResult = (l: LogEntry) => l["trace_id"] === trace_id && /^action (success|failed)$/.test(String(l["msg"]));
    await until(() => kestrel.logs.some(isResult), "the result of the calico action", 8000);
    return kestrel.logs.find(isResult)!;
  }
  const ok = (entry: LogEntry): void => assert.equal(entry["msg"], "action success", loggedError(entry));
  const calicoCalls = (mark: number) =>
    kube.requests
      .slice(mark)
      .filter((r) => /projectcalico\.org/.test(r.path))
      .map((r) => `${r.method} ${r.path} ${r.status}`);
  const v3 = (name: string) => kube.get("projectcalico.org/v3", "NetworkPolicy", "prod", name);

  it("writes projectcalico.org/v3 under the owner's name (Talon's), which the API server puts in the default tier", async () => {
    const mark = kube.requests.length;
    const entry = await fire({ "fd.rip": "203.0.113.50" });
    ok(entry);
    assert.equal(entry["output"], `the caliconetworkpolicy '${webRs}' in the namespace 'prod' has been created`);
    assert.deepEqual(entry["objects"], { networkpolicy: webRs, namespace: "prod", pod: webPod, ip: "203.0.113.50" });
    assert.deepEqual(calicoCalls(mark), [
      "GET /apis/projectcalico.org/v3 200",
      `GET /apis/projectcalico.org/v3/namespaces/prod/networkpolicies/${webRs} 404`,
      "POST /apis/projectcalico.org/v3/namespaces/prod/networkpolicies 201",
    ]);
    const policy = v3(webRs)!;
    assert.equal(policy.metadata.labels["app.kubernetes.io/managed-by"], "kestrel");
    assert.deepEqual(policy.spec, {
      order: 20,
      selector: "app == 'web' && tier == 'front'",
      types: ["Egress"],
      egress: [
        { action: "Deny", destination: { nets: ["203.0.113.50/32"] } },
        { action: "Allow", destination: { nets: ["192.168.1.0/24"] } },
        { action: "Allow", destination: { namespaceSelector: "kubernetes.io/metadata.name in { 'green-ns' }" } },
      ],
      tier: "default",
    });
    assert.equal(kube.list("crd.projectcalico.org/v1", "NetworkPolicy").length, 0, "not the CRD");
  });

  it("updates it with the resourceVersion read, denies accumulated, without discovering again", async () => {
    const rv = v3(webRs)!.metadata.resourceVersion;
    const mark = kube.requests.length;
    const entry = await fire({ "fd.rip": "203.0.113.51" });
    ok(entry);
    assert.match(String(entry["output"]), /has been updated$/);
    assert.deepEqual(calicoCalls(mark), [
      `GET /apis/projectcalico.org/v3/namespaces/prod/networkpolicies/${webRs} 200`,
      `PUT /apis/projectcalico.org/v3/namespaces/prod/networkpolicies/${webRs} 200`,
    ]);
    const put = kube.requests.slice(mark).find((r) => r.method === "PUT")!;
    assert.equal((put.body as KubeObject).metadata.resourceVersion, rv);
    assert.deepEqual(v3(webRs)!.spec.egress[0], { action: "Deny", destination: { nets: ["203.0.113.50/32", "203.0.113.51/32"] } });
    assert.equal(v3(webRs)!.spec.tier, "default");
  });

  it("does not fall back to the CRD when the v3 API refuses (403: Kestrel's RBAC, tiers included)", async () => {
    kube.failNext({ method: "PUT", path: /^\/apis\/projectcalico\.org\/v3\//, status: 403 });
    const mark = kube.requests.length;
    const entry = await fire({ "fd.rip": "203.0.113.52" });
    assert.equal(entry["code"], "ERR_FORBIDDEN");
    assert.match(loggedError(entry), /networkpolicies\.projectcalico\.org .* is forbidden/);
    assert.deepEqual(
      calicoCalls(mark).map((c) => c.split(" ")[0]),
      ["GET", "PUT"],
      "no discovery, no CRD",
    );
  });

  it("after a 404 from v3 (the API server removed), discovers again and writes the CRD under default.<owner>", async () => {
    kube.setCalicoApiServer(false);
    let mark = kube.requests.length;
    const entry = await fire({ "fd.rip": "203.0.113.53" });
    ok(entry);
    assert.equal(entry["output"], `the caliconetworkpolicy '${webRs}' in the namespace 'prod' has been created`);
    assert.deepEqual(entry["objects"], { networkpolicy: `default.${webRs}`, namespace: "prod", pod: webPod, ip: "203.0.113.53" });
    assert.deepEqual(calicoCalls(mark), [
      `GET /apis/projectcalico.org/v3/namespaces/prod/networkpolicies/${webRs} 404`,
      "POST /apis/projectcalico.org/v3/namespaces/prod/networkpolicies 404",
      "GET /apis/projectcalico.org/v3 404",
      `GET /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies/default.${webRs} 404`,
      "POST /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies 201",
    ]);
    assert.deepEqual(kube.get("crd.projectcalico.org/v1", "NetworkPolicy", "prod", `default.${webRs}`)!.spec.egress[0], {
      action: "Deny",
      destination: { nets: ["203.0.113.53/32"] },
    });
    assert.ok(
      kestrel.logs.some((l) =>
        /the Calico API changed since it was discovered: writing through crd\.projectcalico\.org\/v1/.test(String(l["msg"])),
      ),
    );

    // The new answer is cached: the next event goes straight to the CRD.
    mark = kube.requests.length;
    ok(await fire({ "fd.rip": "203.0.113.54" }));
    assert.deepEqual(calicoCalls(mark), [
      `GET /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies/default.${webRs} 200`,
      `PUT /apis/crd.projectcalico.org/v1/namespaces/prod/networkpolicies/default.${webRs} 200`,
    ]);
  });
});
