// The event route: every POST, whatever its path (Falcosidekick posts to the address it is given). It is
// served straight from node:http rather than through a fastify route: it is the one request that arrives
// thousands of times a second, and fastify's request/reply objects, content-type parser and hooks cost
// about as much as validating, matching and queueing the event (bench/README.md has the measurement).
// The body is collected up to the limit, then validated with the other bodies of the same event-loop turn,
// which go to the engine together (deduplicated, matched, queued); the answer goes out without waiting for
// any action.
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Engine, Submission, SubmitOutcome } from "../engine/engine.ts";
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
 * Requests processed together at most, before the end of the turn: also the batch whose events the engine
 * hands to its workers together. A turn under load holds up to one request per connection; 16 and unbounded
 * batches measured the same, 16 bounds the wait of the first.
 */
const INTAKE_BATCH = 16;

export type EventRequestHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The same, for a request that waits for 100 Continue before sending its body (node:http's checkContinue). */
  readonly continued: (req: IncomingMessage, res: ServerResponse) => void;
};

/** Answers with a JSON body and its length: the answer goes out as one piece (without, node:http sends it chunked). */
function answer(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  const length = Buffer.byteLength(body);
  res.writeHead(
    status,
    extra === undefined
      ? { "content-type": JSON_TYPE, "content-length": length }
      : { "content-type": JSON_TYPE, "content-length": length, ...extra },
  );
  res.end(body);
}

function accepted(res: ServerResponse, result: SubmitOutcome, traceId: string): void {
  // The trace id is 32 hex digits and the result one of three words: nothing to escape.
  answer(res, 200, `{"result":"${result}","trace_id":"${traceId}"}`);
}

/** 503 for a full queue or a shutdown (the client retries), 500 for anything else. */
function refused(observer: EngineObserver, res: ServerResponse, err: unknown): void {
  if (err instanceof KestrelError && (err.code === "ERR_OVERLOADED" || err.code === "ERR_SHUTTING_DOWN")) {
    const shuttingDown = err.code === "ERR_SHUTTING_DOWN";
    observer.eventRejected(shuttingDown ? "shutting_down" : "overloaded", err.message);
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
}

/** A parsed event waiting for the end of its batch, with the response that answers it. */
interface Parsed extends Submission {
  readonly res: ServerResponse;
}

export function eventRoute(options: EventRouteOptions): EventRequestHandler {
  const { engine, observer, bodyLimit, guard, persist } = options;

  const tooLarge = (req: IncomingMessage, res: ServerResponse, declaredLength: number | undefined): void => {
    observer.eventRejected("too_large", `body over ${bodyLimit} bytes`);
    // The rest of the body is not consumed: the connection closes shortly after the answer (./linger.ts).
    const body = JSON.stringify({ error: `the body is larger than ${bodyLimit} bytes` });
    answerAndClose(req, res, 413, body, { "content-type": JSON_TYPE }, tooLargeBudget(declaredLength));
  };

  /** The batch's valid events, handed to the engine together once the batch is parsed. */
  let parsed: Parsed[] = [];

  const accept = (res: ServerResponse, body: string, receivedAt: number): void => {
    if (res.headersSent) return;
    let event: FalcoEvent;
    try {
      event = parseEvent(body).event;
    } catch (err) {
      const e = err as EventError;
      observer.eventRejected("invalid", e.message);
      answer(res, 400, JSON.stringify(e.field === undefined ? { error: e.message } : { error: e.message, field: e.field }));
      return;
    }
    const header = res.req.headers.traceparent;
    const traceId = traceIdFrom(header);
    // The header itself goes on (no parsing, no new string): only tracing, when enabled, reads it.
    const traceparent = typeof header === "string" ? header : undefined;
    if (persist === undefined) parsed.push({ res, event, traceId, receivedAt, traceparent });
    else {
      persist(event, body, traceId, receivedAt, traceparent).then(
        (result) => accepted(res, result, traceId),
        (err: unknown) => refused(observer, res, err),
      );
    }
  };

  const submitParsed = (): void => {
    const batch = parsed;
    if (batch.length === 0) return;
    parsed = [];
    const results = engine.submitAll(batch);
    for (let i = 0; i < batch.length; i++) {
      const { res, traceId } = batch[i]!;
      const result = results[i]!;
      if (typeof result === "string") accepted(res, result, traceId);
      else refused(observer, res, result.error);
    }
  };

  // Bodies that arrive in the same event-loop turn are validated together at its end (./turn-batch.ts), then
  // handed to the engine as one batch, whose events go to the workers together, and answered.
  const batch = new TurnBatch<ServerResponse, string>({
    limit: INTAKE_BATCH,
    handle: accept,
    onError: (err, res) => refused(observer, res, err),
    after: submitParsed,
  });

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (guard !== undefined) {
      const refusal = guard.check(req);
      if (refusal !== undefined) {
        observer.eventRejected(refusal.reason, refusal.message, req.socket.remoteAddress);
        // The body is not consumed: the connection closes shortly after the answer (./linger.ts).
        answerAndClose(
          req,
          res,
          refusal.status,
          JSON.stringify({ error: refusal.message }),
          { "content-type": JSON_TYPE, ...refusal.headers },
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
