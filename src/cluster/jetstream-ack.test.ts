// A finished event's acknowledgement is confirmed by the server (ackAck) and sent again when it was lost
// with the connection, so that the event does not run a second time after the ack wait. The connection
// goes through a TCP proxy that swallows what the client sends (the ack included) and then cuts it, as a
// network failure right after an action finished would; the real nats-server is behind it.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { type NatsServer, natsSkipReason, startNats } from "../../test/support/nats.ts";
import { JetStreamQueue, type JetStreamSettings } from "./jetstream.ts";

const log = pino({ level: "silent" });

interface Proxy {
  readonly url: string;
  /** From now on, what the current connections' clients send is swallowed (new connections pass). */
  hold(): void;
  /** Closes the current connections (the client reconnects through the proxy). */
  cut(): void;
  close(): Promise<void>;
}

async function startProxy(port: number): Promise<Proxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; held: boolean }>();
  const server = createServer((client) => {
    const pair = { client, upstream: tcpConnect(port, "127.0.0.1"), held: false };
    pairs.add(pair);
    client.on("data", (chunk) => {
      if (!pair.held) pair.upstream.write(chunk);
    });
    pair.upstream.on("data", (chunk) => client.write(chunk));
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream.destroy();
    };
    client.on("close", end).on("error", end);
    pair.upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold() {
      for (const p of pairs) p.held = true;
    },
    cut() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
    },
    close() {
      for (const p of pairs) p.client.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const settings = (url: string, stream: string): JetStreamSettings => ({
  url,
  stream,
  subject: `kestrel.${stream.toLowerCase()}`,
  durable: "workers",
  dedupWindowMs: 5000,
  ackWaitMs: 3000,
  maxDeliver: 5,
  maxMessages: 1000,
  publishTimeoutMs: 1000,
  name: "test",
});

describe("JetStream acknowledgements", { skip: natsSkipReason() }, () => {
  let nats: NatsServer;
  let proxy: Proxy;
  before(async () => {
    nats = await startNats();
    proxy = await startProxy(nats.port);
  });
  after(async () => {
    await proxy?.close();
    await nats?.close();
  });

  it("an ack lost with the connection is sent again once reconnected: the finished event does not run twice", async () => {
    const producer = await JetStreamQueue.open(settings(nats.url, "ACKACK"), log);
    const worker = await JetStreamQueue.open(settings(proxy.url, "ACKACK"), log);
    await producer.publish("the event", "k1", "t1", Date.now());
    let runs = 0;
    let finished = (): void => {};
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    worker.startWorkers(1, async () => {
      runs++;
      if (runs > 1) return;
      // The action ends; what the replica sends next (its ack) never reaches NATS, then the connection drops.
      proxy.hold();
      setTimeout(() => proxy.cut(), 300);
      finished();
    });
    const nc = await connect({ servers: nats.url });
    try {
      await done;
      // Past the ack wait (3 s) twice: an unacknowledged event would have been delivered again by now.
      await new Promise((r) => setTimeout(r, 7500));
      assert.equal(runs, 1, "the finished event ran once");
      const info = await (await jetstreamManager(nc)).consumers.info("ACKACK", "workers");
      assert.equal(info.num_ack_pending, 0, "acknowledged");
      assert.equal(info.num_redelivered, 0);
    } finally {
      await nc.close();
      await worker.close();
      await producer.close();
    }
  });
});
