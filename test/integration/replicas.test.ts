// Two Kestrel replicas sharing work through a real nats-server (cluster.nats_url): every accepted event is
// acted on exactly once by one of them, a repeat sent to the other replica inside the window is a duplicate,
// and while NATS is down the intake answers 503 (nothing accepted is lost), then recovers.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type NatsServer, natsSkipReason, startNats } from "../support/nats.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Shells
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Record
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;

async function actions(k: RunningKestrel): Promise<number> {
  const text = await (await fetch(`${k.url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^kestrel_actions_total\{[^}]*status="success"[^}]*\} (\d+)$/gm)) total += Number(m[1]);
  return total;
}

describe("replicas through NATS JetStream", { skip: natsSkipReason() }, () => {
  let nats: NatsServer;
  let a: RunningKestrel;
  let b: RunningKestrel;
  before(async () => {
    nats = await startNats();
    const config = `cluster:\n  nats_url: ${nats.url}\n  stream: REPLICAS\n  ack_wait_seconds: 5\ndeduplication:\n  time_window_seconds: 30\nworkers: 4\n`;
    a = await startKestrel({ rules: RULES, config });
    b = await startKestrel({ rules: RULES, config });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await nats?.close();
  });

  it("acts on every accepted event exactly once, on one replica or the other", async () => {
    const answers: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await (i % 2 === 0 ? a : b).post(falcoEvent());
      assert.equal(res.status, 200);
      answers.push(((await res.json()) as { result: string }).result);
    }
    assert.deepEqual(new Set(answers), new Set(["queued"]));
    await until(async () => (await actions(a)) + (await actions(b)) === 40, "40 actions in all");
    // Both replicas have finished every event they stored or took: none is being acted on a second time.
    await Promise.all([a.settled(), b.settled()]);
    const [onA, onB] = [await actions(a), await actions(b)];
    assert.equal(onA + onB, 40, "none twice");
    assert.ok(onA > 0 && onB > 0, `both replicas work (${onA} + ${onB})`);
  });

  it("answers unmatched events at once without storing them", async () => {
    const res = await a.post(falcoEvent({ rule: "Nothing wants this" }));
    assert.equal(((await res.json()) as { result: string }).result, "unmatched");
  });

  it("suppresses a repeat sent to the other replica inside the window", async () => {
    const before = (await actions(a)) + (await actions(b));
    const body = falcoEvent({ output: "14:37:27.505989596: Notice the very same shell" });
    const first = (await (await a.post(body)).json()) as { result: string };
    const again = (await (await b.post(body)).json()) as { result: string };
    assert.equal(first.result, "queued");
    assert.equal(again.result, "duplicate");
    await until(async () => (await actions(a)) + (await actions(b)) === before + 1, "the one action");
    await Promise.all([a.settled(), b.settled()]);
    assert.equal((await actions(a)) + (await actions(b)), before + 1);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    assert.match(metrics, /^kestrel_duplicates_total 1$/m);
  });

  it("answers 503 while NATS is down, and acts on events again once it is back", async () => {
    await nats.stop();
    const down = await a.post(falcoEvent());
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("retry-after"), "1");
    const health = await fetch(`${a.url}/healthz`);
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { reason: string }).reason, /NATS/);
    await nats.start();
    await until(async () => (await fetch(`${a.url}/healthz`)).status === 200, "a to reconnect", 15_000);
    const before = (await actions(a)) + (await actions(b));
    let status = 0;
    const accepted = async (): Promise<boolean> => {
      status = (await a.post(falcoEvent())).status;
      return status === 200;
    };
    await until(accepted, "an event accepted after the restart", 5000, { intervalMs: 250 });
    assert.equal(status, 200);
    await until(async () => (await actions(a)) + (await actions(b)) === before + 1, "the action after the restart", 15_000);
  });
});

describe("replicas through NATS JetStream, traced", { skip: natsSkipReason() }, () => {
  let nats: NatsServer;
  let otlp: OtlpReceiver;
  const replicas: RunningKestrel[] = [];
  before(async () => {
    nats = await startNats();
    otlp = await startOtlpReceiver();
    for (const name of ["intake", "worker"]) {
      replicas.push(
        await startKestrel({
          rules: RULES,
          config: `cluster:\n  nats_url: ${nats.url}\n  stream: TRACED\nworkers: ${name === "intake" ? 1 : 4}\notel:\n  traces_enabled: true\n  collector_endpoint: 127.0.0.1\n  collector_port: ${otlp.grpcPort}\n  collector_use_insecure_grpc: true\n  service_name: kestrel-${name}\n`,
        }),
      );
    }
  });
  after(async () => {
    for (const r of replicas) await r.close();
    await otlp?.close();
    await nats?.close();
  });

  it("traces the event on the replica that stores it and on the one that acts on it, in the caller's trace", async () => {
    const callerTrace = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const res = await replicas[0]!.post(falcoEvent(), { traceparent: `00-${callerTrace}-${callerSpan}-01` });
    assert.equal(((await res.json()) as { trace_id: string }).trace_id, callerTrace);
    await until(async () => (await actions(replicas[0]!)) + (await actions(replicas[1]!)) === 1, "the action");
    for (const r of replicas) await r.close(); // flushes the spans
    const spans = otlp.spans.filter((s) => s.traceId === callerTrace);
    const events = spans.filter((s) => s.name === "event");
    const stored = events.find((s) => s.attributes["kestrel.outcome"] === "stored");
    const handled = events.find((s) => s.attributes["kestrel.outcome"] === "handled");
    assert.ok(stored, "the intake's event span");
    assert.equal(stored.resource["service.name"], "kestrel-intake");
    assert.ok(handled, "the acting replica's event span");
    for (const e of [stored, handled]) assert.equal(e.parentSpanId, callerSpan, "both under the caller's span");
    const action = spans.find((s) => s.name === "action");
    assert.ok(action, "the action span");
    assert.equal(action.resource["service.name"], handled.resource["service.name"]);
    const match = spans.find((s) => s.name === "match" && s.parentSpanId === handled.spanId);
    assert.ok(match, "match under the acting replica's event");
    assert.equal(action.parentSpanId, match.spanId);
  });
});
