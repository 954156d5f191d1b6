// The HTTP intake (Falco's http_output, Falcosidekick's Talon and webhook outputs). Every POST, on `/` or
// any other path, takes one event through the event route (./events.ts), served by node:http directly;
// fastify serves the rest: /healthz, /metrics, and 405 for other methods. The app is built without
// listening, for tests.
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import type { Duplex } from "node:stream";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Engine } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import type { Metrics } from "../observability/metrics.ts";
import { type EventRouteOptions, eventRoute } from "./events.ts";
import type { IntakeGuard } from "./guard.ts";

export interface IntakeOptions {
  engine: Engine;
  metrics: Metrics;
  observer: EngineObserver;
  bodyLimit: number;
  /** Certificate and key (and client CA) when the intake speaks HTTPS. */
  tls?: HttpsOptions | undefined;
  /** Bearer tokens and rate limit for event posts. */
  guard?: IntakeGuard | undefined;
  /** Several replicas: events are persisted in the shared stream (see ./events.ts). */
  persist?: EventRouteOptions["persist"];
  /** Time a client has to send its request headers. */
  headersTimeoutMs?: number;
  /** Extra readiness conditions (rules loaded, …); undefined when ready. */
  notReadyReason?: () => string | undefined;
}

export function buildIntake(options: IntakeOptions): FastifyInstance {
  const { engine, metrics, observer } = options;
  const events = eventRoute({ engine, observer, bodyLimit: options.bodyLimit, guard: options.guard, persist: options.persist });
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(10_000, headersTimeoutMs);
  const app = Fastify({
    logger: false,
    serverFactory: (fastifyHandler) => {
      const handler = (req: IncomingMessage, res: ServerResponse): void =>
        req.method === "POST" ? events(req, res) : fastifyHandler(req, res);
      // node:http checks its header and request timeouts every connectionsCheckingInterval (30 s by
      // default, so a 10 s limit fired at up to 40 s); the handshake of a TLS client has its own timeout.
      const timing = { connectionsCheckingInterval: TIMEOUT_CHECK_MS };
      const server =
        options.tls === undefined
          ? createServer(timing, handler)
          : createHttpsServer(
              { ...options.tls, ...timing, ...(headersTimeoutMs > 0 ? { handshakeTimeout: headersTimeoutMs } : {}) },
              handler,
            );
      // Falco's http_output (libcurl) and Falcosidekick keep connections alive: keep them longer than the
      // clients' own idle timeouts, but bound how long a request may take to arrive.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = headersTimeoutMs;
      server.requestTimeout = requestTimeoutMs;
      // A request that waits for 100 Continue is checked (token, rate, declared length) before its body comes.
      server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
        if (req.method === "POST") events.continued(req, res);
        else {
          res.writeContinue();
          fastifyHandler(req, res);
        }
      });
      return server;
    },
    clientErrorHandler: (err, socket) => answerClientError(err, socket, headersTimeoutMs, requestTimeoutMs),
    return503OnClosing: true,
  });

  const methodNotAllowed = (_request: FastifyRequest, reply: FastifyReply) => {
    metrics.rejected.inc({ reason: "method" });
    return reply.code(405).header("allow", "POST").send({ error: "send Falco events with POST" });
  };

  app.get("/healthz", (_request, reply) => {
    const reason = options.notReadyReason?.() ?? readinessReason(engine);
    if (reason !== undefined) return reply.code(503).send({ status: "unavailable", reason });
    return reply.code(200).send({ status: "ok" });
  });
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.exposition();
    return reply.code(200).header("content-type", metrics.contentType).send(text);
  });
  app.route({ method: ["GET", "PUT", "DELETE", "PATCH"], url: "/", handler: methodNotAllowed });
  app.route({ method: ["GET", "PUT", "DELETE", "PATCH"], url: "/*", handler: methodNotAllowed });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) observer.problem("intake error", error);
    else observer.eventRejected("invalid", error.message);
    return reply.code(status).send({ error: status >= 500 ? "internal error" : error.message });
  });
  return app;
}

/** How often node:http looks for requests over their time limits: the limits hold to within this. */
const TIMEOUT_CHECK_MS = 500;

/**
 * node:http's clientError (a timeout, headers too large, not HTTP): answered with a reason, as every other
 * limit, then the connection is closed. Nothing from the request is echoed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, headersTimeoutMs: number, requestTimeoutMs: number): void {
  // Like node:http's own handler: no answer on a reset connection, nor over a response already started.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code !== "ECONNRESET" && socket.writable && inFlight?.headersSent !== true) {
    const [status, error] = clientErrorAnswer(err.code, headersTimeoutMs, requestTimeoutMs);
    const body = JSON.stringify({ error });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function clientErrorAnswer(code: string | undefined, headersTimeoutMs: number, requestTimeoutMs: number): [number, string] {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [
        408,
        `the request did not arrive in time: the headers are due within ${headersTimeoutMs / 1000} s, the whole request within ${requestTimeoutMs / 1000} s`,
      ];
    case "HPE_HEADER_OVERFLOW":
      return [431, "the request headers are too large"];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return [413, "the chunk extensions are too large"];
    default:
      return [400, `the request is not valid HTTP/1.1 (${code ?? "malformed"})`];
  }
}

function readinessReason(engine: Engine): string | undefined {
  const r = engine.readiness();
  return r.ok ? undefined : r.reason;
}
