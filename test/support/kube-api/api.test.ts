// The store's API semantics through the real @kubernetes/client-node 2.x: reads, selectors, paging,
// create/replace/delete with their conflicts and preconditions, custom resources, discovery, auth and
// injected faults. Request shapes are checked against the recordings in the spec where they matter.
import assert from "node:assert/strict";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { type KubeApiServer, startKubeApi } from "./index.ts";

interface Failure {
  code: number;
  status: {
    kind: string;
    status: string;
    reason: string;
    message: string;
    code: number;
    details?: { name?: string; group?: string; kind?: string; causes?: { reason: string; message: string; field?: string }[] };
  };
}

/** The ApiException a call must end with, its body parsed (client-node 2.x keeps the raw text). */
async function failure(call: Promise<unknown>): Promise<Failure> {
  try {
    await call;
  } catch (err) {
    // client-node keeps no body for the codes its OpenAPI spec lists without one (401).
    if (err instanceof k8s.ApiException)
      return { code: err.code, status: typeof err.body === "string" ? JSON.parse(err.body) : undefined } as Failure;
    throw err;
  }
  assert.fail("the call was expected to fail");
}

/** A request without client-node, for what it cannot send (wrong methods, unknown paths). */
function raw(method: string, path: string, body?: string): Promise<{ status: number; body: string; contentType?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}${path}`,
      { method, ca: server.caPem, headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), contentType: res.headers["content-type"] }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let server: KubeApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

before(async () => {
  server = await startKubeApi();
  kc = server.kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  server.addNode("node-1");
  server.addNode("node-2");
  server.addPod("prod", "web-1", { labels: { app: "web", tier: "frontend" }, node: "node-1" });
  server.addPod("prod", "web-2", { labels: { app: "web", tier: "db" }, node: "node-2" });
  server.addPod("prod", "api-1", { labels: { app: "api" }, phase: "Pending" });
  server.addPod("staging", "web-1", { labels: { app: "web" }, node: "node-1" });
});

after(async () => {
  await server.close();
});

describe("reads and lists", () => {
  it("reads a pod as the API returns it, with apiVersion, kind and server-set metadata", async () => {
    const pod = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    assert.equal(pod.kind, "Pod");
    assert.equal(pod.apiVersion, "v1");
    assert.match(pod.metadata!.uid!, /^[0-9a-f-]{36}$/);
    assert.match(pod.metadata!.resourceVersion!, /^\d+$/);
    assert.ok(pod.metadata!.creationTimestamp instanceof Date);
    assert.equal(pod.spec!.nodeName, "node-1");
    assert.match(pod.status!.containerStatuses![0]!.containerID!, /^containerd:\/\/[0-9a-f]{64}$/);
    const req = server.requests.at(-1)!;
    assert.equal(req.path, "/api/v1/namespaces/prod/pods/web-1");
    assert.equal(req.headers.authorization, `Bearer ${server.token}`);
    assert.equal(req.headers["user-agent"], "kubernetes-client-javascript/2.0.1");
  });

  it("answers a missing object with the NotFound Status as ApiException 404", async () => {
    const f = await failure(core.readNamespacedPod({ name: "missing", namespace: "prod" }));
    assert.equal(f.code, 404);
    assert.deepEqual(f.status, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods "missing" not found',
      reason: "NotFound",
      details: { name: "missing", kind: "pods" },
      code: 404,
    });
  });

  it("filters lists by label and field selectors (the recorded drain/engine query)", async () => {
    const list = await core.listNamespacedPod({
      namespace: "prod",
      labelSelector: "app=web,tier!=db",
      fieldSelector: "spec.nodeName=node-1,status.phase=Running",
      limit: 100,
    });
    assert.deepEqual(
      list.items.map((p) => p.metadata!.name),
      ["web-1"],
    );
    assert.equal(list.kind, "PodList");
    assert.match(list.metadata!.resourceVersion!, /^\d+$/);
    const req = server.requests.at(-1)!;
    assert.deepEqual(req.query, {
      labelSelector: "app=web,tier!=db",
      fieldSelector: "spec.nodeName=node-1,status.phase=Running",
      limit: "100",
    });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: "prod", labelSelector, fieldSelector })).items.map((p) => p.metadata!.name).sort();
    assert.deepEqual(await names("app in (web, api)"), ["api-1", "web-1", "web-2"]);
    assert.deepEqual(await names("tier notin (db)"), ["api-1", "web-1"]);
    assert.deepEqual(await names("tier"), ["web-1", "web-2"]);
    assert.deepEqual(await names("!tier"), ["api-1"]);
    assert.deepEqual(await names("app==api"), ["api-1"]);
    assert.deepEqual(await names(undefined, "status.phase!=Running"), ["api-1"]);
    assert.deepEqual(await names(undefined, "metadata.name=web-2"), ["web-2"]);
  });

  it("lists across namespaces (/api/v1/pods), and list items carry no apiVersion/kind", async () => {
    const all = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-1", labelSelector: "app=web" });
    assert.deepEqual(all.items.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`).sort(), ["prod/web-1", "staging/web-1"]);
    assert.equal(server.requests.at(-1)!.path, "/api/v1/pods");
    assert.equal(all.items[0]!.kind, undefined);
  });

  it("pages with limit and continue", async () => {
    const first = await core.listNamespacedPod({ namespace: "prod", limit: 2 });
    assert.equal(first.items.length, 2);
    assert.equal(first.metadata!.remainingItemCount, 1);
    const second = await core.listNamespacedPod({ namespace: "prod", limit: 2, _continue: first.metadata!._continue });
    assert.equal(second.items.length, 1);
    assert.equal(second.metadata!._continue, undefined);
    const seen = [...first.items, ...second.items].map((p) => p.metadata!.name);
    assert.deepEqual(seen, ["api-1", "web-1", "web-2"]);
  });

  it("rejects malformed selectors and unsupported field labels with 400", async () => {
    const bad = await failure(core.listNamespacedPod({ namespace: "prod", labelSelector: "app in (web" }));
    assert.equal(bad.code, 400);
    assert.equal(bad.status.reason, "BadRequest");
    const field = await failure(core.listNamespacedPod({ namespace: "prod", fieldSelector: "spec.foo=bar" }));
    assert.equal(field.code, 400);
    assert.equal(field.status.message, "field label not supported: spec.foo");
  });
});

