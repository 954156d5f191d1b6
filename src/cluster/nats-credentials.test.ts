// cluster.nats_url may carry credentials (`nats://user:pass@host`, `nats://token@host`). The NATS client
// ignores them in a server address, so Kestrel passes them as options: checked here against a socket that
// speaks the start of the NATS protocol (INFO, then the client's CONNECT, PING → PONG) and records CONNECT.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { displayNatsUrl, natsServers } from "./jetstream.ts";

describe("cluster.nats_url credentials", () => {
  let server: Server;
  let port: number;
  const connects: Record<string, unknown>[] = [];
  before(async () => {
    server = createServer((socket) => {
      socket.write(
        `INFO ${JSON.stringify({ server_id: "test", version: "2.10.0", proto: 1, max_payload: 1048576, headers: true, auth_required: true })}\r\n`,
      );
      let buffer = "";
      socket.on("data", (chunk: Buffer) => {
        buffer += chunk.toString("utf8");
        for (let nl = buffer.indexOf("\r\n"); nl >= 0; nl = buffer.indexOf("\r\n")) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          if (line.startsWith("CONNECT ")) connects.push(JSON.parse(line.slice(8)) as Record<string, unknown>);
          else if (line === "PING") socket.write("PONG\r\n");
        }
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("splits user and password, or a token, off the server addresses", () => {
    assert.deepEqual(natsServers("nats://k%40st:p4ss@a:4222, b:4222"), {
      servers: ["nats://a:4222", "b:4222"],
      user: "k@st",
      pass: "p4ss",
    });
    assert.deepEqual(natsServers("s3cr3t@a:4222"), { servers: ["nats://a:4222"], token: "s3cr3t" });
    assert.deepEqual(natsServers("nats://a:4222"), { servers: ["nats://a:4222"] });
  });

  it("the NATS client sends them in CONNECT", async () => {
    for (const [url, expected] of [
      [`nats://kestrel:p4ss@127.0.0.1:${port}`, { user: "kestrel", pass: "p4ss" }],
      [`s3cr3t@127.0.0.1:${port}`, { auth_token: "s3cr3t" }],
    ] as const) {
      const nc = await connect({ ...natsServers(url), timeout: 5000, reconnect: false });
      await nc.close();
      const got = connects.at(-1)!;
      for (const [k, v] of Object.entries(expected)) assert.equal(got[k], v, `${k} for ${displayNatsUrl(url)}`);
    }
  });

  it("is redacted where shown", () => {
    assert.equal(displayNatsUrl("nats://kestrel:p4ss@a:4222,s3cr3t@b:4222,c:4222"), "nats://[redacted]@a:4222,[redacted]@b:4222,c:4222");
  });
});
