// Starts a real Kestrel (config and rules loaded from files by the real loaders, intake listening on
// 127.0.0.1 on a free port) and captures its JSON log lines; and what tests of a running Kestrel share:
// waiting for the engine to be done, the metrics and webhook notifications it produced, a rule that acts on
// the default event.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import { type App, createApp } from "../../src/app.ts";
import type { Clients } from "../../src/clients/index.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { EngineObserver, EventOutcome } from "../../src/engine/observer.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Registry } from "../../src/plugins/registry.ts";
import type { Notification, Notifier } from "../../src/plugins/types.ts";
import { createRegistries, type Registries } from "../../src/registries.ts";
import { loadRules } from "../../src/rules/index.ts";
import { formatDiagnostic } from "../../src/yaml/source.ts";
import { falcoEvent } from "./events.ts";
import { until } from "./wait.ts";

export interface RunningKestrel {
  readonly app: App;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  /** The rules file the server loaded (tests rewrite it to reload). */
  readonly rulesFile: string;
  readonly registries: Registries;
  readonly log: Logger;
  post(body: string, headers?: Record<string, string>, path?: string): Promise<Response>;
  /** How the engine finished with the event of `traceId` (the last outcome its observer was told). */
  finished(traceId: string, timeoutMs?: number): Promise<EventOutcome>;
  /**
   * Resolves once the engine has finished every event it received or took, and every notification handed to
   * a notifier is delivered or given up: what was posted before can no longer do anything, so a test can
   * check that something did not happen without waiting a fixed time.
   */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<boolean>;
}

/**
 * What the engine is still busy with, as its observer is told: events received or taken and not finished,
 * and notifications a notifier is sending (or will retry) that are not finished. The notifier plugins are
 * wrapped to see a notification handed over; the Notifications queues hand a notification to its notifier in
 * the same turn as it is queued (or as the previous send finishes), so none is waiting unseen once the
 * events that produced it have finished.
 */
class EngineWatch {
  readonly outcomes = new Map<string, EventOutcome>();
  #open = 0;
  readonly #sending = new Set<Notification>();

  get idle(): boolean {
    return this.#open === 0 && this.#sending.size === 0;
  }

  /** The notifiers of `registry`, each instance's sends recorded. */
  notifiers(registry: Registry<Notifier>): Registry<Notifier> {
    const wrap = (plugin: Notifier): Notifier => ({
      ...plugin,
      create: async (settings, ctx) => {
        const instance = await plugin.create(settings, ctx);
        const send = instance.send.bind(instance);
        instance.send = (n, signal) => {
          this.#sending.add(n);
          return send(n, signal);
        };
        return instance;
      },
    });
    return new Registry(registry.kind, registry.list().map(wrap));
  }

  observe(app: App): void {
    // The instance's methods are replaced: the engine, the intake and the notification queues call them on it
    // (or through the tracing observer, which calls it in turn).
    const observer: EngineObserver = app.observer;
    const received = observer.eventReceived.bind(observer);
    const taken = observer.eventTaken?.bind(observer);
    const finished = observer.eventFinished?.bind(observer);
    const notified = observer.notificationFinished.bind(observer);
    observer.eventReceived = (...args) => {
      this.#open++;
      received(...args);
    };
    observer.eventTaken = (...args) => {
      this.#open++;
      taken?.(...args);
    };
    observer.eventFinished = (event, traceId, outcome) => {
      this.#open--;
      this.outcomes.set(traceId, outcome);
      finished?.(event, traceId, outcome);
    };
    observer.notificationFinished = (notifier, n, ...rest) => {
      this.#sending.delete(n);
      notified(notifier, n, ...rest);
    };
  }
}

