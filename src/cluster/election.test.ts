import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../config/schema.ts";
import { leaseNamespace, replicaIdentity } from "./election.ts";

const config = (cluster: Partial<Config["cluster"]> = {}) =>
  ({ cluster: { lease_namespace: "", identity: "", ...cluster } }) as unknown as Config;

describe("leader election settings", () => {
  it("finds the lease namespace as Talon does: setting, $NAMESPACE, service account, falco", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-sa-"));
    const sa = join(dir, "namespace");
    await writeFile(sa, "security\n");
    assert.equal(leaseNamespace(config({ lease_namespace: "ops" }), { NAMESPACE: "x" }, sa), "ops");
    assert.equal(leaseNamespace(config(), { NAMESPACE: "from-env" }, sa), "from-env");
    assert.equal(leaseNamespace(config(), {}, sa), "security");
    assert.equal(leaseNamespace(config(), {}, join(dir, "missing")), "falco");
  });

  it("names the replica by the setting, $POD_NAME, else the host name", () => {
    assert.equal(replicaIdentity(config({ identity: "me" }), { POD_NAME: "pod" }), "me");
    assert.equal(replicaIdentity(config(), { POD_NAME: "kestrel-7d9f-abcde" }), "kestrel-7d9f-abcde");
    assert.equal(replicaIdentity(config(), {}), hostname());
  });
});
