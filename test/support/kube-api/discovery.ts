// Legacy (unaggregated) discovery documents built from the resource table. kubectl asks for aggregated
// discovery first; answering with plain APIGroupList JSON makes it fall back to per-group documents, as
// it does against older servers. KubernetesObjectApi takes the first entry whose kind matches, so main
// resources come before their subresources.
import { groupVersions, NOT_AGGREGATED, RESOURCES, type ResourceType, type Served } from "./resources.ts";

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

const SUBRESOURCES: Record<string, { kind: (rt: ResourceType) => string; verbs: string[]; group?: string; version?: string }> = {
  status: { kind: (rt) => rt.kind, verbs: ["get", "patch", "update"] },
  log: { kind: () => "Pod", verbs: ["get"] },
  exec: { kind: () => "PodExecOptions", verbs: ["create", "get"] },
  eviction: { kind: () => "Eviction", verbs: ["create"], group: "policy", version: "v1" },
  ephemeralcontainers: { kind: () => "Pod", verbs: ["get", "patch", "update"] },
  scale: { kind: () => "Scale", verbs: ["get", "patch", "update"], group: "autoscaling", version: "v1" },
};

export const VERSION_INFO = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.4",
  gitCommit: "59526cd4867447956156ae3a602fcbac10a2c335",
  gitTreeState: "clean",
  buildDate: "2025-04-22T16:02:27Z",
  goVersion: "go1.23.6",
  compiler: "gc",
  platform: "linux/amd64",
};

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

function groupEntry(name: string, served: Served): Record<string, unknown> {
  const versions = groupVersions(served)
    .filter((gv) => gv.group === name)
    .map((gv) => ({ groupVersion: `${gv.group}/${gv.version}`, version: gv.version }));
  return { name, versions, preferredVersion: versions[0] };
}

export function apiGroupList(served: Served = NOT_AGGREGATED): Record<string, unknown> {
  const names = [...new Set(groupVersions(served).map((gv) => gv.group))].filter((g) => g !== "");
  return { kind: "APIGroupList", apiVersion: "v1", groups: names.map((name) => groupEntry(name, served)) };
}

export function apiGroup(name: string, served: Served = NOT_AGGREGATED): Record<string, unknown> | undefined {
  if (name === "" || !RESOURCES.some((rt) => rt.group === name && served(rt))) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupEntry(name, served) };
}

export function apiResourceList(group: string, version: string, served: Served = NOT_AGGREGATED): Record<string, unknown> | undefined {
  const types = RESOURCES.filter((rt) => rt.group === group && rt.version === version && served(rt));
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const rt of [...types].sort((a, b) => a.plural.localeCompare(b.plural))) {
    const entry: Record<string, unknown> = {
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: rt.plural === "namespaces" ? VERBS.filter((v) => v !== "deletecollection") : VERBS,
    };
    if (rt.shortNames.length > 0) entry.shortNames = rt.shortNames;
    resources.push(entry);
    for (const sub of rt.subresources) {
      const info = SUBRESOURCES[sub];
      if (info === undefined) continue;
      const subEntry: Record<string, unknown> = { name: `${rt.plural}/${sub}`, singularName: "", namespaced: rt.namespaced };
      if (info.group !== undefined) subEntry.group = info.group;
      if (info.version !== undefined) subEntry.version = info.version;
      subEntry.kind = info.kind(rt);
      subEntry.verbs = info.verbs;
      resources.push(subEntry);
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group === "" ? version : `${group}/${version}`, resources };
}
