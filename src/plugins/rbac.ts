// Kubernetes RBAC from the plugins' own declarations. A plugin that talks to the Kubernetes API states its
// permissions one rule per line, `<apiGroup>/<resource>: <verb>, <verb>` (the core group is empty:
// `/pods: get, delete`; subresources as `/pods/eviction: create`; a rule limited to some objects names them
// in brackets: `projectcalico.org/tiers[default]: get`). `kestrel actionners list` prints them
// and scripts/generate-rbac.ts turns all of them into the ClusterRole of deploy/rbac.yaml, so the
// permissions in the docs and the ones deployed cannot drift apart.
import type { AnyPlugin } from "./types.ts";

export interface RbacRule {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  /** The objects the rule is limited to (RBAC resourceNames); every object when absent. */
  readonly resourceNames?: readonly string[];
}

const RULE_LINE =
  /^([a-z0-9.-]*)\/([a-z]+(?:\.[a-z]+)*(?:\/[a-z]+)?)(?:\[([a-z0-9.*-]+(?:\s*,\s*[a-z0-9.*-]+)*)\])?:\s*([a-z]+(?:\s*,\s*[a-z]+)*)$/;
const RULE_SHAPE = /^[a-z0-9.-]*\/[a-z/.]+(?:\[[^\]]*\])?:/;
const VERBS = new Set(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]);

/**
 * The RBAC rules a plugin declares; empty when its permissions are not Kubernetes RBAC (a local
 * program, cloud IAM). Throws when some lines are RBAC rules and others are malformed.
 */
export function rbacRulesOf(plugin: AnyPlugin): RbacRule[] {
  const lines = (plugin.permissions ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const rules: RbacRule[] = [];
  const bad: string[] = [];
  let prose = 0;
  for (const line of lines) {
    const read = readPermissionLine(line);
    if (read === "malformed")
      bad.push(line); // meant as a rule: a typo must not drop it silently
    else if (read === "prose") prose++;
    else rules.push(read);
  }
  if (bad.length > 0 || (rules.length > 0 && prose > 0)) {
    const offending = bad.length > 0 ? bad : lines.filter((l) => !RULE_LINE.test(l));
    throw new Error(`${plugin.kind} ${plugin.name}: permissions lines are not "<apiGroup>/<resource>: <verbs>": ${offending.join(" | ")}`);
  }
  return rules;
}

/** One line of `permissions`: an RBAC rule, a line shaped like one that is not (a typo), or prose. */
function readPermissionLine(line: string): RbacRule | "malformed" | "prose" {
  const m = RULE_LINE.exec(line);
  const verbs = m === null ? [] : m[4]!.split(",").map((v) => v.trim());
  if (m !== null && verbs.every((v) => VERBS.has(v))) {
    const names = m[3]?.split(",").map((n) => n.trim());
    return { apiGroup: m[1]!, resource: m[2]!, verbs, ...(names === undefined ? {} : { resourceNames: names }) };
  }
  return RULE_SHAPE.test(line) ? "malformed" : "prose";
}

/** One ClusterRole for every plugin: verbs merged per resource, resources with the same verbs grouped. */
export function renderClusterRole(plugins: readonly AnyPlugin[], name = "kestrel"): string {
  // "group\u0000resource[\u0000names]" → the rule and its verbs
  const verbsOf = new Map<string, { apiGroup: string; resource: string; names: readonly string[]; verbs: Set<string> }>();
  for (const plugin of plugins) {
    for (const rule of rbacRulesOf(plugin)) {
      const names = [...(rule.resourceNames ?? [])].sort();
      const key = [rule.apiGroup, rule.resource, ...(names.length > 0 ? [names.join(",")] : [])].join("\u0000");
      const entry = verbsOf.get(key) ?? { apiGroup: rule.apiGroup, resource: rule.resource, names, verbs: new Set<string>() };
      for (const v of rule.verbs) entry.verbs.add(v);
      verbsOf.set(key, entry);
    }
  }
  const grouped = new Map<string, { apiGroup: string; verbs: string[]; names: readonly string[]; resources: string[] }>();
  for (const [, { apiGroup, resource, names, verbs }] of [...verbsOf].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...verbs].sort();
    const id = `${apiGroup}\u0000${sorted.join(",")}\u0000${names.join(",")}`;
    const g = grouped.get(id) ?? { apiGroup, verbs: sorted, names, resources: [] };
    g.resources.push(resource);
    grouped.set(id, g);
  }
  const rules = [...grouped.values()]
    .map((g) => {
      const names = g.names.length > 0 ? `\n    resourceNames: [${g.names.map((n) => JSON.stringify(n)).join(", ")}]` : "";
      return `  - apiGroups: [${JSON.stringify(g.apiGroup)}]\n    resources: [${g.resources.join(", ")}]${names}\n    verbs: [${g.verbs.join(", ")}]`;
    })
    .join("\n");
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${name}
  labels:
    app.kubernetes.io/name: kestrel
rules:
${rules === "" ? "  []" : rules}
`;
}
