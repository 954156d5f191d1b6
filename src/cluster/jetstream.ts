// Several replicas share work through a NATS JetStream stream (cluster.nats_url). The intake publishes each
// matched event with Nats-Msg-Id = a digest of its dedup key, so JetStream's duplicate window
// (deduplication.time_window_seconds) suppresses repeats across replicas and restarts. The stream is a work
// queue: every replica pulls from one durable consumer, one message per free worker, and acknowledges it
// only after the rule's actions finished, waiting for the server's confirmation of the ack (at-least-once:
// an event whose replica died mid-action is delivered again after the ack wait). A long action keeps its
// message with "working" heartbeats, so it is not handed to a second replica while it runs. A full stream
// refuses new events (the intake answers 503), it never drops old ones.
import { hash } from "node:crypto";
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect, headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { errorFields, errorMessage, KestrelError } from "../errors.ts";
import { REDACTED, splitCredentials } from "../redact.ts";

export interface JetStreamSettings {
  readonly url: string;
  readonly stream: string;
  readonly subject: string;
  readonly durable: string;
  /** JetStream's duplicate window; 0 = no deduplication (no message ids are sent). */
  readonly dedupWindowMs: number;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  /** Events the stream holds at most; beyond, publishing fails and the intake answers 503. */
  readonly maxMessages: number;
  readonly publishTimeoutMs: number;
  /** Replica name, for the connection name (nats-server's monitoring shows it). */
  readonly name: string;
}

/** One event taken from the stream. */
export interface QueuedEvent {
  readonly body: string;
  readonly traceId: string;
  /** Epoch milliseconds when the intake accepted it (on whichever replica). */
  readonly acceptedAt: number;
  /** The original request's W3C traceparent, when it had one. */
  readonly traceparent: string | undefined;
  /** Deliveries so far (1 the first time; more after a replica died or gave it back). */
  readonly deliveryCount: number;
}

