// The baseline of the load benchmark: a bare node:http server that reads the body, JSON.parses it and
// answers 200 with a body the size of Kestrel's answer. It does what any HTTP intake must do and nothing
// else, so Kestrel's throughput is compared with the cost of HTTP + JSON on this machine.
// Usage: node bench/bare-server.ts [port] [--coalesce] — prints "listening <port>" on stdout when ready.
// --coalesce: the bodies of one event-loop turn are parsed and answered together at its end, as Kestrel's
// intake does (src/ingest/turn-batch.ts); it shows how much of Kestrel's rate comes from that alone.
import { createServer, type ServerResponse } from "node:http";

const ANSWER = JSON.stringify({ result: "unmatched", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
// With its length, as Kestrel answers (without, node:http would send the answer chunked, which costs more).
const ANSWER_HEADERS = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(ANSWER) };
const port = Number(process.argv[2] ?? "0");
const coalesce = process.argv.includes("--coalesce");

function answer(res: ServerResponse, body: string): void {
  try {
    JSON.parse(body);
  } catch {
    res.writeHead(400, { "content-type": "application/json" }).end('{"error":"body is not valid JSON"}');
    return;
  }
  res.writeHead(200, ANSWER_HEADERS).end(ANSWER);
}

let turn: { res: ServerResponse; body: string }[] = [];
const endOfTurn = (): void => {
  const batch = turn;
  turn = [];
  for (const item of batch) answer(item.res, item.body);
};

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(req.url === "/healthz" ? 200 : 405, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
    if (!coalesce) answer(res, body);
    else if (turn.push({ res, body }) === 1) setImmediate(endOfTurn);
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
