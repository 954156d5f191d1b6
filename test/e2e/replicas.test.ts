// Three `kestrel server` processes sharing a real nats-server (cluster.nats_url): events posted to any of
// them are acted on exactly once in all; a replica killed with SIGKILL in the middle of an action loses
// nothing: the event is delivered again to another replica once the ack wait has passed, which runs it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { falcoEvent } from "../support/events.ts";
import { type NatsServer, natsSkipReason, startNats } from "../support/nats.ts";
import { type KestrelProcess, startKestrelProcess, tempFiles } from "../support/process.ts";
import { until } from "../support/wait.ts";

type Replica = KestrelProcess & { readonly name: string };

const RULES = `
- rule: Quick
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Quick action
      actionner: local:command
      parameters: { command: ["/bin/true"] }
- rule: Slow
  match: { rules: [Slow rule] }
  actions:
    - action: Slow action
      actionner: local:command
      parameters: { command: ["/bin/sleep", "3"] }
`;

describe("replicas sharing NATS JetStream, as processes", { skip: natsSkipReason() }, () => {
  let nats: NatsServer;
  let dir: string;
  const replicas: Replica[] = [];

  before(async () => {
    nats = await startNats();
    dir = await tempFiles("kestrel-e2e-replicas-", {
      "config.yaml": `listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nlog_level: debug\nwatch_rules: false\ncluster:\n  nats_url: ${nats.url}\n  ack_wait_seconds: 2\nworkers: 4\n`,
      "rules.yaml": RULES,
    });
    for (const name of ["a", "b", "c"]) replicas.push(await start(name));
  });
  after(async () => {
    for (const r of replicas) r.kill();
    await nats?.close();
  });

  async function start(name: string): Promise<Replica> {
    return { name, ...(await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") })) };
  }

  const ran = (traceId: string) =>
    replicas.flatMap((r) => r.logs.filter((l) => l["trace_id"] === traceId && l["msg"] === "action success").map(() => r.name));

  async function post(r: Replica, body: string): Promise<string> {
    const res = await r.post(body);
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { result: string; trace_id: string };
    assert.equal(answer.result, "queued");
    return answer.trace_id;
  }

  it("acts on each event exactly once across the replicas", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await post(replicas[i % 3]!, falcoEvent()));
    await until(() => ids.every((id) => ran(id).length >= 1), "every event acted on", 15_000);
    // Every event is acknowledged and none waits: none can be delivered again once the ack wait passes.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const settled = async (): Promise<boolean> => {
        const info = await jsm.consumers.info("KESTREL_EVENTS", "kestrel-workers");
        return info.num_ack_pending === 0 && info.num_pending === 0;
      };
      await until(settled, "every event to be acknowledged", 5000, { intervalMs: 50 });
    } finally {
      await nc.close();
    }
    for (const id of ids) assert.deepEqual(ran(id).length, 1, id);
    const workers = new Set(ids.flatMap(ran));
    assert.ok(workers.size >= 2, `the work is shared (${[...workers].join(", ")})`);
  });

  it("runs the event of a replica killed mid-action on another replica", async () => {
    const traceId = await post(replicas[0]!, falcoEvent({ rule: "Slow rule" }));
    await until(
      () => replicas.some((r) => r.logs.some((l) => l["trace_id"] === traceId && l["msg"] === "action started")),
      "the slow action to start",
      10_000,
    );
    const victim = replicas.find((r) => r.logs.some((l) => l["trace_id"] === traceId && l["msg"] === "action started"))!;
    assert.equal(await victim.stop("SIGKILL"), null);
    await until(() => ran(traceId).length === 1, "another replica to run the slow action", 20_000);
    const [runner] = ran(traceId);
    assert.notEqual(runner, victim.name);
    const rerun = replicas.find((r) => r.name === runner)!;
    assert.ok(
      rerun.logs.some(
        (l) => l["trace_id"] === traceId && l["msg"] === "cluster: event delivered again (its replica stopped before finishing)",
      ),
    );

    for (const r of replicas.filter((x) => x !== victim)) assert.equal(await r.stop(), 0, `${r.name} exits 0`);
  });
});
