// Leader election against the Kubernetes API test server, through the real client-node: exactly one leader
// at any time; a stopping leader releases the lease and another takes over within a retry period; a leader
// cut off from the API steps down at its renew deadline, and another takes over once the lease has not
// changed for a lease duration.
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { type KubeApiServer, startKubeApi } from "../../test/support/kube-api/index.ts";
import { until } from "../../test/support/wait.ts";
import { createKubeClient } from "../clients/kubernetes.ts";
import { type LeaderElectionSettings, LeaderElector } from "./leader.ts";

const log = pino({ level: "silent" });

const timing = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 };

/** A TCP proxy in front of the API server whose connections can be cut (this replica loses the API). */
async function cuttableProxy(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function clientThrough(api: KubeApiServer, port?: number) {
  const kc = api.kubeConfig();
  if (port === undefined) return createKubeClient(kc);
  const cluster = kc.getCurrentCluster()!;
  const moved = new KubeConfig();
  moved.loadFromOptions({
    clusters: [{ ...cluster, server: cluster.server.replace(/:\d+$/, `:${port}`) }],
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return createKubeClient(moved);
}

describe("leader election", () => {
  let api: KubeApiServer;
  before(async () => {
    api = await startKubeApi();
    api.addNamespace("falco");
  });
  after(async () => {
    await api.close();
  });

  const settings = (identity: string, name: string): LeaderElectionSettings => ({ namespace: "falco", name, identity, ...timing });

  it("elects exactly one of two candidates, and hands over at once when the leader stops", async (t) => {
    const events: string[] = [];
    const a = new LeaderElector(clientThrough(api), settings("pod-a", "kestrel"), log, {
      onStartedLeading: () => events.push("a leads"),
      onStoppedLeading: () => events.push("a stops"),
    });
    const b = new LeaderElector(clientThrough(api), settings("pod-b", "kestrel"), log, { onStartedLeading: () => events.push("b leads") });
    // Stopped even when an assertion fails: a running elector's timers would keep the test process alive.
    t.after(() => Promise.all([a.stop(), b.stop()]));
    a.start();
    await until(() => a.isLeader, "pod-a to lead", 8000);
    b.start();
    // For several renew periods: exactly one leader, and b knows who it is.
    for (let i = 0; i < 10; i++) {
      assert.equal(Number(a.isLeader) + Number(b.isLeader), 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(b.leader, "pod-a");
    const lease = api.get("coordination.k8s.io/v1", "Lease", "falco", "kestrel") as unknown as {
      spec: Record<string, unknown>;
      metadata: { labels: Record<string, string> };
    };
    assert.equal(lease.spec["holderIdentity"], "pod-a");
    assert.equal(lease.spec["leaseDurationSeconds"], 2);
    assert.equal(lease.metadata.labels["app.kubernetes.io/name"], "kestrel");

    await a.stop();
    assert.equal(a.isLeader, false);
    const handover = await until(() => b.isLeader, "pod-b to take over", 8000);
    assert.ok(handover < timing.leaseDurationMs, `released: taken over in ${handover} ms, before the lease could expire`);
    const taken = api.get("coordination.k8s.io/v1", "Lease", "falco", "kestrel") as unknown as { spec: Record<string, unknown> };
    assert.equal(taken.spec["holderIdentity"], "pod-b");
    assert.equal(taken.spec["leaseTransitions"], 1);
    assert.deepEqual(events, ["a leads", "a stops", "b leads"]);
    await b.stop();
  });

  it("steps down when cut off from the API, and the other takes over after the lease duration", async (t) => {
    const proxy = await cuttableProxy(Number(new URL(api.url).port));
    const a = new LeaderElector(clientThrough(api, proxy.port), settings("pod-a", "cut"), log);
    const b = new LeaderElector(clientThrough(api), settings("pod-b", "cut"), log);
    t.after(async () => {
      await Promise.all([b.stop(), a.stop()]);
      await proxy.close();
    });
    a.start();
    await until(() => a.isLeader, "pod-a to lead", 8000);
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.isLeader, false);
    proxy.cut();
    const cutAt = Date.now();
    await until(() => !a.isLeader, "pod-a to step down", 8000);
    const steppedDown = Date.now() - cutAt;
    await until(() => b.isLeader, "pod-b to take over", 8000);
    const takenOver = Date.now() - cutAt;
    assert.ok(steppedDown <= timing.renewDeadlineMs + 2 * timing.retryPeriodMs + 300, `stepped down after ${steppedDown} ms`);
    assert.ok(takenOver >= steppedDown, "never two leaders: a steps down before b takes over");
    assert.ok(takenOver <= timing.leaseDurationMs + 2 * timing.retryPeriodMs + 500, `failover in ${takenOver} ms`);
  });
});
