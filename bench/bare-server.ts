// The baseline of the load benchmark: a bare node:http server that reads the body, JSON.parses it and
// answers 200 with a body the size of Kestrel's answer. It does what any HTTP intake must do and nothing
// else, so Kestrel's throughput is compared with the cost of HTTP + JSON on this machine.
// Usage: node bench/bare-server.ts [port] — prints "listening <port>" on stdout when ready.
import { createServer } from "node:http";

const ANSWER = JSON.stringify({ result: "unmatched", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
const port = Number(process.argv[2] ?? "0");

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(req.url === "/healthz" ? 200 : 405, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    try {
      JSON.parse(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"body is not valid JSON"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(ANSWER);
  });
});
// Same keep-alive settings as Kestrel's intake.
server.keepAliveTimeout = 65_000;
server.requestTimeout = 10_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address !== null ? address.port : port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
