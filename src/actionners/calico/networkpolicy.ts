// Blocks the event's remote IP for the pod's workload with a Calico NetworkPolicy (Talon's
// calico:networkpolicy): named and selecting as the Kubernetes one (the pod's owner), a Deny rule for the
// remote IP first, then Allow rules for the allowed CIDRs and namespaces (or everything when neither is set).
//
// API (./_api.ts): as Talon, projectcalico.org/v3, Calico's supported API, served by its API server, which
// validates and defaults the policy; the policy is named after the owner. When discovery shows no
// projectcalico.org/v3 networkpolicies (the API server is optional), Kestrel writes the CRD that stores
// them, crd.projectcalico.org/v1, under the name the v3 write has there: `default.<owner>` (default tier).
// Discovery is cached per client for a few minutes; a 404 from the chosen API discovers again and, when
// the answer changed (the API server was installed or removed), writes through the other API.
// RBAC: both resources, and for the v3 API server's tier authorisation (Calico 3.28 and later) `get` on
// the tier and the verbs on tier.networkpolicies (the default tier only).
//
// Kestrel differences: denied IPs accumulate on update without duplicates (canonical addresses), IPv6
// addresses are denied as /128 (Talon appends /32 to every address), each rule keeps to one IP family, and
// the default Allow (no allow list) allows all traffic, IPv6 included (Talon allows 0.0.0.0/0 only).
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { KubeApi } from "../../clients/kubernetes/api.ts";
import {
  ALLOW_LISTS_EXAMPLE,
  type Cidr,
  cidrList,
  DENY_REQUIRED_FIELDS,
  denyPreflight,
  namespaceList,
  POLICY_TARGET_PERMISSIONS,
  type PolicyWrite,
  policyResult,
  uniqueCidrs,
  upsertPolicy,
} from "../../clients/kubernetes/network.ts";
import { answeredNotFound } from "../../clients/kubernetes/objects.ts";
import { defineActionner } from "../../plugins/define.ts";
import { type CalicoApi, calicoApiOf, forgetCalicoApi, V3 } from "./_api.ts";

interface CalicoRule {
  action: "Allow" | "Deny";
  destination?: { nets?: string[]; namespaceSelector?: string };
}

interface CalicoSpec {
  order?: number;
  selector?: string;
  types?: string[];
  egress?: CalicoRule[];
}

