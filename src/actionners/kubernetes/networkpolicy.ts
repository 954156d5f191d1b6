// Isolates the event's workload with a Kubernetes NetworkPolicy (Talon's kubernetes:networkpolicy): an
// Egress policy named after the pod's owner, selecting its pods, that blocks all egress except the allowed
// CIDRs and namespaces. Kestrel additions: allowed namespaces are selected by the label Kubernetes really
// sets (`kubernetes.io/metadata.name`; Talon's `k8s.io/metadata.name` selects nothing), and with
// `deny_remote_ip` the policy blocks only the event's remote IP, which a NetworkPolicy (allow rules only)
// expresses as "allow 0.0.0.0/0 and ::/0 except <ip>/32 or <ip>/128". Denied IPs accumulate across
// events. An existing policy is replaced with the resourceVersion that was read (409 → read again).

import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from "../../clients/kubernetes/api.ts";
import {
  ALLOW_LISTS_EXAMPLE,
  type Cidr,
  cidrList,
  contains,
  namespaceList,
  POLICY_TARGET_PERMISSIONS,
  type PolicyObject,
  parseCidr,
  policyResult,
  remoteIpOf,
  uniqueCidrs,
  upsertPolicy,
} from "../../clients/kubernetes/network.ts";
import { policyTargetOf } from "../../clients/kubernetes/owner.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";

const params = z.strictObject({
  allow_cidr: cidrList("CIDRs the pods may still reach (e.g. private subnets); denied IPs inside them stay denied"),
  allow_namespaces: namespaceList("namespaces whose pods the pods may still reach (selected by the label kubernetes.io/metadata.name)"),
  deny_remote_ip: z
    .boolean()
    .default(false)
    .describe(
      "Kestrel: block only the event's remote IP (fd.rip, else fd.sip) instead of all egress; without allow lists all other egress stays allowed. Denied IPs accumulate",
    ),
});

type Params = z.output<typeof params>;
type V1NetworkPolicySpec = NonNullable<V1NetworkPolicy["spec"]>;

const POLICY = { resource: { group: "networking.k8s.io", version: "v1", plural: "networkpolicies" }, kind: "NetworkPolicy" };
const NAMESPACE_LABEL = "kubernetes.io/metadata.name";
const EVERYWHERE = ["0.0.0.0/0", "::/0"].map((c) => parseCidr(c)!);

/** The IPs an existing policy denies: the `except` entries of its ipBlocks. */
function deniedBy(policy: PolicyObject<V1NetworkPolicySpec> | undefined): string[] {
  const out: string[] = [];
  for (const rule of policy?.spec?.egress ?? []) for (const peer of rule.to ?? []) out.push(...(peer.ipBlock?.except ?? []));
  return out;
}

/** The egress rules: one rule whose peers are the allowed blocks (minus the denied IPs) and namespaces. */
export function egressRules(p: Params, denied: readonly Cidr[]): V1NetworkPolicyEgressRule[] {
  let blocks = uniqueCidrs(p.allow_cidr);
  if (p.deny_remote_ip && blocks.length === 0 && p.allow_namespaces.length === 0) blocks = EVERYWHERE;
  const peers: V1NetworkPolicyPeer[] = [];
  for (const block of blocks) {
    const inside = denied.filter((ip) => contains(block, ip));
    // `except` must be strictly inside `cidr`: an allowed block that is exactly a denied IP is dropped.
    if (inside.some((ip) => ip.prefix === block.prefix)) continue;
    peers.push({ ipBlock: { cidr: block.text, ...(inside.length > 0 ? { except: inside.map((ip) => ip.text) } : {}) } });
  }
  for (const ns of p.allow_namespaces) peers.push({ namespaceSelector: { matchLabels: { [NAMESPACE_LABEL]: ns } } });
  return peers.length === 0 ? [] : [{ to: peers }];
}

export default defineActionner({
  category: "kubernetes",
  name: "networkpolicy",
  needs: ["kubernetes"],
  notes: {
    behaviour: "An egress NetworkPolicy selecting the pod's workload; `allow_cidr` and `allow_namespaces` stay reachable.",
    talon:
      "namespaces matched on the real label `kubernetes.io/metadata.name`; `deny_remote_ip` blocks `fd.rip`/`fd.sip`; replace with `resourceVersion`",
  },
  description: "Create or update a NetworkPolicy that blocks the egress traffic of the pod's workload (all of it, or only the remote IP)",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "none",
  permissions: `${POLICY_TARGET_PERMISSIONS}
networking.k8s.io/networkpolicies: get, create, update`,
  params,
  example: `
- action: Disable outbound connections
  actionner: kubernetes:networkpolicy
  parameters:
${ALLOW_LISTS_EXAMPLE}`,
  async preflight(ctx) {
    const remote = ctx.params.deny_remote_ip ? remoteIpOf(ctx.event) : undefined;
    return { remote, target: await policyTargetOf(kubernetesOf(ctx.clients), podTargetOf(ctx.event), ctx.signal) };
  },
  async run(ctx, { remote, target }) {
    const { params: p, signal } = ctx;
    const { name, namespace } = target;
    const what = `create or update the networkpolicy '${name}' in the namespace '${namespace}'`;
    const spec = (existing: PolicyObject<V1NetworkPolicySpec> | undefined): V1NetworkPolicySpec => ({
      podSelector: { matchLabels: { ...target.selector } },
      policyTypes: ["Egress"],
      egress: egressRules(p, uniqueCidrs([...deniedBy(existing), ...(remote === undefined ? [] : [remote.text])])),
    });
    const outcome = await upsertPolicy(kubernetesOf(ctx.clients), { ...POLICY, namespace, name, what, spec }, signal);
    return policyResult("networkpolicy", target, outcome, remote);
  },
});
