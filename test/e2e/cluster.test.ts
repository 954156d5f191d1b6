// Leader election between `kestrel server` processes through the Kubernetes API test server: one leads
// (kestrel_leader 1, the Lease names it); SIGTERM releases the lease and another process leads at once;
// SIGKILL (no release) hands over once the lease has not been renewed for its duration.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { type KestrelProcess, startKestrelProcess } from "../support/process.ts";
import { until } from "../support/wait.ts";

const LEASE_SECONDS = 2;

type Replica = KestrelProcess & { readonly name: string };

describe("leader election between kestrel processes", () => {
  let api: KubeApiServer;
  let dir: string;
  const replicas: Replica[] = [];

  before(async () => {
    api = await startKubeApi();
    api.addNamespace("security");
    dir = await mkdtemp(join(tmpdir(), "kestrel-e2e-cluster-"));
    const kubeconfig = await api.writeKubeconfig(dir);
    await writeFile(
      join(dir, "config.yaml"),
      `listen_address: 127.0.0.1
listen_port: 0
log_format: json
kubeconfig: ${kubeconfig}
watch_rules: false
deduplication:
  leader_election: true
cluster:
  lease_namespace: security
  lease_duration_seconds: ${LEASE_SECONDS}
  renew_deadline_seconds: 1.5
  retry_period_seconds: 0.25
`,
    );
    await writeFile(
      join(dir, "rules.yaml"),
      `- rule: Log\n  match: {}\n  dry_run: true\n  actions:\n    - action: a\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`,
    );
  });
  after(async () => {
    for (const r of replicas) r.kill();
    await api.close();
  });

  async function start(name: string): Promise<Replica> {
    const replica = {
      name,
      ...(await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml"), env: { POD_NAME: name } })),
    };
    replicas.push(replica);
    return replica;
  }

  async function leads(r: Replica): Promise<boolean> {
    const text = await (await fetch(`${r.url}/metrics`)).text();
    return /^kestrel_leader 1$/m.test(text);
  }

  function waitLeader(r: Replica, timeoutMs: number): Promise<number> {
    return until(() => leads(r), `${r.name} to lead`, timeoutMs, { intervalMs: 50, detail: () => r.lines.join("\n") });
  }

  /** Waits until `r` has seen `leader` hold the lease (its first attempt to take it is over). */
  async function seesLeader(r: Replica, leader: string): Promise<void> {
    await r.waitForLine((l) => l.includes("leader election: new leader") && l.includes(`"leader":"${leader}"`), 5000);
  }

  const holder = () =>
    (api.get("coordination.k8s.io/v1", "Lease", "security", "kestrel") as unknown as { spec: { holderIdentity: string } } | undefined)?.spec
      .holderIdentity;

  it("one process leads; SIGTERM releases the lease and the other leads at once", async () => {
    const a = await start("kestrel-a");
    await waitLeader(a, 5000);
    const b = await start("kestrel-b");
    await seesLeader(b, "kestrel-a");
    assert.equal(await leads(b), false, "a single leader");
    assert.equal(holder(), "kestrel-a");
    assert.ok(b.lines.some((l) => l.includes("leader election: new leader") && l.includes('"leader":"kestrel-a"')));

    const stoppedAt = Date.now();
    assert.equal(await a.stop(), 0);
    assert.ok(a.lines.some((l) => l.includes("leader election: lease released")));
    await waitLeader(b, 5000);
    assert.ok(Date.now() - stoppedAt < LEASE_SECONDS * 1000, `handed over in ${Date.now() - stoppedAt} ms, before the lease could expire`);
    assert.equal(holder(), "kestrel-b");
  });

  it("after SIGKILL (no release), another process leads once the lease runs out", async () => {
    const b = replicas.find((r) => r.name === "kestrel-b")!;
    const c = await start("kestrel-c");
    await seesLeader(c, "kestrel-b");
    assert.equal(await leads(c), false);
    const killedAt = Date.now();
    b.kill();
    await waitLeader(c, 10_000);
    const failover = Date.now() - killedAt;
    assert.ok(failover >= (LEASE_SECONDS - 0.5) * 1000, `waited for the lease to run out (${failover} ms)`);
    assert.ok(failover < LEASE_SECONDS * 1000 + 2000, `failover in ${failover} ms`);
    assert.equal(holder(), "kestrel-c");
    const lease = api.get("coordination.k8s.io/v1", "Lease", "security", "kestrel") as unknown as { spec: { leaseTransitions: number } };
    assert.equal(lease.spec.leaseTransitions, 2);
  });
});
