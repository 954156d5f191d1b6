// The app creates exactly the clients that the plugins in use declare (`needs`): no Kubernetes client
// without a Kubernetes plugin, so a laptop without a cluster runs the quick start, and a rule that needs one
// fails at start with the setting named.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClientsFor } from "./app.ts";
import type { Config } from "./config/schema.ts";
import { KestrelError } from "./errors.ts";
import { createRegistries } from "./registries.ts";
import { awsUses, clientNeeds } from "./rules/needs.ts";
import type { RuleSet } from "./rules/types.ts";

const registries = createRegistries();

const config = (over: Partial<Config> = {}) =>
  ({ default_notifiers: [], kubeconfig: "", aws: {}, minio: { use_ssl: false }, ...over }) as unknown as Config;

/** One rule with one action per actionner (the real plugins), each with the outputs and contexts given. */
function ruleSet(actionners: string[], notifiers: string[] = [], contexts: string[] = [], output?: string): RuleSet {
  const actions = actionners.map((id) => ({
    actionner: registries.actionners.get(id) ?? assert.fail(`no actionner ${id}`),
    output: output === undefined ? undefined : { plugin: registries.outputs.get(output) ?? assert.fail(`no output ${output}`) },
    additionalContexts: contexts,
  }));
  return { notifierNames: new Set(notifiers), rules: [{ actions }] } as unknown as RuleSet;
}

const needsOf = (c: Config, r: RuleSet) => [...clientNeeds(c, r, registries)].sort();

describe("the clients the plugins in use need", () => {
  it("kubernetes for kubernetes, calico and cilium actionners, the k8sevents notifier and the k8snode context", () => {
    assert.deepEqual(needsOf(config(), ruleSet(["local:command"])), []);
    for (const id of ["kubernetes:label", "kubernetes:terminate", "calico:networkpolicy", "cilium:networkpolicy"]) {
      assert.deepEqual(needsOf(config(), ruleSet(["local:command", id])), ["kubernetes"], id);
    }
    assert.deepEqual(needsOf(config(), ruleSet(["local:command"], ["k8sevents"])), ["kubernetes"]);
    assert.deepEqual(needsOf(config({ default_notifiers: ["k8sevents"] }), ruleSet(["local:command"])), ["kubernetes"]);
    assert.deepEqual(needsOf(config(), ruleSet(["local:command"], [], ["k8snode"])), ["kubernetes"]);
    assert.deepEqual(needsOf(config(), ruleSet(["local:command"], ["webhook", "slack"])), []);
  });

  it("aws, minio and the instance metadata service apart; gcp for its actionner and output", () => {
    assert.deepEqual(needsOf(config(), ruleSet(["aws:lambda"])), ["aws"]);
    assert.deepEqual(needsOf(config(), ruleSet(["kubernetes:log"], [], [], "minio:s3")), ["kubernetes", "minio"]);
    assert.deepEqual(needsOf(config(), ruleSet(["local:command"], [], ["aws"])), ["aws-metadata"]);
    assert.deepEqual(needsOf(config(), ruleSet(["gcp:function"])), ["gcp"]);
    assert.deepEqual(needsOf(config(), ruleSet(["kubernetes:log"], [], [], "gcp:gcs")), ["gcp", "kubernetes"]);
    assert.deepEqual(awsUses(clientNeeds(config(), ruleSet(["local:command"], [], ["aws"], "aws:s3"), registries)), {
      aws: true,
      minio: false,
      metadata: true,
    });
    assert.equal(awsUses(clientNeeds(config(), ruleSet(["kubernetes:label"]), registries)), undefined);
  });
});

describe("createClientsFor", () => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-app-"));
  const kubeconfig = join(dir, "config");
  // A kubeconfig is YAML, so JSON will do; nothing is contacted when the client is created.
  const cluster = { name: "c", cluster: { server: "https://127.0.0.1:6443" } };
  const context = { name: "x", context: { cluster: "c", user: "u" } };
  const users = [{ name: "u", user: { token: "t" } }];
  writeFileSync(kubeconfig, JSON.stringify({ clusters: [cluster], users, contexts: [context], "current-context": "x" }));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const clientsFor = (c: Config, r: RuleSet) => createClientsFor(clientNeeds(c, r, registries), c, {});

  it("creates no client without a need, and names the kubeconfig setting when it is wrong", async () => {
    assert.equal((await clientsFor(config(), ruleSet(["local:command"]))).kubernetes, undefined);
    await assert.rejects(
      clientsFor(config({ kubeconfig: "/nonexistent/kubeconfig" }), ruleSet(["kubernetes:label"])),
      (e: unknown) =>
        e instanceof KestrelError && e.code === "ERR_CONFIG_INVALID" && e.message.includes('kubeconfig "/nonexistent/kubeconfig"'),
    );
  });

  it("builds the Kubernetes client and not AWS for kubernetes:label, and AWS and not Kubernetes for aws:lambda", async () => {
    const kube = await clientsFor(config({ kubeconfig }), ruleSet(["kubernetes:label"]));
    assert.notEqual(kube.kubernetes, undefined);
    assert.equal(kube.aws, undefined);
    assert.equal(kube.gcp, undefined);
    const aws = await clientsFor(config({ kubeconfig }), ruleSet(["aws:lambda"]));
    assert.notEqual(aws.aws, undefined);
    assert.equal(aws.kubernetes, undefined);
    assert.equal(aws.gcp, undefined);
  });
});
