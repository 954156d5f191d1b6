// PATCH in its four content types through the real client, the 415/422/409 the real server gives, and
// the ephemeralcontainers subresource (kubectl debug's and the tcpdump actionner's way in).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { type KubeApiServer, startKubeApi } from "./index.ts";
import { strategicMerge } from "./patch.ts";

async function failure(call: Promise<unknown>): Promise<{
  code: number;
  status: { reason: string; message: string; details?: { causes?: { reason: string; message: string; field?: string }[] } };
}> {
  try {
    await call;
  } catch (err) {
    if (err instanceof k8s.ApiException) return { code: err.code, status: JSON.parse(err.body as string) };
    throw err;
  }
  assert.fail("the call was expected to fail");
}

const as = (strategy: string) => k8s.setHeaderOptions("Content-Type", strategy);

let server: KubeApiServer;
let core: k8s.CoreV1Api;

before(async () => {
  server = await startKubeApi();
  core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
  server.addNode("node-1");
  server.addPod("prod", "web-1", { labels: { app: "web", old: "x" }, containers: ["app", "sidecar"] });
});

after(async () => {
  await server.close();
});

describe("patch content types", () => {
  it("sends RFC 6902 JSON patch by default (as recorded) and applies it", async () => {
    const before = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    const pod = await core.patchNamespacedPod({
      name: "web-1",
      namespace: "prod",
      body: [{ op: "add", path: "/metadata/labels/quarantine", value: "true" }],
    });
    const req = server.requests.at(-1)!;
    assert.equal(req.method, "PATCH");
    assert.equal(req.contentType, "application/json-patch+json");
    assert.deepEqual(req.body, [{ op: "add", path: "/metadata/labels/quarantine", value: "true" }]);
    assert.equal(pod.metadata!.labels!.quarantine, "true");
    assert.ok(Number(pod.metadata!.resourceVersion) > Number(before.metadata!.resourceVersion));
  });

  it("rejects a JSON patch whose path is missing with 422, worded like the real server", async () => {
    const f = await failure(
      core.patchNamespacedPod({
        name: "web-1",
        namespace: "prod",
        body: [{ op: "add", path: "/metadata/annotations/kestrel", value: "x" }],
      }),
    );
    assert.equal(f.code, 422);
    assert.equal(f.status.reason, "Invalid");
    assert.equal(
      f.status.details!.causes![0]!.message,
      'add operation does not apply: doc is missing path: "/metadata/annotations/kestrel": missing value',
    );
    const node404 = await failure(core.patchNode({ name: "node-1", body: [{ op: "replace", path: "/spec/unschedulable", value: true }] }));
    assert.equal(node404.code, 422, "replace needs the field to exist, as in a real cluster");
  });

  it("applies a merge patch, null removing a key", async () => {
    const pod = await core.patchNamespacedPod(
      { name: "web-1", namespace: "prod", body: { metadata: { labels: { quarantine: "yes", old: null } } } },
      as(k8s.PatchStrategy.MergePatch),
    );
    assert.equal(server.requests.at(-1)!.contentType, "application/merge-patch+json");
    assert.equal(pod.metadata!.labels!.quarantine, "yes");
    assert.equal(pod.metadata!.labels!.old, undefined);
    assert.equal(pod.metadata!.labels!.app, "web");
  });

  it("applies a strategic merge patch that merges containers by name (cordon as kubectl sends it)", async () => {
    const pod = await core.patchNamespacedPod(
      {
        name: "web-1",
        namespace: "prod",
        body: { spec: { containers: [{ name: "sidecar", image: "registry.example.com/sidecar:2.0" }] } },
      },
      as(k8s.PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(
      pod.spec!.containers.map((c) => `${c.name}=${c.image}`),
      ["app=nginx:1.27", "sidecar=registry.example.com/sidecar:2.0"],
    );
    assert.equal(pod.spec!.containers[1]!.imagePullPolicy, "IfNotPresent");
    const node = await core.patchNode(
      { name: "node-1", body: { spec: { unschedulable: true } } },
      as(k8s.PatchStrategy.StrategicMergePatch),
    );
    assert.equal(node.spec!.unschedulable, true);
    const uncordon = await core.patchNode({ name: "node-1", body: [{ op: "replace", path: "/spec/unschedulable", value: false }] });
    assert.equal(uncordon.spec!.unschedulable, false);
  });

  it("applies server-side apply with a fieldManager, and 422s without one", async () => {
    const body = { apiVersion: "v1", kind: "Pod", metadata: { name: "web-1", labels: { applied: "true" } } };
    const pod = await core.patchNamespacedPod(
      { name: "web-1", namespace: "prod", body, fieldManager: "kestrel", force: true },
      as(k8s.PatchStrategy.ServerSideApply),
    );
    const req = server.requests.at(-1)!;
    assert.equal(req.contentType, "application/apply-patch+yaml");
    assert.deepEqual(req.query, { fieldManager: "kestrel", force: "true" });
    assert.equal(pod.metadata!.labels!.applied, "true");
    const f = await failure(core.patchNamespacedPod({ name: "web-1", namespace: "prod", body }, as(k8s.PatchStrategy.ServerSideApply)));
    assert.equal(f.code, 422);
    assert.equal(f.status.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  });

  it("answers 415 for any other content type", async () => {
    const f = await failure(core.patchNamespacedPod({ name: "web-1", namespace: "prod", body: { metadata: {} } }, as("application/json")));
    assert.equal(f.code, 415);
    assert.equal(f.status.reason, "UnsupportedMediaType");
    assert.match(
      f.status.message,
      /accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml, application\/strategic-merge-patch\+json$/,
    );
  });

  it("409s a patch that carries a stale metadata.resourceVersion", async () => {
    const current = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    const stale = String(Number(current.metadata!.resourceVersion) - 1);
    const f = await failure(
      core.patchNamespacedPod(
        { name: "web-1", namespace: "prod", body: { metadata: { resourceVersion: stale, labels: { x: "y" } } } },
        as(k8s.PatchStrategy.MergePatch),
      ),
    );
    assert.equal(f.code, 409);
    assert.equal(f.status.reason, "Conflict");
    const ok = await core.patchNamespacedPod(
      { name: "web-1", namespace: "prod", body: { metadata: { resourceVersion: current.metadata!.resourceVersion, labels: { x: "y" } } } },
      as(k8s.PatchStrategy.MergePatch),
    );
    assert.equal(ok.metadata!.labels!.x, "y");
  });

  it("merges with $patch directives and key-merged lists (unit)", () => {
    const target = {
      spec: {
        containers: [
          { name: "a", image: "1", env: [{ name: "X", value: "1" }] },
          { name: "b", image: "2" },
        ],
        finalizers: ["f1"],
      },
    };
    const out = strategicMerge(
      target,
      {
        spec: {
          containers: [
            { name: "a", env: [{ name: "Y", value: "2" }] },
            { name: "b", $patch: "delete" },
          ],
          finalizers: ["f2"],
        },
      },
      [],
    );
    assert.deepEqual(out, {
      spec: {
        containers: [
          {
            name: "a",
            image: "1",
            env: [
              { name: "X", value: "1" },
              { name: "Y", value: "2" },
            ],
          },
        ],
        finalizers: ["f1", "f2"],
      },
    });
    const replaced = strategicMerge(target, { spec: { $patch: "replace", containers: [] } }, []);
    assert.deepEqual(replaced, { spec: { containers: [] } });
  });
});

describe("ephemeral containers", () => {
  const debugger1 = { name: "debugger-abc", image: "busybox:1.36", command: ["sh"], stdin: true, tty: true, targetContainerName: "app" };

  it("adds one with a strategic merge patch on the subresource (the recorded body) and reports it running", async () => {
    const pod = await core.patchNamespacedPodEphemeralcontainers(
      { name: "web-1", namespace: "prod", body: { spec: { ephemeralContainers: [debugger1] } } },
      as(k8s.PatchStrategy.StrategicMergePatch),
    );
    assert.equal(server.requests.at(-1)!.path, "/api/v1/namespaces/prod/pods/web-1/ephemeralcontainers");
    assert.deepEqual(
      pod.spec!.ephemeralContainers!.map((c) => c.name),
      ["debugger-abc"],
    );
    const stored = server.get("v1", "Pod", "prod", "web-1")!;
    assert.equal(stored.status.ephemeralContainerStatuses[0].name, "debugger-abc");
    assert.ok(stored.status.ephemeralContainerStatuses[0].state.running.startedAt);
  });

  it("rejects removing or changing an existing one with 422, and adds another through PUT", async () => {
    const pod = await core.readNamespacedPod({ name: "web-1", namespace: "prod" });
    const removed = await failure(
      core.replaceNamespacedPodEphemeralcontainers({
        name: "web-1",
        namespace: "prod",
        body: { ...pod, spec: { ...pod.spec!, ephemeralContainers: [] } },
      }),
    );
    assert.equal(removed.code, 422);
    assert.match(
      removed.status.message,
      /spec\.ephemeralContainers: Forbidden: existing ephemeral containers "debugger-abc" may not be removed/,
    );
    const changed = await failure(
      core.patchNamespacedPodEphemeralcontainers(
        { name: "web-1", namespace: "prod", body: { spec: { ephemeralContainers: [{ ...debugger1, image: "busybox:1.37" }] } } },
        as(k8s.PatchStrategy.StrategicMergePatch),
      ),
    );
    assert.equal(changed.code, 422);
    assert.match(changed.status.message, /may not be changed/);
    const duplicate = await failure(
      core.patchNamespacedPodEphemeralcontainers(
        { name: "web-1", namespace: "prod", body: { spec: { ephemeralContainers: [{ name: "app", image: "busybox" }] } } },
        as(k8s.PatchStrategy.StrategicMergePatch),
      ),
    );
    assert.equal(duplicate.code, 422);
    assert.equal(duplicate.status.details!.causes![0]!.reason, "FieldValueDuplicate");
    const added = await core.replaceNamespacedPodEphemeralcontainers({
      name: "web-1",
      namespace: "prod",
      body: {
        ...pod,
        spec: {
          ...pod.spec!,
          ephemeralContainers: [
            ...pod.spec!.ephemeralContainers!,
            { name: "kestrel-tcpdump-x1y2z", image: "issif/tcpdump:latest", command: ["sleep", "60"], targetContainerName: "app" },
          ],
        },
      },
    });
    assert.deepEqual(
      added.spec!.ephemeralContainers!.map((c) => c.name),
      ["debugger-abc", "kestrel-tcpdump-x1y2z"],
    );
    const stalePut = await failure(core.replaceNamespacedPodEphemeralcontainers({ name: "web-1", namespace: "prod", body: pod }));
    assert.equal(stalePut.code, 409);
  });

  it("refuses ephemeral containers through the pod itself", async () => {
    const f = await failure(
      core.patchNamespacedPod(
        { name: "web-1", namespace: "prod", body: { spec: { ephemeralContainers: [{ name: "sneaky", image: "busybox" }] } } },
        as(k8s.PatchStrategy.StrategicMergePatch),
      ),
    );
    assert.equal(f.code, 422);
    assert.match(f.status.message, /pod updates may not change fields/);
  });
});
