// deploy/rbac.yaml is generated from the plugins' declared permissions and must be current; the
// permissions format is parsed strictly so a typo cannot silently drop a rule.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { renderRbacManifest } from "../scripts/rbac-manifest.ts";
import { rbacRulesOf, renderClusterRole } from "../src/plugins/rbac.ts";
import type { AnyPlugin } from "../src/plugins/types.ts";

const plugin = (name: string, permissions: string) => ({ kind: "actionner", name, permissions }) as unknown as AnyPlugin;

describe("RBAC from plugin permissions", () => {
  it("deploy/rbac.yaml is current (regenerate: node scripts/generate-rbac.ts)", () => {
    const committed = readFileSync(new URL("../deploy/rbac.yaml", import.meta.url), "utf8");
    assert.equal(committed, renderRbacManifest());
    const docs = parseAllDocuments(committed).map((d) => d.toJS() as { kind: string });
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    );
  });

  it("merges verbs per resource and groups resources with the same verbs", () => {
    const text = renderClusterRole([
      plugin("a", "/pods: get, delete\napps/replicasets: get"),
      plugin("b", "/pods: get\n/pods/eviction: create\napps/daemonsets: get"),
      plugin("local", "whatever the program needs"),
    ]);
    const role = parseAllDocuments(text)[0]!.toJS() as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    assert.deepEqual(role.rules, [
      { apiGroups: [""], resources: ["pods"], verbs: ["delete", "get"] },
      { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
      { apiGroups: ["apps"], resources: ["daemonsets", "replicasets"], verbs: ["get"] },
    ]);
  });

  it("takes dotted resources and resourceNames in brackets, kept apart from the same resource without them", () => {
    assert.deepEqual(
      rbacRulesOf(plugin("tiers", "projectcalico.org/tier.networkpolicies[default.*]: get, create\nprojectcalico.org/tiers[default]: get")),
      [
        { apiGroup: "projectcalico.org", resource: "tier.networkpolicies", verbs: ["get", "create"], resourceNames: ["default.*"] },
        { apiGroup: "projectcalico.org", resource: "tiers", verbs: ["get"], resourceNames: ["default"] },
      ],
    );
    const text = renderClusterRole([plugin("a", "x.io/things[one]: get\nx.io/things: list"), plugin("b", "x.io/others[one]: get")]);
    const role = parseAllDocuments(text)[0]!.toJS() as { rules: unknown[] };
    assert.deepEqual(role.rules, [
      { apiGroups: ["x.io"], resources: ["others", "things"], resourceNames: ["one"], verbs: ["get"] },
      { apiGroups: ["x.io"], resources: ["things"], verbs: ["list"] },
    ]);
    assert.throws(() => rbacRulesOf(plugin("names", "x.io/things[One]: get")), /things\[One\]/);
  });

  it("refuses a permissions text that mixes rules and malformed lines", () => {
    assert.deepEqual(rbacRulesOf(plugin("free", "runs as Kestrel's user")), []);
    assert.throws(() => rbacRulesOf(plugin("typo", "/pods: get\npods delete")), /typo.*pods delete/);
    assert.throws(() => rbacRulesOf(plugin("verb", "/pods: get, remove")), /remove/);
  });
});
