// The JetStream work queue against a real nats-server: duplicates inside the window are refused across
// publishers, each event goes to exactly one of several consumers and is acknowledged only after its
// handler finished, an event whose consumer vanished mid-work is delivered again, a long handler keeps its
// event (heartbeats), and publishing fails cleanly while NATS is down.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { type NatsServer, natsSkipReason, startNats } from "../../test/support/nats.ts";
import { until } from "../../test/support/wait.ts";
import { addStream, JetStreamQueue, type JetStreamSettings, type QueuedEvent } from "./jetstream.ts";

const log = pino({ level: "silent" });

const settings = (url: string, stream: string, over: Partial<JetStreamSettings> = {}): JetStreamSettings => ({
  url,
  stream,
  subject: `kestrel.${stream.toLowerCase()}`,
  durable: "workers",
  dedupWindowMs: 5000,
  ackWaitMs: 1000,
  maxDeliver: 5,
  maxMessages: 1000,
  publishTimeoutMs: 1000,
  name: "test",
  ...over,
});

describe("creating the stream", () => {
  // What a replica sees when another one's creation of the stream races its own (seen under load in CI).
  const refusal = new Error("subjects overlap with an existing stream");
  const manager = (exists: boolean) =>
    ({
      streams: {
        add: () => Promise.reject(refusal),
        info: () => (exists ? Promise.resolve({}) : Promise.reject(new Error("stream not found"))),
      },
    }) as unknown as Parameters<typeof addStream>[0];
  const config = { name: "KESTREL", subjects: ["kestrel.events"] };

  it("goes on when the refused stream exists afterwards: another replica created it", async () => {
    await addStream(manager(true), config);
  });

  it("fails with the refusal when the stream still does not exist", async () => {
    await assert.rejects(addStream(manager(false), config), refusal);
  });
});

describe("JetStream work queue", { skip: natsSkipReason() }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    await nats?.close();
  });
  // Every queue a test opened is closed after it, also when an assertion failed: an open connection would
  // keep reconnecting to the stopped server and the test process would never end.
  const opened: JetStreamQueue[] = [];
  const open = async (s: JetStreamSettings): Promise<JetStreamQueue> => {
    const q = await JetStreamQueue.open(s, log);
    opened.push(q);
    return q;
  };
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((q) => q.close()));
  });

  it("refuses a duplicate id from any publisher within the window; each event reaches one consumer once", async () => {
    // Replicas starting at the same moment race to create the stream and the consumer: all of them start.
    const [a, b] = await Promise.all([open(settings(nats.url, "DEDUP")), open(settings(nats.url, "DEDUP"))]);
    assert.equal(await a.publish("event-1", "key-1", "t1", Date.now()), "queued");
    assert.equal(await b.publish("event-1 again", "key-1", "t1b", Date.now()), "duplicate", "same key from another replica");
    for (let i = 2; i <= 20; i++) await (i % 2 === 0 ? a : b).publish(`event-${i}`, `key-${i}`, `t${i}`, Date.now());
    assert.equal(await a.publish("no id", undefined, "t-none", Date.now()), "queued");
    assert.equal(await a.publish("no id", undefined, "t-none2", Date.now()), "queued", "without a key nothing is deduplicated");

    const seen: { by: string; e: QueuedEvent }[] = [];
    const handler = (by: string) => async (e: QueuedEvent) => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push({ by, e });
    };
    a.startWorkers(2, handler("a"));
    b.startWorkers(2, handler("b"));
    await until(() => seen.length === 22, "22 events", 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // past the ack wait: nothing comes back
    assert.equal(seen.length, 22);
    assert.equal(new Set(seen.map((s) => s.e.traceId)).size, 22, "each event once");
    assert.ok(seen.some((s) => s.by === "a") && seen.some((s) => s.by === "b"), "both replicas work");
    const first = seen.find((s) => s.e.traceId === "t1")!.e;
    assert.equal(first.body, "event-1");
    assert.equal(first.deliveryCount, 1);
    assert.ok(Math.abs(first.acceptedAt - Date.now()) < 30_000);
    await a.close();
    await b.close();
  });

  it("delivers again an event whose replica vanished without acknowledging, and keeps one being worked on", async () => {
    const s = settings(nats.url, "REDELIVER", { ackWaitMs: 1000 });
    const producer = await open(s);
    await producer.publish("crash", "crash", "crash", Date.now());
    await producer.publish("slow", "slow", "slow", Date.now());

    // A replica that takes the first event and dies: its connection goes away, no ack, no heartbeat.
    const dying = await connect({ servers: nats.url });
    const taken = await (await jetstream(dying).consumers.get(s.stream, s.durable)).next({ expires: 2000 });
    assert.equal(taken?.headers?.get("Kestrel-Trace-Id"), "crash");
    await dying.close();

    // A survivor: "slow" takes 2.5 ack waits; its heartbeats (every third of one) keep it from being
    // delivered a second time.
    const survivor = await open(s);
    const deliveries: QueuedEvent[] = [];
    survivor.startWorkers(1, async (e) => {
      deliveries.push(e);
      if (e.traceId === "slow") await new Promise((r) => setTimeout(r, 2500));
    });
    await until(() => deliveries.some((e) => e.traceId === "crash"), "the event of the vanished replica to come back", 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      deliveries.map((e) => [e.traceId, e.deliveryCount]),
      [
        ["slow", 1],
        ["crash", 2],
      ],
    );
    await survivor.close();
    await producer.close();
  });

  it("fails to publish while NATS is down, and works again once it is back", async () => {
    const q = await open(settings(nats.url, "RESTART", { publishTimeoutMs: 500 }));
    await nats.stop();
    await assert.rejects(q.publish("x", "k1", "t", Date.now()), (e: unknown) => (e as { code?: string }).code === "ERR_OVERLOADED");
    assert.equal(q.connected, false);
    await nats.start();
    await until(() => q.connected, "the reconnection", 10_000);
    let status = "";
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      try {
        status = await q.publish("x", "k2", "t", Date.now());
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal(status, "queued");
    await q.close();
  });
});