describe("writes", () => {
  it("creates, then answers AlreadyExists; replaces with the current resourceVersion and 409s a stale one", async () => {
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    const lease404 = await failure(coord.readNamespacedLease({ name: "kestrel-leader", namespace: "prod" }));
    assert.equal(lease404.code, 404);
    assert.equal(lease404.status.message, 'leases.coordination.k8s.io "kestrel-leader" not found');
    const created = await coord.createNamespacedLease({
      namespace: "prod",
      body: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "kestrel-leader", namespace: "prod" },
        spec: {
          holderIdentity: "pod-a",
          leaseDurationSeconds: 15,
          acquireTime: new k8s.V1MicroTime(),
          renewTime: new k8s.V1MicroTime(),
          leaseTransitions: 0,
        },
      },
    });
    assert.equal(server.requests.at(-1)!.status, 201);
    const dup = await failure(coord.createNamespacedLease({ namespace: "prod", body: { metadata: { name: "kestrel-leader" }, spec: {} } }));
    assert.equal(dup.code, 409);
    assert.equal(dup.status.reason, "AlreadyExists");
    assert.equal(dup.status.message, 'leases.coordination.k8s.io "kestrel-leader" already exists');
    assert.deepEqual(dup.status.details, { name: "kestrel-leader", group: "coordination.k8s.io", kind: "leases" });

    const renewed = await coord.replaceNamespacedLease({
      name: "kestrel-leader",
      namespace: "prod",
      body: { ...created, spec: { ...created.spec, renewTime: new k8s.V1MicroTime() } },
    });
    assert.ok(Number(renewed.metadata!.resourceVersion) > Number(created.metadata!.resourceVersion));
    assert.equal(renewed.metadata!.uid, created.metadata!.uid);
    // The PUT carried the resourceVersion it read (optimistic locking), as recorded.
    assert.equal(
      (server.requests.at(-1)!.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion,
      created.metadata!.resourceVersion,
    );
    const stale = await failure(
      coord.replaceNamespacedLease({
        name: "kestrel-leader",
        namespace: "prod",
        body: { ...created, spec: { ...created.spec, holderIdentity: "pod-b" } },
      }),
    );
    assert.equal(stale.code, 409);
    assert.equal(stale.status.reason, "Conflict");
    assert.equal(
      stale.status.message,
      'Operation cannot be fulfilled on leases.coordination.k8s.io "kestrel-leader": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.equal(server.get("coordination.k8s.io/v1", "Lease", "prod", "kestrel-leader")!.spec.holderIdentity, "pod-a");
  });

  it("names objects from generateName and validates events.k8s.io events", async () => {
    const ev = await core.createNamespacedEvent({
      namespace: "prod",
      body: {
        metadata: { generateName: "web-1.", namespace: "prod" },
        involvedObject: { apiVersion: "v1", kind: "Pod", name: "web-1", namespace: "prod" },
        reason: "Quarantined",
        message: "isolated by kestrel",
        type: "Warning",
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
        source: { component: "kestrel" },
      },
    });
    assert.match(ev.metadata!.name!, /^web-1\.[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const events = kc.makeApiClient(k8s.EventsV1Api);
    const ok = await events.createNamespacedEvent({
      namespace: "prod",
      body: {
        metadata: { generateName: "web-1." },
        eventTime: new k8s.V1MicroTime(),
        action: "Isolate",
        reason: "Quarantined",
        note: "isolated",
        type: "Warning",
        reportingController: "kestrel.dev/engine",
        reportingInstance: "kestrel-0",
        regarding: { kind: "Pod", name: "web-1", namespace: "prod" },
      },
    });
    assert.equal(ok.reportingController, "kestrel.dev/engine");
    const invalid = await failure(
      events.createNamespacedEvent({
        namespace: "prod",
        body: { metadata: { generateName: "web-1." }, eventTime: new k8s.V1MicroTime(), reason: "Quarantined", type: "Warning" },
      }),
    );
    assert.equal(invalid.code, 422);
    assert.equal(invalid.status.reason, "Invalid");
    assert.deepEqual(
      invalid.status.details!.causes!.map((c) => c.field),
      ["reportingController", "reportingInstance", "action"],
    );
  });

  it("rejects invalid labels (422) and objects in a missing namespace (404)", async () => {
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    const bad = await failure(
      net.createNamespacedNetworkPolicy({
        namespace: "prod",
        body: { metadata: { name: "q", labels: { "kestrel/reason": "bad value!" } }, spec: { podSelector: {} } },
      }),
    );
    assert.equal(bad.code, 422);
    assert.match(bad.status.message, /^NetworkPolicy\.networking\.k8s\.io "q" is invalid: metadata\.labels: Invalid value: "bad value!"/);
    const noNs = await failure(
      net.createNamespacedNetworkPolicy({ namespace: "nope", body: { metadata: { name: "q" }, spec: { podSelector: {} } } }),
    );
    assert.equal(noNs.code, 404);
    assert.equal(noNs.status.message, 'namespaces "nope" not found');
    const created = await net.createNamespacedNetworkPolicy({
      namespace: "prod",
      fieldManager: "kestrel",
      body: {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "quarantine-web-1", labels: { "kestrel/managed": "true" } },
        spec: { podSelector: { matchLabels: { quarantine: "true" } }, policyTypes: ["Ingress", "Egress"], ingress: [], egress: [] },
      },
    });
    assert.equal(created.metadata!.generation, 1);
    assert.deepEqual(server.requests.at(-1)!.query, { fieldManager: "kestrel" });
  });

  it("deletes with options and preconditions, records the grace period, and collects owned objects", async () => {
    server.addPod("prod", "doomed", {});
    const wrongUid = await failure(
      core.deleteNamespacedPod({
        name: "doomed",
        namespace: "prod",
        body: { gracePeriodSeconds: 5, preconditions: { uid: "not-the-uid" } },
      }),
    );
    assert.equal(wrongUid.code, 409);
    assert.match(wrongUid.status.message, /Precondition failed: UID in precondition: not-the-uid/);
    const deleted = await core.deleteNamespacedPod({
      name: "doomed",
      namespace: "prod",
      gracePeriodSeconds: 0,
      propagationPolicy: "Background",
    });
    assert.equal(deleted.metadata!.name, "doomed");
    assert.equal(deleted.metadata!.deletionGracePeriodSeconds, 0);
    assert.deepEqual(server.requests.at(-1)!.query, { gracePeriodSeconds: "0", propagationPolicy: "Background" });
    assert.equal(server.get("v1", "Pod", "prod", "doomed"), undefined);
    assert.deepEqual(
      server.deletions.filter((d) => d.name === "doomed").map((d) => [d.via, d.gracePeriodSeconds, d.propagationPolicy]),
      [["delete", 0, "Background"]],
    );

    const { replicaSet, pods } = server.addDeployment("prod", "shop", { replicas: 2 });
    assert.deepEqual(pods[0]!.metadata.ownerReferences, [
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: replicaSet.metadata.name,
        uid: replicaSet.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const status = await apps.deleteNamespacedDeployment({ name: "shop", namespace: "prod" });
    assert.equal(status.status, "Success");
    assert.deepEqual(server.list("apps/v1", "ReplicaSet", "prod"), []);
    assert.deepEqual(
      server.list("v1", "Pod", "prod").filter((p) => p.metadata.name!.startsWith("shop-")),
      [],
    );
    assert.equal(server.deletions.filter((d) => d.via === "cascade").length, 3);
  });

  it("keeps pod specs immutable except images, and ignores status on the main endpoint", async () => {
    const pod = await core.readNamespacedPod({ name: "web-2", namespace: "prod" });
    const forbidden = await failure(
      core.replaceNamespacedPod({ name: "web-2", namespace: "prod", body: { ...pod, spec: { ...pod.spec!, nodeName: "node-9" } } }),
    );
    assert.equal(forbidden.code, 422);
    assert.match(forbidden.status.message, /Pod "web-2" is invalid: spec: Forbidden: pod updates may not change fields other than/);
    const image = pod.spec!.containers.map((c) => ({ ...c, image: "nginx:1.28" }));
    const replaced = await core.replaceNamespacedPod({
      name: "web-2",
      namespace: "prod",
      body: { ...pod, spec: { ...pod.spec!, containers: image }, status: { phase: "Failed" } },
    });
    assert.equal(replaced.spec!.containers[0]!.image, "nginx:1.28");
    assert.equal(replaced.status!.phase, "Running");
  });
});

describe("custom resources (Calico, Cilium)", () => {
  it("serves them under /apis/<group>/<version>/namespaces/<ns>/<plural> with CRD semantics", async () => {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const cnp = {
      apiVersion: "cilium.io/v2",
      kind: "CiliumNetworkPolicy",
      metadata: { name: "quarantine", namespace: "prod" },
      spec: { endpointSelector: { matchLabels: { app: "web" } }, ingressDeny: [{ fromEntities: ["all"] }] },
    };
    const created = (await custom.createNamespacedCustomObject({
      group: "cilium.io",
      version: "v2",
      namespace: "prod",
      plural: "ciliumnetworkpolicies",
      body: cnp,
    })) as k8s.KubernetesObject;
    assert.equal(server.requests.at(-1)!.path, "/apis/cilium.io/v2/namespaces/prod/ciliumnetworkpolicies");
    assert.ok(created.metadata!.uid);
    const calico = {
      apiVersion: "crd.projectcalico.org/v1",
      kind: "NetworkPolicy",
      metadata: { name: "quarantine", namespace: "prod" },
      spec: { selector: "app == 'web'", types: ["Ingress", "Egress"] },
    };
    await custom.createNamespacedCustomObject({
      group: "crd.projectcalico.org",
      version: "v1",
      namespace: "prod",
      plural: "networkpolicies",
      body: calico,
    });
    assert.equal(server.get("crd.projectcalico.org/v1", "NetworkPolicy", "prod", "quarantine")!.spec.selector, "app == 'web'");
    // Two kinds named NetworkPolicy, kept apart by group.
    assert.equal(server.get("networking.k8s.io/v1", "NetworkPolicy", "prod", "quarantine"), undefined);

    const list = (await custom.listNamespacedCustomObject({
      group: "cilium.io",
      version: "v2",
      namespace: "prod",
      plural: "ciliumnetworkpolicies",
    })) as { kind: string; items: k8s.KubernetesObject[] };
    assert.equal(list.kind, "CiliumNetworkPolicyList");
    assert.equal(list.items[0]!.kind, "CiliumNetworkPolicy");

    const noRv = await failure(
      custom.replaceNamespacedCustomObject({
        group: "cilium.io",
        version: "v2",
        namespace: "prod",
        plural: "ciliumnetworkpolicies",
        name: "quarantine",
        body: cnp,
      }),
    );
    assert.equal(noRv.code, 422);
    assert.match(noRv.status.message, /metadata\.resourceVersion: Invalid value: 0: must be specified for an update/);
    const strategic = await failure(
      custom.patchNamespacedCustomObject(
        {
          group: "cilium.io",
          version: "v2",
          namespace: "prod",
          plural: "ciliumnetworkpolicies",
          name: "quarantine",
          body: { metadata: { labels: { a: "b" } } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
      ),
    );
    assert.equal(strategic.code, 415);
    assert.equal(strategic.status.reason, "UnsupportedMediaType");
    const merged = (await custom.patchNamespacedCustomObject(
      {
        group: "cilium.io",
        version: "v2",
        namespace: "prod",
        plural: "ciliumnetworkpolicies",
        name: "quarantine",
        body: { metadata: { labels: { a: "b" } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    )) as k8s.KubernetesObject;
    assert.deepEqual(merged.metadata!.labels, { a: "b" });
  });
});

describe("Calico's API server (projectcalico.org/v3, aggregated)", () => {
  after(() => server.setCalicoApiServer(false));

  it("is absent until registered, then served with discovery, tier defaulting, validation and resourceVersion checks", async () => {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const apis = kc.makeApiClient(k8s.ApisApi);
    const at = { group: "projectcalico.org", version: "v3", namespace: "prod", plural: "networkpolicies" };
    const body = {
      apiVersion: "projectcalico.org/v3",
      kind: "NetworkPolicy",
      metadata: { name: "deny", namespace: "prod" },
      spec: { selector: "app == 'web'", types: ["Egress"], egress: [{ action: "Deny", destination: { nets: ["203.0.113.1/32"] } }] },
    };
    // Absent: no group, 404 for discovery and for the resources (kube-apiserver's "page not found").
    assert.ok(!(await apis.getAPIVersions()).groups.some((g) => g.name === "projectcalico.org"));
    assert.equal((await failure(custom.getAPIResources({ group: "projectcalico.org", version: "v3" }))).code, 404);
    assert.equal((await failure(custom.createNamespacedCustomObject({ ...at, body }))).code, 404);
    assert.equal((await raw("GET", "/apis/projectcalico.org")).status, 404);

    server.setCalicoApiServer(true);
    const group = (await apis.getAPIVersions()).groups.find((g) => g.name === "projectcalico.org")!;
    assert.equal(group.preferredVersion!.groupVersion, "projectcalico.org/v3");
    const list = await custom.getAPIResources({ group: "projectcalico.org", version: "v3" });
    assert.deepEqual(
      list.resources.map((r) => [r.name, r.kind, r.namespaced]),
      [["networkpolicies", "NetworkPolicy", true]],
    );
    const created = (await custom.createNamespacedCustomObject({ ...at, body })) as k8s.KubernetesObject & { spec: { tier: string } };
    assert.equal(created.spec.tier, "default", "the API server puts it in the default tier");
    assert.equal(server.get("projectcalico.org/v3", "NetworkPolicy", "prod", "deny")!.spec.tier, "default");
    assert.equal(server.get("crd.projectcalico.org/v1", "NetworkPolicy", "prod", "default.deny"), undefined, "no mirroring to the CRD");

    const noRv = await failure(custom.replaceNamespacedCustomObject({ ...at, name: "deny", body }));
    assert.equal(noRv.code, 422);
    assert.match(noRv.status.message, /metadata\.resourceVersion: Invalid value: 0: must be specified for an update/);
    const bad = {
      ...body,
      metadata: { ...body.metadata, resourceVersion: created.metadata!.resourceVersion },
      spec: { ...body.spec, egress: [{ action: "Block" }] },
    };
    const invalid = await failure(custom.replaceNamespacedCustomObject({ ...at, name: "deny", body: bad }));
    assert.equal(invalid.code, 422);
    assert.match(invalid.status.message, /spec\.egress\[0\]\.action: Unsupported value: "Block"/);
    const replaced = (await custom.replaceNamespacedCustomObject({
      ...at,
      name: "deny",
      body: { ...body, metadata: { ...body.metadata, resourceVersion: created.metadata!.resourceVersion } },
    })) as { spec: { tier: string } };
    assert.equal(replaced.spec.tier, "default", "defaulted on update too");

    // Removed again (the API server uninstalled): 404 once more.
    server.setCalicoApiServer(false);
    assert.equal((await failure(custom.getNamespacedCustomObject({ ...at, name: "deny" }))).code, 404);
    assert.equal((await failure(custom.getAPIResources({ group: "projectcalico.org", version: "v3" }))).code, 404);
  });
});

describe("discovery", () => {
  it("serves /api, /apis, /api/v1, /apis/<g>/<v> and /version", async () => {
    const versions = await kc.makeApiClient(k8s.CoreApi).getAPIVersions();
    assert.deepEqual(versions.versions, ["v1"]);
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    for (const g of [
      "apps",
      "batch",
      "coordination.k8s.io",
      "events.k8s.io",
      "networking.k8s.io",
      "policy",
      "crd.projectcalico.org",
      "cilium.io",
    ])
      assert.ok(names.includes(g), g);
    const v1 = await core.getAPIResources();
    const byName = new Map(v1.resources.map((r) => [r.name, r]));
    assert.equal(byName.get("pods")!.namespaced, true);
    assert.equal(byName.get("nodes")!.namespaced, false);
    assert.deepEqual(
      { ...byName.get("pods/eviction") },
      { name: "pods/eviction", singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
    );
    assert.ok(byName.has("pods/exec") && byName.has("pods/log") && byName.has("pods/ephemeralcontainers"));
    const cilium = await kc.makeApiClient(k8s.CustomObjectsApi).getAPIResources({ group: "cilium.io", version: "v2" });
    assert.ok(cilium.resources.some((r) => r.kind === "CiliumNetworkPolicy" && r.namespaced));
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.equal(version.gitVersion, "v1.32.4");
  });

  it("lets KubernetesObjectApi discover resources, then patch with its strategic-merge default", async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const before = server.requests.length;
    const patched = await objects.patch({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-1", namespace: "prod", labels: { quarantine: "true" } },
    });
    assert.equal(patched.metadata!.labels!.quarantine, "true");
    assert.equal((patched.metadata!.labels as Record<string, string>).app, "web");
    const sent = server.requests.slice(before);
    assert.deepEqual(
      sent.map((r) => `${r.method} ${r.path}`),
      ["GET /api/v1", "PATCH /api/v1/namespaces/prod/pods/web-1"],
    );
    assert.equal(sent[1]!.contentType, "application/strategic-merge-patch+json");
    const calico = await objects.read({
      apiVersion: "crd.projectcalico.org/v1",
      kind: "NetworkPolicy",
      metadata: { name: "quarantine", namespace: "prod" },
    });
    assert.equal(calico.kind, "NetworkPolicy");
    assert.equal(server.requests.at(-2)!.path, "/apis/crd.projectcalico.org/v1");
  });
});

describe("routing and seeding", () => {
  it("answers 405 for a verb a path does not have, and 404 for paths it does not serve", async () => {
    const post = await raw("POST", "/api/v1/namespaces/prod/pods/web-1", "{}");
    assert.equal(post.status, 405);
    assert.equal(JSON.parse(post.body).reason, "MethodNotAllowed");
    const unknown = await raw("GET", "/apis/example.com/v1/widgets");
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).message, "the server could not find the requested resource");
    const sub = await raw("GET", "/api/v1/namespaces/prod/pods/web-1/attach");
    assert.equal(sub.status, 404);
    const exec = await raw("POST", "/api/v1/namespaces/prod/pods/web-1/exec?command=true&stdout=true");
    assert.equal(exec.status, 400);
    assert.equal(JSON.parse(exec.body).message, "Upgrade request required");
    const health = await raw("GET", "/healthz");
    assert.deepEqual([health.status, health.body], [200, "ok"]);
    const badJson = await raw("POST", "/api/v1/namespaces/prod/configmaps", "{not json");
    assert.equal(badJson.status, 400);
  });

  it("seeds workloads with controller ownerReferences and status counters", () => {
    const ds = server.addDaemonSet("kube-system", "falco", { nodes: ["node-1", "node-2"] });
    assert.deepEqual(
      ds.pods.map((p) => p.spec.nodeName),
      ["node-1", "node-2"],
    );
    assert.equal(ds.pods[0]!.metadata.ownerReferences[0].kind, "DaemonSet");
    assert.equal(ds.pods[0]!.metadata.ownerReferences[0].uid, ds.daemonSet.metadata.uid);
    assert.equal(ds.daemonSet.status.numberReady, 2);
    const sts = server.addStatefulSet("prod", "db", { replicas: 3, readyReplicas: 2 });
    assert.deepEqual(
      sts.pods.map((p) => p.metadata.name),
      ["db-0", "db-1", "db-2"],
    );
    assert.deepEqual([sts.statefulSet.spec.replicas, sts.statefulSet.status.replicas, sts.statefulSet.status.readyReplicas], [3, 3, 2]);
    assert.equal(sts.pods[2]!.status.conditions.find((c: { type: string }) => c.type === "Ready").status, "False");
    const job = server.addJob("prod", "scan", {});
    assert.equal(job.pods[0]!.metadata.ownerReferences[0].kind, "Job");
    assert.equal(job.pods[0]!.metadata.labels["job-name"], "scan");
    const dep = server.addDeployment("prod", "api", { replicas: 2, readyReplicas: 1 });
    assert.equal(dep.replicaSet.metadata.ownerReferences[0].uid, dep.deployment.metadata.uid);
    assert.equal(dep.deployment.status.unavailableReplicas, 1);
    assert.equal(dep.pods[0]!.metadata.labels["pod-template-hash"], dep.replicaSet.metadata.labels["pod-template-hash"]);
  });
});

describe("authentication and faults", () => {
  it("answers 401 Unauthorized without the right bearer token", async () => {
    const other = new k8s.KubeConfig();
    other.loadFromOptions({
      clusters: [{ name: "c", server: server.url, caData: Buffer.from(server.caPem).toString("base64") }],
      users: [{ name: "u", token: "wrong" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const f = await failure(other.makeApiClient(k8s.CoreV1Api).readNamespacedPod({ name: "web-1", namespace: "prod" }));
    assert.equal(f.code, 401);
    assert.equal(server.requests.at(-1)!.status, 401);
  });

  it("fails the next matching requests with a realistic Status", async () => {
    server.failNext({ method: "DELETE", path: /\/pods\/web-1$/, status: 403, times: 2 });
    for (let i = 0; i < 2; i++) {
      const f = await failure(core.deleteNamespacedPod({ name: "web-1", namespace: "prod" }));
      assert.equal(f.code, 403);
      assert.equal(
        f.status.message,
        'pods "web-1" is forbidden: User "system:serviceaccount:kestrel:kestrel" cannot delete resource "pods" in API group "" in the namespace "prod"',
      );
    }
    server.failNext({ path: /\/pods\/web-1$/, status: 500 });
    const f500 = await failure(core.readNamespacedPod({ name: "web-1", namespace: "prod" }));
    assert.equal(f500.code, 500);
    assert.equal(f500.status.reason, "InternalError");
    server.failNext({ path: /\/pods\/web-1$/, status: 429 });
    const f429 = await failure(core.readNamespacedPod({ name: "web-1", namespace: "prod" }));
    assert.equal(f429.code, 429);
    const ok = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    assert.equal(ok.metadata!.name, "web-1");
  });

  it("hangs the next matching request so that client timeouts can be tested", async () => {
    server.hangNext({ method: "GET", path: /\/api\/v1\/namespaces\/prod\/pods$/ });
    // A per-call timeout the way client-node 2.x allows one: a middleware that sets the request's signal.
    const header = k8s.setHeaderMiddleware("x-test-timeout", "150ms");
    const withTimeout = {
      middleware: [
        {
          pre: (ctx: k8s.RequestContext) => {
            ctx.setSignal(AbortSignal.timeout(150));
            return header.pre(ctx);
          },
          post: header.post,
        },
      ],
      middlewareMergeStrategy: "append" as const,
    };
    const started = Date.now();
    await assert.rejects(core.listNamespacedPod({ namespace: "prod" }, withTimeout), (err: Error) => err.name === "TimeoutError");
    assert.ok(Date.now() - started < 2000);
    assert.equal(server.requests.at(-1)!.status, undefined, "never answered");
    // The next one is answered again.
    const list = await core.listNamespacedPod({ namespace: "prod" }, withTimeout);
    assert.ok(list.items.length > 0);
  });

  it("delays the next matching request, then answers it", async () => {
    server.delayNext({ path: /\/pods\/web-1$/, ms: 60 });
    const started = Date.now();
    const pod = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    assert.equal(pod.metadata!.name, "web-1");
    assert.ok(Date.now() - started >= 55);
  });
});
