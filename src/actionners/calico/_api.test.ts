// Which Calico API the policy is written through: projectcalico.org/v3 when the API server serves its
// networkpolicies, the CRD otherwise; the answer cached per client, and a failed discovery not cached.
// On the in-memory client; discovery itself (and its retries) is tested against the Kubernetes API test
// server in src/clients/kubernetes/objects.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKube } from "../../../test/support/fake-kube.ts";
import { KestrelError } from "../../errors.ts";
import { CACHE_MS, CRD, calicoApiOf, forgetCalicoApi, V3 } from "./_api.ts";

const signal = new AbortController().signal;
const V3_RESOURCE = "projectcalico.org/v3/networkpolicies";

function client(served: boolean): FakeKube {
  const kube = new FakeKube();
  if (served) kube.served.add(V3_RESOURCE);
  return kube;
}

describe("calicoApiOf", () => {
  it("is projectcalico.org/v3 when the API server serves its networkpolicies, the CRD (default.<name>) when not", async () => {
    assert.equal(await calicoApiOf(client(true), signal), V3);
    const crd = await calicoApiOf(client(false), signal);
    assert.equal(crd, CRD);
    assert.deepEqual([V3.storedName("web-6d4c"), CRD.storedName("web-6d4c")], ["web-6d4c", "default.web-6d4c"]);
    assert.deepEqual(V3.resource, { group: "projectcalico.org", version: "v3", plural: "networkpolicies" });
    assert.deepEqual(CRD.resource, { group: "crd.projectcalico.org", version: "v1", plural: "networkpolicies" });
  });

  it("asks once per client for CACHE_MS, concurrent callers sharing the request; forgetCalicoApi asks again", async () => {
    const kube = client(true);
    const discoveries = () => kube.callsOf("servesResource").length;
    const t0 = Date.now();
    const answers = await Promise.all([calicoApiOf(kube, signal, t0), calicoApiOf(kube, signal, t0), calicoApiOf(kube, signal, t0)]);
    assert.deepEqual(answers, [V3, V3, V3]);
    assert.equal(discoveries(), 1);

    kube.served.delete(V3_RESOURCE); // the cached answer stands until it expires
    assert.equal(await calicoApiOf(kube, signal, t0 + CACHE_MS - 1), V3);
    assert.equal(discoveries(), 1);
    assert.equal(await calicoApiOf(kube, signal, t0 + CACHE_MS), CRD, "expired: asked again");
    assert.equal(discoveries(), 2);

    kube.served.add(V3_RESOURCE);
    assert.equal(await calicoApiOf(kube, signal, t0 + CACHE_MS + 1), CRD, "cached");
    forgetCalicoApi(kube);
    assert.equal(await calicoApiOf(kube, signal, t0 + CACHE_MS + 2), V3, "forgotten: asked again");
    assert.equal(discoveries(), 3);
  });

  it("does not cache a failed discovery (an unavailable API server is not a missing one)", async () => {
    const kube = client(true);
    kube.failNext(
      "servesResource",
      new KestrelError("ERR_KUBERNETES", "cannot discover the API projectcalico.org/v3: busy", { retryable: true }),
    );
    await assert.rejects(
      calicoApiOf(kube, signal),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_KUBERNETES" && e.retryable === true,
    );
    assert.equal(await calicoApiOf(kube, signal), V3, "the failure was not cached");
    assert.equal(kube.callsOf("servesResource").length, 2);
  });
});
