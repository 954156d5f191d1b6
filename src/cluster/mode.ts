// Several replicas (cluster.nats_url): the intake of any replica matches the event (an event no rule wants
// is answered at once and never stored), then persists it in JetStream, which deduplicates it across
// replicas; the answer waits for JetStream's acknowledgement, so a 200 means the event is durable and a
// failure to persist is a 503. Workers of every replica take events from the stream and run them through
// their engine's scheduler (per-pod order, timeouts, notifications), acknowledging each once its actions
// finished.
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import { dedupKey } from "../engine/dedup.ts";
import type { Engine, SubmitOutcome } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import { parseEvent } from "../events/parse.ts";
import { displayNatsUrl, JetStreamQueue } from "./jetstream.ts";

export interface ClusterMode {
  /** Matches and persists one event; resolves with what the intake answers. */
  submit(event: FalcoEvent, body: string, traceId: string, receivedAt: number, traceparent?: string): Promise<SubmitOutcome>;
  /** Starts taking events from the stream (after the intake listens). */
  startWorkers(): void;
  /** Why events cannot be accepted now, or undefined. */
  notReadyReason(): string | undefined;
  /** Stops taking events, lets those in progress finish and be acknowledged, disconnects. */
  close(): Promise<void>;
}

export async function openClusterMode(options: {
  config: Config;
  engine: Engine;
  observer: EngineObserver;
  log: Logger;
  identity?: string;
}): Promise<ClusterMode> {
  const { config, engine, observer, log } = options;
  const c = config.cluster;
  const queue = await JetStreamQueue.open(
    {
      url: c.nats_url,
      stream: c.stream,
      subject: `kestrel.${c.stream.toLowerCase()}`,
      durable: "kestrel-workers",
      dedupWindowMs: config.deduplication.time_window_seconds * 1000,
      ackWaitMs: c.ack_wait_seconds * 1000,
      maxDeliver: c.max_deliver,
      maxMessages: config.queue.size,
      publishTimeoutMs: 2000,
      name: options.identity ?? hostname(),
    },
    log,
  );
  log.info({ nats_url: displayNatsUrl(c.nats_url), stream: c.stream }, "cluster: events are shared through JetStream");
  let accepting = true;
  const dedup = config.deduplication.time_window_seconds > 0;

  return {
    async submit(event, body, traceId, receivedAt, traceparent) {
      if (!accepting) throw new KestrelError("ERR_SHUTTING_DOWN", "Kestrel is shutting down");
      observer.eventReceived(event, traceId, traceparent, receivedAt);
      if (engine.ruleSet.match(event).length === 0) {
        observer.eventFinished?.(event, traceId, "unmatched");
        return "unmatched";
      }
      const acceptedAt = Date.now() - (performance.now() - receivedAt);
      let outcome: "queued" | "duplicate";
      try {
        outcome = await queue.publish(body, dedup ? dedupKey(event) : undefined, traceId, Math.round(acceptedAt), traceparent);
      } catch (err) {
        observer.eventFinished?.(event, traceId, "overloaded");
        throw err;
      }
      if (outcome === "duplicate") {
        observer.eventDuplicate(event, traceId);
        observer.eventFinished?.(event, traceId, "duplicate");
        return "duplicate";
      }
      observer.eventFinished?.(event, traceId, "stored");
      return "queued";
    },
    startWorkers() {
      queue.startWorkers(config.workers, async (queued) => {
        const { event } = parseEvent(queued.body); // validated by the intake that stored it
        if (queued.deliveryCount > 1) {
          log.warn(
            { trace_id: queued.traceId, deliveries: queued.deliveryCount },
            "cluster: event delivered again (its replica stopped before finishing)",
          );
        }
        // The receipt time on this replica's clock, so that receipt→dispatch covers the time in the stream.
        const receivedAt = performance.now() - Math.max(0, Date.now() - queued.acceptedAt);
        await engine.process(event, queued.traceId, receivedAt, queued.traceparent);
        // Actions cut by the shutdown deadline did not finish: the event goes back to the stream.
        if (engine.cancelled) throw new KestrelError("ERR_SHUTTING_DOWN", "the actions were cancelled by the shutdown");
      });
    },
    notReadyReason() {
      return queue.connected ? undefined : "disconnected from NATS: events cannot be persisted";
    },
    async close() {
      accepting = false;
      await queue.close();
    },
  };
}
