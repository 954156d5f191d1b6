// kubectl as a second, independent client (skipped where kubectl ≥ 1.30 is not installed): if its discovery,
// label, cordon, exec and drain work unmodified, the server's URL layout, discovery documents, patch
// handling, WebSocket exec and eviction are close enough to the real thing.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type KubeApiServer, startKubeApi } from "./index.ts";

/** Why the cross-check cannot run here, if it cannot: kubectl missing, or older than 1.30 (before 1.30
 * kubectl execs over SPDY, which the test server does not speak; client-node uses WebSockets). */
function kubectlMissing(): string | undefined {
  try {
    const out = execFileSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8" });
    const { clientVersion } = JSON.parse(out) as { clientVersion?: { major?: string; minor?: string } };
    const minor = Number.parseInt(clientVersion?.minor ?? "0", 10);
    if (clientVersion?.major !== "1" || minor < 30) return `kubectl 1.${minor} is older than 1.30`;
    return undefined;
  } catch {
    return "kubectl is not installed";
  }
}

describe("kubectl against the test server", { skip: kubectlMissing() ?? false }, () => {
  let server: KubeApiServer;
  let dir: string;
  let kubeconfig: string;

  const kubectl = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        "kubectl",
        ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), ...args],
        { env: { ...process.env, HOME: dir }, timeout: 20_000 },
        (err, stdout, stderr) => {
          resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
        },
      );
    });

  before(async () => {
    server = await startKubeApi();
    dir = await mkdtemp(join(tmpdir(), "kube-api-kubectl-"));
    kubeconfig = await server.writeKubeconfig(dir);
    server.addNode("node-1");
    server.addPod("prod", "web-1", { labels: { app: "web" } });
    server.addDeployment("prod", "shop", { replicas: 2 });
    server.addDaemonSet("kube-system", "falco", { nodes: ["node-1"] });
  });

  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("discovers every served resource", async () => {
    const r = await kubectl("api-resources", "--no-headers");
    assert.equal(r.code, 0, r.stderr);
    for (const line of [
      /^pods +po +v1 +true +Pod$/m,
      /^ciliumnetworkpolicies +cnp,ciliumnp +cilium\.io\/v2 +true +CiliumNetworkPolicy$/m,
      /^networkpolicies +crd\.projectcalico\.org\/v1 +true +NetworkPolicy$/m,
    ]) {
      assert.match(r.stdout, line);
    }
  });

  it("lists with a label selector across namespaces", async () => {
    const r = await kubectl("get", "pods", "-A", "-l", "app=web", "-o", "name");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "pod/web-1\n");
  });

  it("labels (merge patch with fieldManager=kubectl-label) and cordons", async () => {
    const label = await kubectl("label", "pod", "web-1", "-n", "prod", "quarantine=true");
    assert.equal(label.code, 0, label.stderr);
    assert.equal(server.get("v1", "Pod", "prod", "web-1")!.metadata.labels.quarantine, "true");
    const patch = server.requests.find((r) => r.method === "PATCH" && r.path === "/api/v1/namespaces/prod/pods/web-1")!;
    assert.equal(patch.contentType, "application/merge-patch+json");
    assert.equal(patch.query.fieldManager, "kubectl-label");
    const cordon = await kubectl("cordon", "node-1");
    assert.equal(cordon.code, 0, cordon.stderr);
    assert.equal(server.get("v1", "Node", undefined, "node-1")!.spec.unschedulable, true);
  });

  it("execs and reports the exit code", async () => {
    const r = await kubectl("exec", "-n", "prod", "web-1", "-c", "app", "--", "sh", "-c", "echo hi; exit 2");
    assert.equal(r.stdout, "hi\n");
    assert.match(r.stderr, /command terminated with exit code 2/);
    assert.equal(r.code, 2);
    assert.equal(server.execSessions.at(-1)!.protocol, "v5.channel.k8s.io");
  });

  it("drains a node through evictions", async () => {
    const r = await kubectl("drain", "node-1", "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=10s");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node\/node-1 drained/);
    assert.deepEqual(server.list("v1", "Pod", "prod"), []);
    assert.equal(server.deletions.filter((d) => d.via === "eviction").length, 3);
    assert.equal(server.list("v1", "Pod", "kube-system").length, 1, "DaemonSet pods stay");
  });
});
