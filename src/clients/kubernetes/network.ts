// IP addresses and CIDRs for the network policy actionners (kubernetes, calico, cilium): the remote IP of
// an event, validated CIDR parameters, and which denied IPs fall inside an allowed block. Addresses are
// kept in canonical form (IPv6 compressed, IPv4-mapped IPv6 as IPv4) so that accumulated denies never
// hold the same address twice under two spellings. Also what the three share around their policies: the
// preflight, the labelled create-or-update and the result.
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import { fieldText } from "../../events/fields.ts";
import { POD_REQUIRED_FIELDS, podTargetOf } from "../../events/target.ts";
import type { KubeApi, Metadata, Resource } from "./api.ts";
import { MANAGED_LABELS } from "./objects.ts";
import { type PolicyTarget, policyTargetOf } from "./owner.ts";

export type IpFamily = 4 | 6;

export interface Cidr {
  /** The canonical network address as written (host bits are kept, as Go's net.ParseCIDR accepts them). */
  readonly address: string;
  readonly prefix: number;
  readonly family: IpFamily;
  /** `address/prefix`, canonical. */
  readonly text: string;
}

/** The event fields that name the remote end of a connection, in Talon's order. */
export const REMOTE_IP_FIELDS = ["fd.rip", "fd.sip"] as const;

/** The fields a policy that denies the remote IP requires: the pod's, and one of REMOTE_IP_FIELDS. */
export const DENY_REQUIRED_FIELDS: readonly (readonly string[])[] = [...POD_REQUIRED_FIELDS, REMOTE_IP_FIELDS];

/** The RBAC rules of policyTargetOf: the pod, then its owner. */
export const POLICY_TARGET_PERMISSIONS = `/pods: get
apps/replicasets: get
apps/daemonsets: get
apps/statefulsets: get`;

/** The canonical text of an IP address, or undefined when `text` is not one. */
export function canonicalIp(text: string): { address: string; family: IpFamily } | undefined {
  const t = text.trim().replace(/^\[(.*)\]$/, "$1");
  if (isIPv4(t)) return { address: t, family: 4 };
  if (!isIPv6(t)) return undefined;
  // WHATWG URL serialises IPv6 hosts in RFC 5952 form (lower case, longest zero run compressed).
  const address = new URL(`http://[${t}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (mapped !== null) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 4 };
  }
  return { address, family: 6 };
}

/** Parses `address/prefix`; undefined when it is not a CIDR. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (m === null) return undefined;
  const ip = canonicalIp(m[1]!);
  if (ip === undefined || m[1]!.includes("[")) return undefined;
  const prefix = Number(m[2]);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { address: ip.address, prefix, family: ip.family, text: `${ip.address}/${prefix}` };
}

/** The single-host CIDR of an address: /32 for IPv4, /128 for IPv6. */
export function hostCidr(ip: { address: string; family: IpFamily }): Cidr {
  const prefix = ip.family === 4 ? 32 : 128;
  return { address: ip.address, prefix, family: ip.family, text: `${ip.address}/${prefix}` };
}

/** A list of CIDRs as a parameter: each must parse (Talon's error text `wrong CIDR '<x>'`). */
export function cidrList(description: string) {
  return z
    .array(z.string())
    .default([])
    .superRefine((list, ctx) => {
      list.forEach((c, i) => {
        if (parseCidr(c) === undefined) ctx.addIssue({ code: "custom", path: [i], message: `wrong CIDR '${c}'` });
      });
    })
    .describe(description);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A list of namespace names as a parameter (RFC 1123 labels, as Kubernetes requires). */
export function namespaceList(description: string) {
  return z
    .array(z.string().max(63).regex(DNS_LABEL, "must be a namespace name (lower case letters, digits and '-')"))
    .default([])
    .describe(description);
}

/** Canonical, deduplicated CIDR texts, in first-seen order. */
export function uniqueCidrs(texts: Iterable<string>): Cidr[] {
  const seen = new Map<string, Cidr>();
  for (const t of texts) {
    const c = parseCidr(t);
    if (c !== undefined && !seen.has(c.text)) seen.set(c.text, c);
  }
  return [...seen.values()];
}

/** Whether the host CIDR `ip` lies inside `block` (same family). */
export function contains(block: Cidr, ip: Cidr): boolean {
  if (block.family !== ip.family || ip.prefix < block.prefix) return false;
  const list = new BlockList();
  const type = block.family === 4 ? "ipv4" : "ipv6";
  list.addSubnet(block.address, block.prefix, type);
  return list.check(ip.address, type);
}

/**
 * The remote IP of the event as a host CIDR: `fd.rip`, else `fd.sip` (Talon's order). Throws ERR_PREFLIGHT
 * naming the fields when the event has none or when the value is not an IP address.
 */
export function remoteIpOf(event: FalcoEvent): Cidr {
  for (const field of REMOTE_IP_FIELDS) {
    const raw = event.outputFields[field];
    if (raw === undefined || raw === null || raw === "") continue;
    const text = fieldText(raw) ?? "";
    const ip = canonicalIp(text);
    if (ip === undefined) throw new KestrelError("ERR_PREFLIGHT", `the event's ${field} '${text}' is not a valid IP address`);
    return hostCidr(ip);
  }
  throw new KestrelError("ERR_PREFLIGHT", `the event has no remote IP to deny (${REMOTE_IP_FIELDS.join(", ")} are missing)`);
}

