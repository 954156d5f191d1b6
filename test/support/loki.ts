// A recording HTTP receiver that answers like Loki's push API (`POST /loki/api/v1/push`): 204 with no
// body when accepted; scripted 429 (with Retry-After), 5xx or 400 with Loki's plain-text error bodies.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface LokiPush {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The decoded push body (undefined when the body was not JSON). */
  json: { streams: { stream: Record<string, string>; values: [string, string][] }[] } | undefined;
}

export interface LokiAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface FakeLoki {
  readonly url: string;
  readonly pushes: LokiPush[];
  /** Accepted pushes only. */
  readonly accepted: LokiPush[];
  script(...answers: (number | LokiAnswer)[]): void;
  close(): Promise<void>;
}

const BODIES: Record<number, string> = {
  400: "entry for stream '{app=\"kestrel\"}' has timestamp too old\n",
  429: "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1' lines totaling '100' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased\n",
  500: "rpc error: code = Unavailable desc = empty ring\n",
};

export async function startFakeLoki(): Promise<FakeLoki> {
  const pushes: LokiPush[] = [];
  const accepted: LokiPush[] = [];
  const answers: LokiAnswer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: LokiPush["json"];
      try {
        json = JSON.parse(body) as LokiPush["json"];
      } catch {
        json = undefined;
      }
      const push: LokiPush = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, json };
      pushes.push(push);
      if (req.method !== "POST" || req.url !== "/loki/api/v1/push") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("404 page not found\n");
        return;
      }
      if (json === undefined || !Array.isArray(json.streams)) {
        res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("error parsing push request\n");
        return;
      }
      const answer = answers.shift() ?? { status: 204 };
      if (answer.status === 204) {
        accepted.push(push);
        res.writeHead(204).end();
        return;
      }
      res
        .writeHead(answer.status, { "content-type": "text/plain; charset=utf-8", ...answer.headers })
        .end(answer.body ?? BODIES[answer.status] ?? "error\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pushes,
    accepted,
    script(...list) {
      for (const a of list) answers.push(typeof a === "number" ? { status: a } : a);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
