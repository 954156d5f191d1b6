// kubernetes:label and kubernetes:annotation on the in-memory client: one merge patch per action (empty
// values remove keys), on the pod or on its node; the node preflight checked is the one run patches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKube, fakeActionRun, fakePod, runAction } from "../../../test/support/fake-kube.ts";
import { KestrelError } from "../../errors.ts";
import annotation from "./annotation.ts";
import cordon from "./cordon.ts";
import label from "./label.ts";

const fields = { "k8s.pod.name": "web-1", "k8s.ns.name": "shop" };
const pod = () => fakePod({ name: "web-1", namespace: "shop", node: "node-7", labels: { app: "web", old: "x" } });

describe("kubernetes:label and kubernetes:annotation", () => {
  it("sets and removes the pod's labels in one patch", async () => {
    const kube = new FakeKube().addPod(pod());
    const res = await runAction(label, fakeActionRun(label, kube, { labels: { suspicious: true, old: "" } }, fields));
    assert.equal(res.summary, "the pod 'web-1' in the namespace 'shop' has been labeled");
    assert.deepEqual(kube.callsOf("patchMetadata"), [
      [{ pod: { pod: "web-1", namespace: "shop" } }, "labels", { suspicious: "true", old: null }],
    ]);
    assert.deepEqual(kube.pods.get("shop/web-1")?.metadata?.labels, { app: "web", suspicious: "true" });
  });

  it("annotates the node the pod runs on with level node, after checking that it exists", async () => {
    const kube = new FakeKube().addPod(pod()).addNode("node-7");
    const res = await runAction(annotation, fakeActionRun(annotation, kube, { level: "node", annotations: { seen: 2 } }, fields));
    assert.equal(res.summary, "the node 'node-7' has been annotated");
    assert.deepEqual(res.objects, { pod: "web-1", namespace: "shop", node: "node-7" });
    assert.deepEqual(kube.nodes.get("node-7")?.metadata?.annotations, { seen: "2" });
    assert.deepEqual(
      kube.calls.map((c) => c.op),
      ["readPod", "readNode", "patchMetadata"],
    );
  });

  it("fails in preflight when the node is gone", async () => {
    const kube = new FakeKube().addPod(pod());
    await assert.rejects(
      runAction(label, fakeActionRun(label, kube, { level: "node", labels: { a: "b" } }, fields)),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_TARGET_GONE" && /node 'node-7'/.test(e.message),
    );
    assert.equal(kube.callsOf("patchMetadata").length, 0);
  });
});

describe("kubernetes:cordon", () => {
  it("cordons the node preflight found, without reading the pod again", async () => {
    const kube = new FakeKube().addPod(pod()).addNode("node-7");
    const res = await runAction(cordon, fakeActionRun(cordon, kube, {}, fields));
    assert.equal(res.summary, "the node 'node-7' has been cordoned");
    assert.deepEqual(
      kube.calls.map((c) => c.op),
      ["readPod", "readNode", "cordon"],
    );
    assert.equal(kube.nodes.get("node-7")?.spec?.unschedulable, true);
  });
});
