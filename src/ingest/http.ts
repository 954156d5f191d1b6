// The HTTP intake (Falco's http_output, Falcosidekick's Talon and webhook outputs). Every POST, on `/` or
// any other path, takes one event through the event route (./events.ts), served by node:http directly;
// fastify serves the rest: /healthz, /metrics, and 405 for other methods. The app is built without
// listening, for tests.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
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
  const app = Fastify({
    logger: false,
    serverFactory: (fastifyHandler) => {
      const handler = (req: IncomingMessage, res: ServerResponse): void => (req.method === "POST" ? events(req, res) : fastifyHandler(req, res));
      const server = options.tls === undefined ? createServer(handler) : createHttpsServer(options.tls, handler);
      // Falco's http_output (libcurl) and Falcosidekick keep connections alive: keep them longer than the
      // clients' own idle timeouts, but bound how long a request may take to arrive.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = options.headersTimeoutMs ?? 10_000;
      server.requestTimeout = Math.max(10_000, server.headersTimeout);
      return server;
    },
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

function readinessReason(engine: Engine): string | undefined {
  const r = engine.readiness();
  return r.ok ? undefined : r.reason;
}
