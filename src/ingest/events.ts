// The event route: every POST, whatever its path (Falcosidekick posts to the address it is given). It is
// served straight from node:http rather than through a fastify route: it is the one request that arrives
// thousands of times a second, and fastify's request/reply objects, content-type parser and hooks cost
// about as much as validating, matching and queueing the event (bench/README.md has the measurement).
// The body is collected up to the limit, then validated, deduplicated, matched and queued with the other
// bodies of the same event-loop turn; the answer goes out without waiting for any action.
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Engine, SubmitOutcome } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { type EventError, parseEvent } from "../events/parse.ts";
import { traceIdFrom } from "../observability/trace-context.ts";
import type { IntakeGuard } from "./guard.ts";
import { answerAndClose, LINGER_BYTES, tooLargeBudget } from "./linger.ts";
import { TurnBatch } from "./turn-batch.ts";

export interface EventRouteOptions {
  engine: Engine;
  observer: EngineObserver;
  bodyLimit: number;
  guard?: IntakeGuard | undefined;
  /** Several replicas (cluster.nats_url): the event is persisted in the shared stream before the answer. */
  persist?:
    | ((event: FalcoEvent, body: string, traceId: string, receivedAt: number, traceparent?: string) => Promise<SubmitOutcome>)
    | undefined;
}

const JSON_TYPE = "application/json; charset=utf-8";

/**
 * Requests processed together at most, before the end of the turn. A turn under load holds up to one
 * request per connection; 16 and unbounded batches measured the same, 16 bounds the wait of the first.
 */
const INTAKE_BATCH = 16;

export type EventRequestHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The same, for a request that waits for 100 Continue before sending its body (node:http's checkContinue). */
  readonly continued: (req: IncomingMessage, res: ServerResponse) => void;
};

export function eventRoute(options: EventRouteOptions): EventRequestHandler {
  const { engine, observer, bodyLimit, guard, persist } = options;

  const answer = (res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void => {
    if (res.headersSent) return;
    // With its length the answer goes out as one piece; without, node:http sends it chunked (writeHead
    // fixes the headers before end() sees the body): chunk framing, a last empty chunk, more bytes.
    const length = Buffer.byteLength(body);
    res.writeHead(
      status,
      extra === undefined
        ? { "content-type": JSON_TYPE, "content-length": length }
        : { "content-type": JSON_TYPE, "content-length": length, ...extra },
    );
    res.end(body);
  };

  const tooLarge = (req: IncomingMessage, res: ServerResponse, declaredLength: number | undefined): void => {
    observer.eventRejected("too_large", `body over ${bodyLimit} bytes`);
    // The rest of the body is not consumed: the connection closes shortly after the answer (./linger.ts).
    const body = JSON.stringify({ error: `the body is larger than ${bodyLimit} bytes` });
    answerAndClose(req, res, 413, body, { "content-type": JSON_TYPE }, tooLargeBudget(declaredLength));
  };

  const accept = (res: ServerResponse, body: string, receivedAt: number): void => {
    if (res.headersSent) return;
    const req = res.req;
    let parsed: ReturnType<typeof parseEvent>;
    try {
      parsed = parseEvent(body);
    } catch (err) {
      const e = err as EventError;
      observer.eventRejected("invalid", e.message);
      answer(res, 400, JSON.stringify(e.field === undefined ? { error: e.message } : { error: e.message, field: e.field }));
      return;
    }
    const traceparent = req.headers.traceparent;
    const traceId = traceIdFrom(traceparent);
    // The header itself goes on (no parsing, no new string): only tracing, when enabled, reads it.
    const parent = typeof traceparent === "string" ? traceparent : undefined;
    if (persist !== undefined) {
      persist(parsed.event, body, traceId, receivedAt, parent).then(
        (result) => accepted(res, result, traceId),
        (err: unknown) => refused(res, err),
      );
      return;
    }
    let result: SubmitOutcome;
    try {
      result = engine.submit(parsed.event, traceId, receivedAt, parent);
    } catch (err) {
      refused(res, err);
      return;
    }
    accepted(res, result, traceId);
  };

  const accepted = (res: ServerResponse, result: SubmitOutcome, traceId: string): void => {
    // The trace id is 32 hex digits and the result one of three words: nothing to escape.
    answer(res, 200, `{"result":"${result}","trace_id":"${traceId}"}`);
  };

  const refused = (res: ServerResponse, err: unknown): void => {
    if (err instanceof KestrelError && (err.code === "ERR_OVERLOADED" || err.code === "ERR_SHUTTING_DOWN")) {
      observer.eventRejected(err.code === "ERR_OVERLOADED" ? "overloaded" : "shutting_down", err.message);
      const shuttingDown = err.code === "ERR_SHUTTING_DOWN";
      // A client kept alive on a server that is going away should reconnect (to another replica).
      answer(
        res,
        503,
        JSON.stringify({ error: err.message }),
        shuttingDown ? { "retry-after": "1", connection: "close" } : { "retry-after": "1" },
      );
      return;
    }
    observer.problem("intake error", err);
    answer(res, 500, '{"error":"internal error"}');
  };

  // Bodies that arrive in the same event-loop turn are validated, matched and answered together at its end
  // (./turn-batch.ts), and the events they queued go to the workers right after.
  const batch = new TurnBatch<ServerResponse, string>({
    limit: INTAKE_BATCH,
    handle: accept,
    onError: (err, res) => refused(res, err),
    after: () => engine.dispatchPending(),
  });

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (guard !== undefined) {
      const refused = guard.check(req);
      if (refused !== undefined) {
        observer.eventRejected(refused.reason, refused.message, req.socket.remoteAddress);
        // The body is not consumed: the connection closes shortly after the answer (./linger.ts).
        answerAndClose(
          req,
          res,
          refused.status,
          JSON.stringify({ error: refused.message }),
          { "content-type": JSON_TYPE, ...refused.headers },
          LINGER_BYTES,
        );
        return;
      }
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > bodyLimit) {
      tooLarge(req, res, Number(declared));
      return;
    }
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit) {
        tooLarge(req, res, undefined); // chunked bodies have no content-length to check first
        return;
      }
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (res.headersSent) return;
      const body = first === undefined ? "" : (chunks === undefined ? first : Buffer.concat(chunks, size)).toString("utf8");
      batch.push(res, body, performance.now());
    });
    // A client that goes away mid-body has nothing to be answered; the request is simply not an event.
    // No 'error' listener: an IncomingMessage emits 'error' only when one is attached (node:http keeps
    // that for compatibility), and one more listener per request is measurable at this rate.
  };
  // Expect: 100-continue (curl sends it for large bodies): the client sends its body only after 100 Continue,
  // which goes out once the request passed the checks made before the body, so a refused body never comes.
  const continued = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res);
    if (!res.headersSent) res.writeContinue();
  };
  return Object.assign(route, { continued });
}
