// A syslog-over-TLS receiver (RFC 5425) for the syslog notifier's tls transport: a node:tls server with a
// self-signed certificate that reads RFC 6587 octet-counted frames (`<length> <message>`) and records each
// message and the connection it came on. rsyslog can do TLS only with its gnutls/openssl drivers, which
// its Debian package does not include; the framing and the handshake are what this test is about.
import type { AddressInfo, Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { selfSignedCertificate } from "./tls.ts";

export interface TlsSyslogMessage {
  readonly connection: number;
  readonly text: string;
}

export interface TlsSyslogReceiver {
  readonly port: number;
  readonly caFile: string;
  readonly messages: TlsSyslogMessage[];
  /** TLS handshakes completed. */
  readonly connections: number;
  /** Failed handshakes (a client that refused the certificate). */
  readonly handshakeFailures: number;
  /** Closes every open connection (the server keeps listening). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startTlsSyslogReceiver(): Promise<TlsSyslogReceiver> {
  const certificate = selfSignedCertificate("kestrel-syslog-tls-");
  const messages: TlsSyslogMessage[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let handshakeFailures = 0;
  const server = createServer({ key: certificate.key, cert: certificate.cert }, (socket: TLSSocket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space <= 0) return;
        const length = Number(buffer.subarray(0, space).toString("latin1"));
        if (!Number.isInteger(length)) throw new Error(`not an octet-counted frame: ${buffer.subarray(0, 40).toString()}`);
        if (buffer.length < space + 1 + length) return;
        messages.push({ connection, text: buffer.subarray(space + 1, space + 1 + length).toString("utf8") });
        buffer = buffer.subarray(space + 1 + length);
      }
    });
  });
  server.on("tlsClientError", () => handshakeFailures++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caFile: certificate.certFile,
    messages,
    get connections() {
      return connections;
    },
    get handshakeFailures() {
      return handshakeFailures;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
