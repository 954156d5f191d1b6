// Which API the Calico NetworkPolicy is written through. projectcalico.org/v3 is Calico's supported API:
// its API server (an aggregated API, optional in a cluster) validates and defaults what it stores. The
// crd.projectcalico.org/v1 CRD is the storage behind it, which Calico documents as not for users; Kestrel
// writes it only when discovery shows no projectcalico.org/v3 networkpolicies.
//
// The answer is cached per client for CACHE_MS (one GET /apis/projectcalico.org/v3 every few minutes at
// most, none per event), concurrent callers share one request, and forgetCalicoApi drops it (after a 404
// on the chosen API). A discovery failure other than 404 is not cached and fails the action (retried by
// the client): an unavailable API server is not a missing one. The cache is keyed by the client, not by
// an action: it outlives actions, which is the point, and goes with the client.
import type { KubeApi, Resource } from "../../clients/kubernetes/api.ts";

export interface CalicoApi {
  readonly resource: Resource;
  /** The stored name of the policy `name` of the default tier. */
  storedName(name: string): string;
}

/** projectcalico.org/v3: the policy keeps its own name (the API server puts it in the default tier). */
export const V3: CalicoApi = {
  resource: { group: "projectcalico.org", version: "v3", plural: "networkpolicies" },
  storedName: (name) => name,
};

/** The CRD behind it, where a default-tier policy is stored as `default.<name>` (what v3 writes there). */
export const CRD: CalicoApi = {
  resource: { group: "crd.projectcalico.org", version: "v1", plural: "networkpolicies" },
  storedName: (name) => `default.${name}`,
};

/** How long a discovery answer is used. */
export const CACHE_MS = 5 * 60_000;

interface Entry {
  readonly answer: Promise<CalicoApi>;
  readonly at: number;
}

const cache = new WeakMap<KubeApi, Entry>();

/** V3 when the API server serves projectcalico.org/v3 networkpolicies (namespaced), else the CRD. */
async function discover(kube: KubeApi, signal: AbortSignal): Promise<CalicoApi> {
  return (await kube.servesResource(V3.resource, { signal })) ? V3 : CRD;
}

/** The API to write through: cached, or discovered (once for concurrent callers). `now` is for tests. */
export function calicoApiOf(kube: KubeApi, signal: AbortSignal, now = Date.now()): Promise<CalicoApi> {
  const cached = cache.get(kube);
  if (cached !== undefined && now - cached.at < CACHE_MS) return cached.answer;
  const answer = discover(kube, signal);
  const entry = { answer, at: now };
  cache.set(kube, entry);
  answer.catch(() => {
    if (cache.get(kube) === entry) cache.delete(kube);
  });
  return answer;
}

/** Drops the cached answer, so that the next call discovers again. */
export function forgetCalicoApi(kube: KubeApi): void {
  cache.delete(kube);
}