export async function startKestrel(options: { config?: string; rules: string; clients?: Clients }): Promise<RunningKestrel> {
  const dir = await mkdtemp(join(tmpdir(), "kestrel-test-"));
  const configFile = join(dir, "config.yaml");
  const rulesFile = join(dir, "rules.yaml");
  await writeFile(configFile, `listen_address: 127.0.0.1\nlisten_port: 0\n${options.config ?? ""}`);
  await writeFile(rulesFile, options.rules);
  const watch = new EngineWatch();
  const plain = createRegistries();
  const registries: Registries = { ...plain, notifiers: watch.notifiers(plain.notifiers) };
  const { config, diagnostics } = await loadConfig({ file: configFile, env: {}, registries, requireFile: true });
  if (config === undefined) throw new Error(diagnostics.map(formatDiagnostic).join("\n"));
  const rules = await loadRules([rulesFile], registries, { strict: false });
  if (rules.ruleSet === undefined) throw new Error(rules.diagnostics.map(formatDiagnostic).join("\n"));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ format: "json", level: "debug", destination });
  const app = await createApp({
    config,
    ruleSet: rules.ruleSet,
    registries,
    log,
    defaultMetrics: false,
    ...(options.clients === undefined ? {} : { clients: options.clients }),
  });
  watch.observe(app);
  const url = await app.listen();
  return {
    app,
    url,
    logs,
    rulesFile,
    registries,
    log,
    post: (body, headers = {}, path = "/") =>
      fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
    async finished(traceId, timeoutMs = 5000) {
      await until(() => watch.outcomes.has(traceId), `the engine to finish the event of trace ${traceId}`, timeoutMs);
      return watch.outcomes.get(traceId)!;
    },
    settled: async (timeoutMs = 5000) => {
      await until(() => watch.idle, "the engine to finish every event and notification", timeoutMs);
    },
    close: () => app.close(),
  };
}

/** kestrel_notifications_total{notifier, status} as scraped from /metrics (0 when absent). */
export async function notificationsTotal(kestrel: { url: string }, notifier: string, status: string): Promise<number> {
  const text = await (await fetch(`${kestrel.url}/metrics`)).text();
  const m = new RegExp(`kestrel_notifications_total\\{notifier="${notifier}",status="${status}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** A webhook notification's body (the webhook notifier's payload): the fields the tests read. */
export interface WebhookNotification {
  message: "action" | "output";
  status: string;
  rule: string;
  action: string;
  actionner: string;
  output?: string;
  output_target?: string;
  error?: string;
  objects?: Record<string, string>;
  location?: string;
  trace_id: string;
}

/** The webhook notifications a receiver got for the trace `traceId`, in the order they came. */
export function notificationsOf(receiver: { readonly requests: readonly { body: string }[] }, traceId: string): WebhookNotification[] {
  return receiver.requests.map((r) => JSON.parse(r.body) as WebhookNotification).filter((b) => b.trace_id === traceId);
}

/**
 * POSTs a Falco event for `rule` (with `fields`) to `via`, which must answer 200, and resolves with the webhook
 * notifications of its trace once `receiver` has at least `count` of them; `detail` is added to the timeout error.
 */
export async function postForNotifications(
  via: { post(body: string): Promise<Response> },
  receiver: { readonly requests: readonly { body: string }[] },
  event: { rule: string; fields: Record<string, unknown>; count: number; timeoutMs: number },
  detail?: () => string,
): Promise<WebhookNotification[]> {
  const res = await via.post(falcoEvent({ rule: event.rule, fields: event.fields }));
  assert.equal(res.status, 200);
  const { trace_id } = (await res.json()) as { trace_id: string };
  try {
    await until(
      () => notificationsOf(receiver, trace_id).length >= event.count,
      `${event.count} notification(s) for ${event.rule}`,
      event.timeoutMs,
    );
  } catch (err) {
    throw detail === undefined ? err : new Error(`${(err as Error).message}:\n${detail()}`);
  }
  return notificationsOf(receiver, trace_id);
}

/** Rules for the default test event (falcoEvent()): the rule "Act" runs one action, "Ok" (local:command /bin/true), which succeeds. */
export const ACT_OK_RULES = `
- rule: Act
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Ok
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;
