// Which Calico API the policy is written through, against the Kubernetes API test server: discovery of
// projectcalico.org/v3, its answer cached per client, and the failures that are not "absent".
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type KubeApiServer, startKubeApi } from "../../../test/support/kube-api/index.ts";
import { createKubeClient } from "../../clients/kubernetes.ts";
import { KestrelError } from "../../errors.ts";
import { CACHE_MS, CRD, calicoApiOf, forgetCalicoApi, V3 } from "./_api.ts";

describe("calicoApiOf", () => {
  let kube: KubeApiServer;
  before(async () => {
    kube = await startKubeApi();
  });
  after(() => kube.close());

  const signal = new AbortController().signal;
  const discoveries = (mark: number) => kube.requests.slice(mark).filter((r) => r.path === "/apis/projectcalico.org/v3").length;

  it("is projectcalico.org/v3 when the API server serves its networkpolicies, the CRD (default.<name>) when not", async () => {
    kube.setCalicoApiServer(true);
    assert.equal(await calicoApiOf(createKubeClient(kube.kubeConfig()), signal), V3);
    kube.setCalicoApiServer(false);
    const crd = await calicoApiOf(createKubeClient(kube.kubeConfig()), signal);
    assert.equal(crd, CRD);
    assert.deepEqual([V3.storedName("web-6d4c"), CRD.storedName("web-6d4c")], ["web-6d4c", "default.web-6d4c"]);
    assert.deepEqual(V3.resource, { group: "projectcalico.org", version: "v3", plural: "networkpolicies" });
    assert.deepEqual(CRD.resource, { group: "crd.projectcalico.org", version: "v1", plural: "networkpolicies" });
  });

  it("asks once per client for CACHE_MS, concurrent callers sharing the request; forgetCalicoApi asks again", async () => {
    kube.setCalicoApiServer(true);
    const client = createKubeClient(kube.kubeConfig());
    const t0 = Date.now();
    let mark = kube.requests.length;
    const answers = await Promise.all([calicoApiOf(client, signal, t0), calicoApiOf(client, signal, t0), calicoApiOf(client, signal, t0)]);
    assert.deepEqual(answers, [V3, V3, V3]);
    assert.equal(discoveries(mark), 1);

    kube.setCalicoApiServer(false); // the cached answer stands until it expires
    mark = kube.requests.length;
    assert.equal(await calicoApiOf(client, signal, t0 + CACHE_MS - 1), V3);
    assert.equal(discoveries(mark), 0);
    assert.equal(await calicoApiOf(client, signal, t0 + CACHE_MS), CRD, "expired: asked again");
    assert.equal(discoveries(mark), 1);

    kube.setCalicoApiServer(true);
    assert.equal(await calicoApiOf(client, signal, t0 + CACHE_MS + 1), CRD, "cached");
    forgetCalicoApi(client);
    assert.equal(await calicoApiOf(client, signal, t0 + CACHE_MS + 2), V3, "forgotten: asked again");
    assert.equal(discoveries(mark), 2);
  });

  it("fails, retryable and not cached, when the API server is registered but unavailable (503)", async () => {
    kube.setCalicoApiServer(true);
    const client = createKubeClient(kube.kubeConfig());
    kube.failNext({ method: "GET", path: /^\/apis\/projectcalico\.org\/v3$/, status: 503, times: 3 });
    const mark = kube.requests.length;
    await assert.rejects(
      calicoApiOf(client, signal),
      (e: unknown) =>
        e instanceof KestrelError &&
        e.code === "ERR_KUBERNETES" &&
        e.retryable === true &&
        /discover the API projectcalico\.org\/v3/.test(e.message),
    );
    assert.equal(discoveries(mark), 3, "retried by kubeCall");
    assert.equal(await calicoApiOf(client, signal), V3, "the failure was not cached");
  });
});
