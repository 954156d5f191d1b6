// Real HTTP servers on 127.0.0.1 that record the requests they get: a generic one (startRecordingServer,
// answering as the caller's API would) and a webhook-style receiver built on it. Answers can be scripted
// (status codes, delays) to exercise retries and slow receivers.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ApiRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
  answer: string;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer this late (a slow or hanging API). */
  delayMs?: number;
}

export interface ApiReceiver {
  readonly url: string;
  readonly requests: ApiRequest[];
  /** Answers for the next requests, in order; after them the API's own answer. */
  script(...answers: Answer[]): void;
  waitFor(count: number, timeoutMs?: number): Promise<ApiRequest[]>;
  close(): Promise<void>;
}

export type Respond = (req: { method: string; url: string; headers: IncomingHttpHeaders; body: string }) => Answer;

/** A recording server that answers with `respond` (an API's own answer) unless answers were scripted. */
/** `port` 0 (default) picks a free one; a given port brings a receiver back where it was (down then up). */
export async function startRecordingServer(respond: Respond, port = 0): Promise<ApiReceiver> {
  const requests: ApiRequest[] = [];
  const scripted: Answer[] = [];
  let waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      const answer = scripted.shift() ?? respond(r);
      requests.push({ ...r, status: answer.status, answer: answer.body ?? "" });
      for (const w of waiters) w();
      const reply = () => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? "");
      };
      if (answer.delayMs === undefined) reply();
      else setTimeout(reply, answer.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    script(...answers) {
      scripted.push(...answers);
    },
    waitFor(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve(requests);
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`expected ${count} requests, got ${requests.length} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export type RecordedRequest = ApiRequest;

export interface Receiver {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Status codes (and optional headers) for the next requests, in order; 200 after they run out. */
  script(...answers: (number | { status: number; headers?: Record<string, string>; delayMs?: number })[]): void;
  /** Resolves when at least `count` requests arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** A webhook-style receiver: answers 200 `{}` unless told otherwise. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const server = await startRecordingServer(() => ({ status: 200, headers: JSON_HEADERS, body: "{}" }), port);
  return {
    url: server.url,
    requests: server.requests,
    script(...list) {
      server.script(
        ...list.map((a): Answer => {
          const { status, headers, delayMs } = typeof a === "number" ? { status: a, headers: undefined, delayMs: undefined } : a;
          return { status, headers: { ...JSON_HEADERS, ...headers }, body: "{}", ...(delayMs ? { delayMs } : {}) };
        }),
      );
    },
    waitFor: (count, timeoutMs) => server.waitFor(count, timeoutMs),
    close: () => server.close(),
  };
}
