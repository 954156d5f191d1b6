// kubernetes:terminate on the in-memory client: the pod preflight read is the one run acts on, the skip
// flags and min_healthy_replicas spare pods with status ignored, and a gone pod fails in preflight.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKube, fakeActionRun, fakePod, runAction } from "../../../test/support/fake-kube.ts";
import { KestrelError } from "../../errors.ts";
import terminate from "./terminate.ts";

const fields = { "k8s.pod.name": "web-1", "k8s.ns.name": "shop" };

describe("kubernetes:terminate", () => {
  it("deletes the pod with the grace period, reading it once (preflight hands it to run)", async () => {
    const kube = new FakeKube().addPod(fakePod({ name: "web-1", namespace: "shop" }));
    const res = await runAction(terminate, fakeActionRun(terminate, kube, { grace_period_seconds: 5 }, fields));
    assert.equal(res.summary, "the pod 'web-1' in the namespace 'shop' has been terminated");
    assert.deepEqual(res.objects, { pod: "web-1", namespace: "shop" });
    assert.deepEqual(kube.callsOf("terminatePod"), [[{ pod: "web-1", namespace: "shop" }, 5]]);
    assert.equal(kube.callsOf("readPod").length, 1);
  });

  it("leaves a DaemonSet's pod alone with ignore_daemonsets (status ignored)", async () => {
    const kube = new FakeKube().addPod(fakePod({ name: "web-1", namespace: "shop", owner: { kind: "DaemonSet", name: "agent" } }));
    const res = await runAction(terminate, fakeActionRun(terminate, kube, { ignore_daemonsets: true }, fields));
    assert.equal(res.status, "ignored");
    assert.match(res.summary, /has not been terminated: it belongs to the DaemonSet 'agent' \(ignore_daemonsets\)/);
    assert.equal(kube.callsOf("terminatePod").length, 0);
  });

  it("spares a pod whose ReplicaSet would drop below min_healthy_replicas", async () => {
    const kube = new FakeKube()
      .addPod(fakePod({ name: "web-1", namespace: "shop", owner: { kind: "ReplicaSet", name: "web-6d4c" } }))
      .addController({ kind: "ReplicaSet", name: "web-6d4c", namespace: "shop" }, { replicas: 3, readyReplicas: 2 });
    const spared = await runAction(terminate, fakeActionRun(terminate, kube, { min_healthy_replicas: "50%" }, fields));
    assert.equal(spared.status, "ignored");
    assert.match(
      spared.summary,
      /the ReplicaSet 'web-6d4c' has 2 ready of 3 desired replicas: removing the pod would leave 1, fewer than min_healthy_replicas 50% \(2\)/,
    );
    const done = await runAction(terminate, fakeActionRun(terminate, kube, { min_healthy_replicas: 1 }, fields));
    assert.equal(done.status, undefined);
  });

  it("fails in preflight when the pod is gone, deleting nothing", async () => {
    const kube = new FakeKube();
    await assert.rejects(
      runAction(terminate, fakeActionRun(terminate, kube, {}, fields)),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_TARGET_GONE",
    );
    assert.equal(kube.callsOf("terminatePod").length, 0);
  });
});
