// Blocks the event's remote IP for the pod's workload with a CiliumNetworkPolicy (cilium.io/v2, Talon's
// cilium:networkpolicy): named and selecting as the Kubernetes one (the pod's owner), an egressDeny rule
// to the remote IP (deny rules win over allow rules in Cilium) and egress allow rules for the allowed
// CIDRs and namespaces.
//
// Kestrel differences: on update the denied IPs are merged into one egressDeny rule without duplicates
// (Talon appends rules that are not deep-equal, so the spec grows with duplicates) and the allow rules are
// rebuilt from the parameters; IPv6 addresses are denied as /128; the remote IP is checked in preflight
// (Talon checks nothing and fails later); allowed namespaces are matched on the namespace label Cilium
// gives every endpoint (`k8s:io.kubernetes.pod.namespace`; Talon's `k8s.io/metadata.name` selects no pod);
// with neither allow list the policy allows `toEntities: [all]` rather than Talon's `toCIDR: 0.0.0.0/0`,
// which in Cilium means "outside the cluster" and so also cut the pods from in-cluster services and DNS.
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import {
  ALLOW_LISTS_EXAMPLE,
  cidrList,
  DENY_REQUIRED_FIELDS,
  denyPreflight,
  namespaceList,
  POLICY_TARGET_PERMISSIONS,
  type PolicyObject,
  policyResult,
  uniqueCidrs,
  upsertPolicy,
} from "../../clients/kubernetes/network.ts";
import { defineActionner } from "../../plugins/define.ts";

const RESOURCE = { group: "cilium.io", version: "v2", plural: "ciliumnetworkpolicies" } as const;
const POLICY = {
  resource: RESOURCE,
  kind: "CiliumNetworkPolicy",
  missingKindHint: `is the ${RESOURCE.group}/${RESOURCE.version} ${RESOURCE.plural} resource installed in the cluster?`,
};
const NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace";

interface CiliumEgressRule {
  toCIDR?: string[];
  toEntities?: string[];
  toEndpoints?: { matchExpressions: { key: string; operator: "In"; values: string[] }[] }[];
}

interface CiliumSpec {
  description?: string;
  endpointSelector?: { matchLabels?: Record<string, string> };
  egressDeny?: { toCIDR?: string[] }[];
  egress?: CiliumEgressRule[];
}

export function ciliumEgress(allowCidr: readonly string[], allowNamespaces: readonly string[]): CiliumEgressRule[] {
  const rules: CiliumEgressRule[] = [];
  const cidrs = uniqueCidrs(allowCidr).map((c) => c.text);
  if (cidrs.length > 0) rules.push({ toCIDR: cidrs });
  if (allowNamespaces.length > 0) {
    rules.push({ toEndpoints: [{ matchExpressions: [{ key: NAMESPACE_LABEL, operator: "In", values: [...allowNamespaces] }] }] });
  }
  if (rules.length === 0) rules.push({ toEntities: ["all"] });
  return rules;
}

function deniedBy(policy: PolicyObject<CiliumSpec> | undefined): string[] {
  return (policy?.spec?.egressDeny ?? []).flatMap((r) => r.toCIDR ?? []);
}

export default defineActionner({
  category: "cilium",
  name: "networkpolicy",
  needs: ["kubernetes"],
  notes: {
    behaviour: "The remote IP is `fd.rip`, else `fd.sip`.",
    talon:
      "denied IPs accumulate without duplicates; IPv6 as `/128`; Cilium's default allow is `toEntities: [all]` (Talon's `0.0.0.0/0` cut in-cluster traffic)",
  },
  description: "Create or update a CiliumNetworkPolicy that blocks the egress traffic of the pod's workload to the event's remote IP",
  source: "syscall",
  requiredFields: DENY_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "none",
  permissions: `${POLICY_TARGET_PERMISSIONS}
cilium.io/ciliumnetworkpolicies: get, create, update`,
  params: z.strictObject({
    allow_cidr: cidrList("CIDRs the pods may still reach (e.g. private subnets); with neither allow list, all other egress is allowed"),
    allow_namespaces: namespaceList("namespaces whose pods the pods may still reach"),
  }),
  example: `
- action: Create Cilium netpol
  actionner: cilium:networkpolicy
  parameters:
${ALLOW_LISTS_EXAMPLE}`,
  preflight: (ctx) => denyPreflight(kubernetesOf(ctx.clients), ctx.event, ctx.signal),
  async run(ctx, { remote, target }) {
    const { params: p, signal } = ctx;
    const { name, namespace } = target;
    const what = `create or update the ciliumnetworkpolicy '${name}' in the namespace '${namespace}'`;
    const spec = (existing: PolicyObject<CiliumSpec> | undefined): CiliumSpec => ({
      description: "Network policy created by Kestrel: egress to the denied IPs is blocked",
      endpointSelector: { matchLabels: { ...target.selector } },
      egressDeny: [{ toCIDR: uniqueCidrs([...deniedBy(existing), remote.text]).map((c) => c.text) }],
      egress: ciliumEgress(p.allow_cidr, p.allow_namespaces),
    });
    const outcome = await upsertPolicy(kubernetesOf(ctx.clients), { ...POLICY, namespace, name, what, spec }, signal);
    return policyResult("ciliumnetworkpolicy", target, outcome, remote);
  },
});