/** A Calico selector (`app == 'web' && tier == 'front'`); label values cannot hold quotes. */
export function calicoSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k} == '${v}'`)
    .join(" && ");
}

/** One rule per IP family (IPv4 first), so that no rule mixes families. */
function netRules(action: CalicoRule["action"], cidrs: readonly Cidr[]): CalicoRule[] {
  return ([4, 6] as const)
    .map((family) => cidrs.filter((c) => c.family === family).map((c) => c.text))
    .filter((nets) => nets.length > 0)
    .map((nets) => ({ action, destination: { nets } }));
}

export function calicoEgress(denied: readonly Cidr[], allowCidr: readonly string[], allowNamespaces: readonly string[]): CalicoRule[] {
  const rules = netRules("Deny", denied);
  rules.push(...netRules("Allow", uniqueCidrs(allowCidr)));
  if (allowNamespaces.length > 0) {
    const names = allowNamespaces.map((ns) => `'${ns}'`).join(", ");
    rules.push({ action: "Allow", destination: { namespaceSelector: `kubernetes.io/metadata.name in { ${names} }` } });
  }
  if (allowCidr.length === 0 && allowNamespaces.length === 0) rules.push({ action: "Allow" });
  return rules;
}

function deniedBy(policy: { spec?: CalicoSpec | undefined } | undefined): string[] {
  return (policy?.spec?.egress ?? []).filter((r) => r.action === "Deny").flatMap((r) => r.destination?.nets ?? []);
}

interface Write {
  readonly namespace: string;
  /** The policy's name: the owner's. */
  readonly owner: string;
  readonly spec: PolicyWrite<CalicoSpec>["spec"];
  readonly signal: AbortSignal;
}

/** Creates or updates the policy through `api` (GET, then create or replace with the resourceVersion read). */
function write(kube: KubeApi, api: CalicoApi, w: Write): Promise<"created" | "updated"> {
  const { group, version } = api.resource;
  const name = api.storedName(w.owner);
  const policy = {
    resource: api.resource,
    kind: "NetworkPolicy",
    namespace: w.namespace,
    name,
    what: `create or update the Calico networkpolicy '${name}' (${group}/${version}) in the namespace '${w.namespace}'`,
    missingKindHint:
      api === V3
        ? "projectcalico.org/v3 networkpolicies are no longer served: was Calico's API server removed?"
        : "neither projectcalico.org/v3 nor crd.projectcalico.org/v1 networkpolicies are served: is Calico installed?",
    spec: w.spec,
  };
  return upsertPolicy(kube, policy, w.signal);
}

export default defineActionner({
  category: "calico",
  name: "networkpolicy",
  needs: ["kubernetes"],
  notes: {
    behaviour: "The remote IP is `fd.rip`, else `fd.sip`.",
    talon:
      "Calico's supported `projectcalico.org/v3` API when discovery shows it (cached 5 min, checked again after a 404), else the `crd.projectcalico.org/v1` CRD as `default.<owner>`; the RBAC includes `get` on the `default` tier and `tier.networkpolicies` (`default.*`), which Calico's API server checks; denied IPs accumulate without duplicates; IPv6 as `/128`",
  },
  description: "Create or update a Calico NetworkPolicy that blocks the egress traffic of the pod's workload to the event's remote IP",
  source: "syscall",
  requiredFields: DENY_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "none",
  permissions: `${POLICY_TARGET_PERMISSIONS}
projectcalico.org/networkpolicies: get, create, update
projectcalico.org/tiers[default]: get
projectcalico.org/tier.networkpolicies[default.*]: get, create, update
crd.projectcalico.org/networkpolicies: get, create, update`,
  params: z.strictObject({
    allow_cidr: cidrList("CIDRs the pods may still reach (e.g. private subnets); with neither allow list, all other egress is allowed"),
    allow_namespaces: namespaceList("namespaces the pods may still reach (namespaceSelector on kubernetes.io/metadata.name)"),
    order: z.number().optional().describe("spec.order of the policy (lower applies first); unset: after every ordered policy"),
  }),
  example: `
- action: Create Calico netpol
  actionner: calico:networkpolicy
  parameters:
    order: 20
${ALLOW_LISTS_EXAMPLE}`,
  preflight: (ctx) => denyPreflight(kubernetesOf(ctx.clients), ctx.event, ctx.signal),
  async run(ctx, { remote, target }) {
    const { params: p, signal } = ctx;
    const { namespace } = target;
    const kube = kubernetesOf(ctx.clients);
    const w: Write = {
      namespace,
      owner: target.name,
      signal,
      spec: (existing) => ({
        ...(p.order === undefined ? {} : { order: p.order }),
        selector: calicoSelector(target.selector),
        types: ["Egress"],
        egress: calicoEgress(uniqueCidrs([...deniedBy(existing), remote.text]), p.allow_cidr, p.allow_namespaces),
      }),
    };
    let api = await calicoApiOf(kube, signal);
    let outcome: "created" | "updated";
    try {
      outcome = await write(kube, api, w);
    } catch (err) {
      // The API may have gone (or come) since discovery: ask again, and write through the other one if so.
      if (!answeredNotFound(err)) throw err;
      forgetCalicoApi(kube);
      const now = await calicoApiOf(kube, signal);
      if (now === api) throw err;
      ctx.log.warn(`the Calico API changed since it was discovered: writing through ${now.resource.group}/${now.resource.version}`);
      api = now;
      outcome = await write(kube, api, w);
    }
    return policyResult("caliconetworkpolicy", target, outcome, remote, api.storedName(target.name));
  },
});
