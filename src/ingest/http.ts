// The HTTP intake (Falco's http_output, Falcosidekick's Talon and webhook outputs). POST on `/` or any
// other non-reserved path takes one event: it is validated, deduplicated, matched and queued, and the
// answer goes out without waiting for any action. The app is built without listening, for tests.
import { performance } from "node:perf_hooks";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Engine } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { KestrelError } from "../errors.ts";
import { type EventError, parseEvent } from "../events/parse.ts";
import type { Metrics } from "../observability/metrics.ts";
import { traceIdFrom } from "./trace.ts";

export interface IntakeOptions {
  engine: Engine;
  metrics: Metrics;
  observer: EngineObserver;
  bodyLimit: number;
  /** Extra readiness conditions (rules loaded, …); undefined when ready. */
  notReadyReason?: () => string | undefined;
}

const acceptedSchema = {
  200: {
    type: "object",
    properties: { result: { type: "string" }, trace_id: { type: "string" } },
  },
} as const;

export function buildIntake(options: IntakeOptions): FastifyInstance {
  const { engine, metrics, observer } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    // Falco's http_output and Falcosidekick keep connections alive; answer quickly, never hang.
    connectionTimeout: 10_000,
    keepAliveTimeout: 65_000,
    requestTimeout: 10_000,
    return503OnClosing: true,
  });

  // Events are parsed by Kestrel itself (exact big integers, clear reasons), whatever the content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  const ingest = (request: FastifyRequest, reply: FastifyReply) => {
    const receivedAt = performance.now();
    const body = typeof request.body === "string" ? request.body : "";
    let parsed: ReturnType<typeof parseEvent>;
    try {
      parsed = parseEvent(body);
    } catch (err) {
      const e = err as EventError;
      observer.eventRejected("invalid", e.message);
      return reply.code(400).send(e.field === undefined ? { error: e.message } : { error: e.message, field: e.field });
    }
    const traceId = traceIdFrom(request.headers.traceparent);
    try {
      const result = engine.submit(parsed.event, traceId, receivedAt);
      return reply.code(200).send({ result, trace_id: traceId });
    } catch (err) {
      if (err instanceof KestrelError && (err.code === "ERR_OVERLOADED" || err.code === "ERR_SHUTTING_DOWN")) {
        observer.eventRejected(err.code === "ERR_OVERLOADED" ? "overloaded" : "shutting_down", err.message);
        return reply.code(503).header("retry-after", "1").send({ error: err.message });
      }
      throw err;
    }
  };

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
  app.post("/", { schema: { response: acceptedSchema } }, ingest);
  app.post("/*", { schema: { response: acceptedSchema } }, ingest);
  app.route({ method: ["GET", "PUT", "DELETE", "PATCH"], url: "/", handler: methodNotAllowed });
  app.route({ method: ["GET", "PUT", "DELETE", "PATCH"], url: "/*", handler: methodNotAllowed });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      observer.eventRejected("too_large", error.message);
      return reply.code(413).send({ error: `the body is larger than ${options.bodyLimit} bytes` });
    }
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