export interface NatsServers {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The servers of cluster.nats_url (comma-separated) and the credentials they carry: `nats://user:pass@host`
 * or `nats://token@host`. The NATS client ignores credentials in server addresses, so they become its
 * user/pass or token options (the first server's that has some: one connection has one identity). */
export function natsServers(url: string): NatsServers {
  const out: NatsServers = { servers: [] };
  let found = false;
  for (const raw of url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const credentials = splitCredentials(HAS_SCHEME.test(raw) ? raw : `nats://${raw}`);
    if (credentials === undefined) {
      out.servers.push(raw);
      continue;
    }
    out.servers.push(credentials.url);
    if (found) continue;
    found = true;
    if (credentials.password === "") out.token = credentials.username;
    else {
      out.user = credentials.username;
      out.pass = credentials.password;
    }
  }
  return out;
}

/** cluster.nats_url as shown in logs and errors: the credentials of each server replaced. */
export function displayNatsUrl(url: string): string {
  if (!url.includes("@")) return url;
  return url
    .split(",")
    .map((raw) => raw.replace(/^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)[^/?#]*@/i, `$1${REDACTED}@`))
    .join(",");
}

/** Times a finished event's ack is sent before a redelivery is left to JetStream (each waits publishTimeoutMs). */
const ACK_ATTEMPTS = 4;

const TRACE_HEADER = "Kestrel-Trace-Id";
const ACCEPTED_HEADER = "Kestrel-Accepted-At";
const TRACEPARENT_HEADER = "traceparent";

/**
 * The Nats-Msg-Id of an event: its dedup key, already a fixed-size SHA-256 digest (engine/dedup.ts), the
 * same on every replica. A longer key is digested here, so that no header grows with the event's text.
 */
export function messageId(dedupKey: string): string {
  return dedupKey.length <= 64 ? dedupKey : hash("sha256", dedupKey, "base64url");
}

export class JetStreamQueue {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #s: JetStreamSettings;
  readonly #log: Logger;
  #consumer: Consumer | undefined;
  #pulling = false;
  #loops: Promise<void>[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  private constructor(nc: NatsConnection, js: JetStreamClient, settings: JetStreamSettings, log: Logger) {
    this.#nc = nc;
    this.#js = js;
    this.#s = settings;
    this.#log = log;
  }

  /** Connects, and creates the stream and the consumer if they do not exist yet. */
  static async open(settings: JetStreamSettings, log: Logger): Promise<JetStreamQueue> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...natsServers(settings.url),
        name: `kestrel ${settings.name}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 5000,
      });
    } catch (err) {
      throw new KestrelError(
        "ERR_CONFIG_INVALID",
        `cluster.nats_url: cannot connect to ${displayNatsUrl(settings.url)}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      await ensureStream(jsm, settings);
      await ensureConsumer(jsm, settings);
    } catch (err) {
      await nc.close();
      throw new KestrelError(
        "ERR_CONFIG_INVALID",
        `cluster.nats_url: JetStream at ${displayNatsUrl(settings.url)} refused the stream or consumer: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const queue = new JetStreamQueue(nc, jetstream(nc, { timeout: settings.publishTimeoutMs }), settings, log);
    void queue.#watchStatus();
    return queue;
  }

  /** False while the connection to NATS is lost (it is re-established on its own). */
  get connected(): boolean {
    return this.#connected && !this.#nc.isClosed();
  }

  #connected = true;

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === "disconnect") {
        this.#connected = false;
        this.#log.warn(
          { server: displayNatsUrl(this.#s.url) },
          "cluster: disconnected from NATS; events are refused (503) until it is back",
        );
      } else if (s.type === "reconnect") {
        this.#connected = true;
        this.#log.info({ server: displayNatsUrl(this.#s.url) }, "cluster: reconnected to NATS");
      }
    }
  }

  /** Persists an event; "duplicate" when JetStream already has one with the same id in its window. */
  async publish(
    body: string,
    dedupKey: string | undefined,
    traceId: string,
    acceptedAt: number,
    traceparent?: string,
  ): Promise<"queued" | "duplicate"> {
    const h = headers();
    h.set(TRACE_HEADER, traceId);
    h.set(ACCEPTED_HEADER, String(acceptedAt));
    if (traceparent !== undefined) h.set(TRACEPARENT_HEADER, traceparent);
    try {
      const ack = await this.#js.publish(this.#s.subject, body, {
        headers: h,
        timeout: this.#s.publishTimeoutMs,
        ...(dedupKey === undefined || this.#s.dedupWindowMs <= 0 ? {} : { msgID: messageId(dedupKey) }),
      });
      return ack.duplicate ? "duplicate" : "queued";
    } catch (err) {
      throw new KestrelError("ERR_OVERLOADED", `the event could not be persisted in JetStream: ${errorMessage(err)}`, {
        cause: err,
        retryable: true,
      });
    }
  }

  /** Starts `workers` pull loops; each takes one event when free, runs `handle`, then acknowledges it. */
  startWorkers(workers: number, handle: (event: QueuedEvent) => Promise<void>): void {
    this.#pulling = true;
    for (let i = 0; i < workers; i++) this.#loops.push(this.#pullLoop(handle));
  }

  async #pullLoop(handle: (event: QueuedEvent) => Promise<void>): Promise<void> {
    while (this.#pulling) {
      let m: JsMsg | null;
      try {
        this.#consumer ??= await this.#js.consumers.get(this.#s.stream, this.#s.durable);
        m = await this.#consumer.next({ expires: 2000 });
      } catch (err) {
        if (!this.#pulling) return;
        this.#log.debug(errorFields(err, "ERR_CLUSTER"), "cluster: pull failed, retrying");
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (m === null) continue;
      if (!this.#pulling) {
        m.nak(); // taken while stopping: back to the stream for another replica, at once
        return;
      }
      const work = this.#run(m, handle);
      this.#inFlight.add(work);
      await work;
      this.#inFlight.delete(work);
    }
  }

  async #run(m: JsMsg, handle: (event: QueuedEvent) => Promise<void>): Promise<void> {
    const event: QueuedEvent = {
      body: m.string(),
      traceId: m.headers?.get(TRACE_HEADER) ?? "",
      acceptedAt: Number(m.headers?.get(ACCEPTED_HEADER) ?? Date.now()),
      traceparent: m.headers?.get(TRACEPARENT_HEADER) || undefined,
      deliveryCount: m.info.deliveryCount,
    };
    // Heartbeats keep the message ours while the actions run (and while the ack is confirmed): no second
    // replica starts the same event.
    const heartbeat = setInterval(() => m.working(), Math.max(250, this.#s.ackWaitMs / 3));
    try {
      await handle(event);
      await this.#acknowledge(m, event.traceId);
    } catch (err) {
      // Kestrel itself failed on this event (the actions' own failures are results, not errors): retry it later.
      this.#log.error(
        { trace_id: event.traceId, ...errorFields(err, "ERR_UNEXPECTED") },
        "cluster: the event could not be processed; it will be delivered again",
      );
      m.nak(5000);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Acknowledges a finished event and waits for the server to confirm it (ackAck): a plain ack is a
   * fire-and-forget publish, lost if the connection drops, and the finished event then runs again on some
   * replica after the ack wait. Unconfirmed, the ack is sent again (after a reconnection) up to ACK_ATTEMPTS
   * times while the heartbeats keep the message; only then is a second run left to JetStream, with a warning.
   */
  async #acknowledge(m: JsMsg, traceId: string): Promise<void> {
    const timeout = this.#s.publishTimeoutMs;
    // The ack subject, to send the ack again: JsMsg sends one ack at most (its implementation has the subject).
    const reply = (m as unknown as { reply?: string }).reply;
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt === 1) await m.ackAck({ timeout });
        else if (reply !== undefined && reply !== "") await this.#nc.request(reply, "+ACK", { timeout });
        else throw new Error("the message has no ack subject");
        return;
      } catch (err) {
        if (attempt >= ACK_ATTEMPTS || this.#nc.isClosed()) {
          this.#log.warn(
            { trace_id: traceId, ...errorFields(err, "ERR_CLUSTER") },
            "cluster: NATS did not confirm the acknowledgement of a finished event; it may run again",
          );
          return;
        }
      }
    }
  }

  /** Stops taking events, waits for those in progress (acknowledged), then closes the connection. */
  async close(): Promise<void> {
    this.#pulling = false;
    await Promise.all(this.#loops);
    await Promise.all(this.#inFlight);
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close();
    }
  }
}

async function ensureStream(jsm: JetStreamManager, s: JetStreamSettings): Promise<void> {
  const config = {
    name: s.stream,
    subjects: [s.subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_msgs: s.maxMessages,
    // 0 would make nats-server apply its 2-minute default; without message ids nothing is deduplicated anyway.
    duplicate_window: nanos(s.dedupWindowMs > 0 ? s.dedupWindowMs : 1000),
  };
  try {
    const info = await jsm.streams.info(s.stream);
    if (info.config.duplicate_window !== config.duplicate_window || info.config.max_msgs !== config.max_msgs) {
      await jsm.streams.update(s.stream, { duplicate_window: config.duplicate_window, max_msgs: config.max_msgs });
    }
  } catch (err) {
    if (!/stream not found/i.test(errorMessage(err))) throw err;
    await addStream(jsm, config);
  }
}

/**
 * Replicas starting together may all get here. JetStream accepts the same definition twice, but a creation
 * racing another one can be refused ("subjects overlap with an existing stream", seen in CI): when the
 * stream exists afterwards, the other replica created it and this one goes on.
 */
export async function addStream(jsm: JetStreamManager, config: Parameters<JetStreamManager["streams"]["add"]>[0]): Promise<void> {
  try {
    await jsm.streams.add(config);
  } catch (err) {
    const exists = await jsm.streams.info(config.name).then(
      () => true,
      () => false,
    );
    if (!exists) throw err;
  }
}

async function ensureConsumer(jsm: JetStreamManager, s: JetStreamSettings): Promise<void> {
  try {
    await jsm.consumers.add(s.stream, {
      durable_name: s.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(s.ackWaitMs),
      max_deliver: s.maxDeliver,
      filter_subject: s.subject,
    });
  } catch (err) {
    // Created earlier with other timings (a new configuration): the ones that may change are updated.
    if (!/already exists|consumer name already in use/i.test(errorMessage(err))) throw err;
    await jsm.consumers.update(s.stream, s.durable, { ack_wait: nanos(s.ackWaitMs), max_deliver: s.maxDeliver });
  }
}
