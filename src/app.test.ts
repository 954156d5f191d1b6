// The Kubernetes client is created only when something loaded needs the cluster, so a laptop without
// one runs the quick start, and a rule that needs one fails at start with the setting named.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClientsFor, needsKubernetes } from "./app.ts";
import type { Config } from "./config/schema.ts";
import { KestrelError } from "./errors.ts";
import type { RuleSet } from "./rules/types.ts";

const config = (over: Partial<Config> = {}) => ({ default_notifiers: [], kubeconfig: "", ...over }) as unknown as Config;

function ruleSet(categories: string[], notifiers: string[] = [], contexts: string[] = []): RuleSet {
  return {
    categories: new Set(categories),
    notifierNames: new Set(notifiers),
    rules: [{ actions: [{ additionalContexts: contexts }] }],
  } as unknown as RuleSet;
}

describe("needsKubernetes", () => {
  it("is true for kubernetes, calico and cilium actionners, the k8sevents notifier and the k8snode context", () => {
    assert.equal(needsKubernetes(config(), ruleSet(["local"])), false);
    for (const c of ["kubernetes", "calico", "cilium"]) assert.equal(needsKubernetes(config(), ruleSet(["local", c])), true, c);
    assert.equal(needsKubernetes(config(), ruleSet(["local"], ["k8sevents"])), true);
    assert.equal(needsKubernetes(config({ default_notifiers: ["k8sevents"] }), ruleSet(["local"])), true);
    assert.equal(needsKubernetes(config(), ruleSet(["local"], [], ["k8snode"])), true);
  });

  it("creates no client without a need, and names the kubeconfig setting when it is wrong", async () => {
    assert.equal((await createClientsFor(config(), ruleSet(["local"]), {})).kubernetes, undefined);
    await assert.rejects(
      createClientsFor(config({ kubeconfig: "/nonexistent/kubeconfig" }), ruleSet(["kubernetes"]), {}),
      (e: unknown) =>
        e instanceof KestrelError && e.code === "ERR_CONFIG_INVALID" && e.message.includes('kubeconfig "/nonexistent/kubeconfig"'),
    );
  });
});
