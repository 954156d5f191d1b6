// KubeApi.servesResource and upsert against the Kubernetes API test server: discovery of an aggregated
// API (Calico's projectcalico.org/v3), a registered but unavailable one retried and reported retryable.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type KubeApiServer, startKubeApi } from "../../../test/support/kube-api/index.ts";
import { KestrelError } from "../../errors.ts";
import { createKubeClient } from "../kubernetes.ts";

const CALICO_V3 = { group: "projectcalico.org", version: "v3", plural: "networkpolicies" };

describe("KubeApi.servesResource", () => {
  let kube: KubeApiServer;
  before(async () => {
    kube = await startKubeApi();
  });
  after(() => kube.close());

  const signal = new AbortController().signal;
  const discoveries = (mark: number) => kube.requests.slice(mark).filter((r) => r.path === "/apis/projectcalico.org/v3").length;

  it("tells whether the API server serves the resource (a 404 for the group is a no)", async () => {
    kube.setCalicoApiServer(true);
    assert.equal(await createKubeClient(kube.kubeConfig()).servesResource(CALICO_V3, { signal }), true);
    kube.setCalicoApiServer(false);
    assert.equal(await createKubeClient(kube.kubeConfig()).servesResource(CALICO_V3, { signal }), false);
  });

  it("fails, retryable, when the API server is registered but unavailable (503), after retrying", async () => {
    kube.setCalicoApiServer(true);
    const client = createKubeClient(kube.kubeConfig());
    kube.failNext({ method: "GET", path: /^\/apis\/projectcalico\.org\/v3$/, status: 503, times: 3 });
    const mark = kube.requests.length;
    await assert.rejects(
      client.servesResource(CALICO_V3, { signal }),
      (e: unknown) =>
        e instanceof KestrelError &&
        e.code === "ERR_KUBERNETES" &&
        e.retryable === true &&
        /discover the API projectcalico\.org\/v3/.test(e.message),
    );
    assert.equal(discoveries(mark), 3, "retried by kubeCall");
    assert.equal(await client.servesResource(CALICO_V3, { signal }), true);
  });
});