/** The allow lists of the network policy actionners' examples (YAML, under `parameters:`). */
export const ALLOW_LISTS_EXAMPLE = `    allow_cidr:
      - "192.168.1.0/24"
      - "172.17.0.0/16"
    allow_namespaces:
      - "green-ns"
      - "blue-ns"
`;

/** The preflight of a policy that denies the remote IP: that IP (checked first, reading nothing), then the policy target. */
export async function denyPreflight(
  kube: KubeApi,
  event: FalcoEvent,
  signal: AbortSignal,
): Promise<{ remote: Cidr; target: PolicyTarget }> {
  const remote = remoteIpOf(event);
  return { remote, target: await policyTargetOf(kube, podTargetOf(event), signal) };
}

/** A network policy object as written: any API, any spec. */
export interface PolicyObject<S> {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: Metadata | undefined;
  spec?: S | undefined;
}

export interface PolicyWrite<S> {
  readonly resource: Resource;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** For errors: "create or update the networkpolicy 'web' in the namespace 'prod'". */
  readonly what: string;
  readonly missingKindHint?: string;
  /** The desired spec, given the policy that exists (undefined when there is none). */
  readonly spec: (existing: PolicyObject<S> | undefined) => S;
}

/**
 * Creates or updates the policy, labelled as managed by Kestrel (GET, then create or replace with the
 * resourceVersion read).
 */
export function upsertPolicy<S>(kube: KubeApi, w: PolicyWrite<S>, signal: AbortSignal): Promise<"created" | "updated"> {
  const { resource, namespace, name } = w;
  const request = {
    resource,
    namespace,
    name,
    what: w.what,
    ...(w.missingKindHint === undefined ? {} : { missingKindHint: w.missingKindHint }),
    build: (existing: PolicyObject<S> | undefined): PolicyObject<S> => ({
      apiVersion: `${resource.group}/${resource.version}`,
      kind: w.kind,
      metadata: { name, namespace, labels: { ...MANAGED_LABELS } },
      spec: w.spec(existing),
    }),
  };
  return kube.upsert(request, { signal });
}

/** The result of a network policy action; `policy` is the name written (Calico's CRD prefixes the owner's). */
export function policyResult(noun: string, target: PolicyTarget, outcome: "created" | "updated", remote?: Cidr, policy = target.name) {
  const { namespace } = target;
  return {
    summary: `the ${noun} '${target.name}' in the namespace '${namespace}' has been ${outcome}`,
    objects: { networkpolicy: policy, namespace, pod: target.pod, ...(remote === undefined ? {} : { ip: remote.address }) },
  };
}
