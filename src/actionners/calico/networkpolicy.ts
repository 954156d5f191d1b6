// Blocks the event's remote IP for the pod's workload with a Calico NetworkPolicy (Talon's
// calico:networkpolicy): named and selecting as the Kubernetes one (the pod's owner), a Deny rule for the
// remote IP first, then Allow rules for the allowed CIDRs and namespaces (or everything when neither is set).
//
// API: Talon writes projectcalico.org/v3 through Calico's clientset. projectcalico.org/v3 is an aggregated
// API served by the Calico API server, which many clusters do not run (it is optional; calicoctl and Felix
// work without it). What every Calico cluster with the Kubernetes datastore has is the CRD that stores
// policies, crd.projectcalico.org/v1 NetworkPolicy, so Kestrel writes that through the generic custom
// objects API. The CRD stores a policy of the default tier as `default.<name>` (the v3 API shows it as
// `<name>`, calicoctl finds it by either), so the object is named `default.<owner>`, exactly what Talon's
// v3 write produces in storage. RBAC is on the CRD: crd.projectcalico.org/networkpolicies.
//
// Kestrel differences: denied IPs accumulate on update without duplicates (canonical addresses), IPv6
// addresses are denied as /128 (Talon appends /32 to every address), each rule keeps to one IP family, and
// the default Allow (no allow list) allows all traffic, IPv6 included (Talon allows 0.0.0.0/0 only).
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import { defineActionner } from "../../plugins/define.ts";
import { type Metadata, MANAGED_LABELS, upsertCustom } from "../kubernetes/_api.ts";
import { type Cidr, cidrList, namespaceList, REMOTE_IP_FIELDS, remoteIpOf, uniqueCidrs } from "../kubernetes/_net.ts";
import { policyTargetOf } from "../kubernetes/_owner.ts";
import { POD_REQUIRED_FIELDS } from "../kubernetes/_target.ts";

const RESOURCE = { group: "crd.projectcalico.org", version: "v1", plural: "networkpolicies" } as const;
/** The tier prefix of a default-tier policy's name in the CRD. */
const TIER_PREFIX = "default.";

interface CalicoRule {
  action: "Allow" | "Deny";
  destination?: { nets?: string[]; namespaceSelector?: string };
}

interface CalicoNetworkPolicy {
  apiVersion: string;
  kind: string;
  metadata?: Metadata;
  spec?: { order?: number; selector?: string; types?: string[]; egress?: CalicoRule[] };
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

function deniedBy(policy: CalicoNetworkPolicy | undefined): string[] {
  return (policy?.spec?.egress ?? []).filter((r) => r.action === "Deny").flatMap((r) => r.destination?.nets ?? []);
}

export default defineActionner({
  category: "calico",
  name: "networkpolicy",
  description: "Create or update a Calico NetworkPolicy that blocks the egress traffic of the pod's workload to the event's remote IP",
  source: "syscall",
  requiredFields: [...POD_REQUIRED_FIELDS, REMOTE_IP_FIELDS],
  continueByDefault: true,
  output: "none",
  permissions: `/pods: get
apps/replicasets: get
apps/daemonsets: get
apps/statefulsets: get
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
    allow_cidr:
      - "192.168.1.0/24"
      - "172.17.0.0/16"
    allow_namespaces:
      - "green-ns"
      - "blue-ns"
`,
  async preflight(ctx) {
    remoteIpOf(ctx.event);
    await policyTargetOf(ctx);
  },
  async run(ctx) {
    const { params: p, signal } = ctx;
    const remote = remoteIpOf(ctx.event);
    const target = await policyTargetOf(ctx);
    const { namespace } = target;
    const name = `${TIER_PREFIX}${target.name}`;
    const outcome = await upsertCustom<CalicoNetworkPolicy>(kubernetesOf(ctx.clients), RESOURCE, {
      namespace,
      name,
      what: `create or update the Calico networkpolicy '${name}' in the namespace '${namespace}'`,
      signal,
      build: (existing) => ({
        apiVersion: `${RESOURCE.group}/${RESOURCE.version}`,
        kind: "NetworkPolicy",
        metadata: { name, namespace, labels: { ...MANAGED_LABELS } },
        spec: {
          ...(p.order === undefined ? {} : { order: p.order }),
          selector: calicoSelector(target.selector),
          types: ["Egress"],
          egress: calicoEgress(uniqueCidrs([...deniedBy(existing), remote.text]), p.allow_cidr, p.allow_namespaces),
        },
      }),
    });
    return {
      output: `the caliconetworkpolicy '${target.name}' in the namespace '${namespace}' has been ${outcome}`,
      objects: { networkpolicy: name, namespace, pod: target.pod, ip: remote.address },
    };
  },
});
