// calico:networkpolicy on the in-memory client: the policy is named and selects as the pod's owner, denied
// IPs accumulate, and a 404 from the discovered API (Calico's API server went) writes through the CRD.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKube, fakeActionRun, fakePod, runAction } from "../../../test/support/fake-kube.ts";
import { KestrelError } from "../../errors.ts";
import calico from "./networkpolicy.ts";

const fields = (ip: string) => ({ "k8s.pod.name": "web-1", "k8s.ns.name": "shop", "fd.rip": ip });

function cluster(): FakeKube {
  const kube = new FakeKube()
    .addPod(
      fakePod({
        name: "web-1",
        namespace: "shop",
        labels: { app: "web", "pod-template-hash": "6d4c" },
        owner: { kind: "ReplicaSet", name: "web-6d4c" },
      }),
    )
    .addController(
      { kind: "ReplicaSet", name: "web-6d4c", namespace: "shop" },
      { selector: { matchLabels: { app: "web", "pod-template-hash": "6d4c" } } },
    );
  kube.served.add("projectcalico.org/v3/networkpolicies");
  return kube;
}

describe("calico:networkpolicy", () => {
  it("denies the remote IPs of successive events in one policy named after the owner", async () => {
    const kube = cluster();
    const first = await runAction(calico, fakeActionRun(calico, kube, {}, fields("203.0.113.9")));
    assert.equal(first.summary, "the caliconetworkpolicy 'web-6d4c' in the namespace 'shop' has been created");
    await runAction(calico, fakeActionRun(calico, kube, { allow_cidr: ["10.0.0.0/8"] }, fields("2001:db8::9")));
    const stored = kube.stored.get("projectcalico.org/v3/networkpolicies/shop/web-6d4c") as { spec: unknown };
    assert.deepEqual(stored.spec, {
      selector: "app == 'web'",
      types: ["Egress"],
      egress: [
        { action: "Deny", destination: { nets: ["203.0.113.9/32"] } },
        { action: "Deny", destination: { nets: ["2001:db8::9/128"] } },
        { action: "Allow", destination: { nets: ["10.0.0.0/8"] } },
      ],
    });
  });

  it("writes through the CRD as default.<owner> when the v3 API answers 404 and discovery says it went", async () => {
    const kube = cluster();
    const upsert = kube.upsert.bind(kube);
    let first = true;
    kube.upsert = (async (request, options) => {
      if (!first) return upsert(request, options);
      first = false;
      kube.served.clear();
      throw new KestrelError("ERR_TARGET_GONE", "cannot create the policy: not found");
    }) as FakeKube["upsert"];
    const res = await runAction(calico, fakeActionRun(calico, kube, {}, fields("203.0.113.9")));
    assert.deepEqual(res.objects, { networkpolicy: "default.web-6d4c", namespace: "shop", pod: "web-1", ip: "203.0.113.9" });
    assert.ok(kube.stored.has("crd.projectcalico.org/v1/networkpolicies/shop/default.web-6d4c"));
    assert.equal(kube.callsOf("servesResource").length, 2);
  });

  it("fails in preflight when the event has no remote IP, writing nothing", async () => {
    const kube = cluster();
    await assert.rejects(
      runAction(calico, fakeActionRun(calico, kube, {}, { "k8s.pod.name": "web-1", "k8s.ns.name": "shop" })),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_PREFLIGHT",
    );
    assert.equal(kube.callsOf("upsert").length, 0);
  });
});
