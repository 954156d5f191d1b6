// Builds a running Kestrel from a validated configuration and rules: notifiers, engine, intake. Nothing
// here reads process.env or exits the process; the CLI does that, tests call this directly.
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { type Clients, createClients } from "./clients/index.ts";
import type { ClusterMode } from "./cluster/mode.ts";
import { DELIVERY_KEYS, deliverySettings, type NotificationFilter, notificationFilter } from "./config/delivery.ts";
import type { Config } from "./config/schema.ts";
import { MemoryDedup } from "./engine/dedup.ts";
import { Engine } from "./engine/engine.ts";
import { Notifications } from "./engine/notify.ts";
import { errorMessage, KestrelError } from "./errors.ts";
import { createGuard } from "./ingest/guard.ts";
import { buildIntake } from "./ingest/http.ts";
import { intakeTlsOptions } from "./ingest/tls.ts";
import { unconfiguredNotifier } from "./notifiers/_unconfigured.ts";
import { Metrics } from "./observability/metrics.ts";
import { Observer } from "./observability/observer.ts";
import type { ClientNeed, Notifier, NotifierInstance } from "./plugins/types.ts";
import type { Registries } from "./registries.ts";
import { awsUses, clientNeeds } from "./rules/needs.ts";
import { unconfiguredReason } from "./rules/setup-check.ts";
import type { RuleSet } from "./rules/types.ts";

export interface AppOptions {
  config: Config;
  ruleSet: RuleSet;
  registries: Registries;
  log: Logger;
  clients?: Clients;
  /** Prometheus process metrics (off in tests that build many apps). */
  defaultMetrics?: boolean;
}

export interface App {
  readonly intake: FastifyInstance;
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly observer: Observer;
  /**
   * Replaces the rules: creates the clients and notifiers the new rules need first, then swaps atomically.
   * Throws (and changes nothing) when one of them cannot be created.
   */
  applyRules(ruleSet: RuleSet): Promise<void>;
  /** Starts listening on `listen_address:listen_port` (port 0 = any free port); returns the URL. */
  listen(): Promise<string>;
  /** Stops the intake, drains the queue within the deadline, flushes notifiers. True when fully drained. */
  close(): Promise<boolean>;
}

/** Checks the aws.* and minio.* settings in use and verifies the AWS credentials (once, with STS). */
async function prepareAws(clients: Clients, needs: ReadonlySet<ClientNeed>, log: Logger): Promise<void> {
  const uses = awsUses(needs);
  if (uses === undefined || clients.aws === undefined) return;
  const identity = await clients.aws.prepare(uses);
  if (identity !== undefined) log.info({ aws_identity: identity }, "AWS credentials verified");
}

/**
 * The clients that the plugins in use declare they need (rules/needs.ts); a cluster or cloud that cannot be
 * reached by config is an error now. The client modules (and so their SDKs: client-node, AWS, Google Cloud)
 * are loaded only when a rule, notifier or context needs them.
 */
export async function createClientsFor(
  needs: ReadonlySet<ClientNeed>,
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Clients> {
  const kubernetes = needs.has("kubernetes") ? (await import("./clients/kubernetes.ts")).kubeClientFor(config.kubeconfig, env) : undefined;
  // Credentials are read and checked now: a bad gcp.credentials_path stops the start.
  const gcp = needs.has("gcp") ? (await import("./clients/gcp/index.ts")).createGcpClient(config.gcp, { env }) : undefined;
  const aws =
    awsUses(needs) === undefined
      ? undefined
      : (await import("./clients/aws/index.ts")).createAwsClients({ aws: config.aws, minio: config.minio, env });
  return createClients({
    ...(kubernetes === undefined ? {} : { kubernetes }),
    ...(gcp === undefined ? {} : { gcp }),
    ...(aws === undefined ? {} : { aws }),
  });
}

/** Creates the notifiers the configuration and the rules name, each from its validated settings. */
export async function createNotifiers(
  config: Config,
  ruleSet: RuleSet,
  registries: Registries,
  clients: Clients,
  log: Logger,
  existing: ReadonlySet<string> = new Set(),
): Promise<Map<string, NotifierInstance>> {
  const names = new Set([...config.default_notifiers, ...ruleSet.notifierNames]);
  const instances = new Map<string, NotifierInstance>();
  for (const name of names) {
    if (existing.has(name)) continue;
    const plan = notifierPlan(config, registries, name);
    if ("standIn" in plan) {
      instances.set(name, plan.standIn);
      continue;
    }
    try {
      instances.set(name, await plan.plugin.create(plan.settings, { clients, log: log.child({ notifier: name }) }));
    } catch (err) {
      await Promise.allSettled([...instances.values()].map((i) => i.close?.())); // the ones already started
      throw new KestrelError("ERR_CONFIG_INVALID", `notifier "${name}" could not start: ${errorMessage(err)}`, { cause: err });
    }
  }
  return instances;
}

type NotifierPlan =
  | { readonly plugin: Notifier; readonly settings: Parameters<Notifier["create"]>[0] }
  | { readonly standIn: NotifierInstance };

/** The plugin of notifier `name` and its validated settings, or the stand-in that skips its sends. */
function notifierPlan(config: Config, registries: Registries, name: string): NotifierPlan {
  const plugin = registries.notifiers.get(name);
  if (plugin === undefined) throw new KestrelError("ERR_PLUGIN_UNKNOWN", `unknown notifier "${name}"`);
  // loadConfig already validated the settings it holds; only a notifier named by the rules alone is
  // checked here, with its defaults. One the configuration leaves unusable is skipped (its sends
  // counted), as Talon does, unless unconfigured_notifiers is "error" (rules/setup-check.ts warns first).
  const configured = config.notifiers[name];
  const unusable = unconfiguredReason(config, registries, name);
  if (unusable !== undefined) {
    if (config.unconfigured_notifiers === "error" || config.default_notifiers.includes(name)) {
      throw new KestrelError("ERR_CONFIG_INVALID", `notifier "${name}" is used but not configured: ${unusable}`);
    }
    return { standIn: unconfiguredNotifier(name, unusable) };
  }
  const parsed = configured === undefined ? plugin.params.safeParse({}) : { success: true as const, data: configured };
  if (!parsed.success) throw new KestrelError("ERR_CONFIG_INVALID", `notifier "${name}" is used but not configured`);
  return { plugin, settings: parsed.data };
}

/** The notifier's own delivery filter (min_priority, on_status), when it has one. */
function filterOf(config: Config, name: string): NotificationFilter | undefined {
  const settings = deliverySettings.safeParse(pick(config.notifiers[name] ?? {}, DELIVERY_KEYS));
  return settings.success ? notificationFilter(settings.data) : undefined;
}

export async function createApp(options: AppOptions): Promise<App> {
  const { config, ruleSet, registries, log } = options;
  const needs = clientNeeds(config, ruleSet, registries);
  let clients = options.clients ?? (await createClientsFor(needs, config));
  await prepareAws(clients, needs, log);
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? true });
  const observer = new Observer({ log, metrics, printAllEvents: config.print_all_events });
  const instances = await createNotifiers(config, ruleSet, registries, clients, log);
  // OpenTelemetry (otel.*): undefined when off, and the engine then reports to the observer alone.
  // OpenTelemetry and NATS are loaded only when configured: their SDKs cost startup time and memory.
  const telemetry =
    config.otel.traces_enabled || config.otel.metrics_enabled
      ? (await import("./observability/telemetry.ts")).createTelemetry(config.otel, { log, metrics })
      : undefined;
  const reporting = telemetry?.observer(observer) ?? observer;
  const filters = new Map<string, NotificationFilter>();
  for (const name of instances.keys()) {
    const filter = filterOf(config, name);
    if (filter !== undefined) filters.set(name, filter);
  }
  const notifications = new Notifications({ instances, defaults: config.default_notifiers, observer: reporting, filters });
  // With several replicas (cluster.nats_url), JetStream deduplicates across them: no per-process dedup.
  const shared = config.cluster.nats_url !== "";
  const engine = new Engine({
    ruleSet,
    dedup: new MemoryDedup(shared ? 0 : config.deduplication.time_window_seconds),
    notifications,
    observer: reporting,
    clients,
    contexts: registries.contexts,
    log,
    queueSize: config.queue.size,
    workers: config.workers,
    actionTimeoutMs: config.action_timeout_seconds * 1000,
  });
  const cluster = shared
    ? await (await import("./cluster/mode.ts")).openClusterMode({ config, engine, observer: reporting, log })
    : undefined;
  const { intake, guard, tls } = guardedIntake(config, { engine, metrics, observer }, cluster);
  let closing: Promise<boolean> | undefined;

  return {
    intake,
    engine,
    metrics,
    observer,
    async applyRules(next) {
      // Everything the new rules need is created before the swap; if anything fails, nothing changes.
      const nextNeeds = clientNeeds(config, next, registries);
      const needed = await createClientsFor(nextNeeds, config);
      const merged: Clients = { ...needed, ...clients }; // clients already in use are kept (connections, caches)
      await prepareAws(merged, nextNeeds, log);
      const added = await createNotifiers(config, next, registries, merged, log, notifications.names);
      for (const [name, instance] of added) notifications.add(name, instance, filterOf(config, name));
      clients = merged;
      engine.setRules(next, merged);
    },
    async listen() {
      await intake.listen({ host: config.listen_address, port: config.listen_port });
      const addr = intake.server.address() as AddressInfo;
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      cluster?.startWorkers();
      return `${tls === undefined ? "http" : "https"}://${host}:${addr.port}`;
    },
    close() {
      closing ??= (async () => {
        // One deadline for everything: the queued actions, then the notifications, get the time left of
        // shutdown_timeout_seconds from now; what is left then is dropped (counted, logged once).
        const deadline = config.shutdown_timeout_seconds * 1000;
        const end = performance.now() + deadline;
        guard?.close();
        const intakeClosed = intake.close();
        // The cluster's workers stop taking events and wait for theirs (acknowledged when finished, given
        // back when the deadline cancelled them) while the engine drains.
        const [drained] = await Promise.all([engine.drain(deadline), cluster?.close()]);
        await intakeClosed;
        await notifications.close(Math.max(0, end - performance.now()));
        await telemetry?.close(); // after the notifications: their spans go out too
        return drained;
      })();
      return closing;
    },
  };
}

/** The HTTP intake with its TLS, and its guard (tokens, rate limit) when one is configured. */
function guardedIntake(
  config: Config,
  parts: { readonly engine: Engine; readonly metrics: Metrics; readonly observer: Observer },
  cluster: ClusterMode | undefined,
) {
  const tls = intakeTlsOptions(config.tls);
  const guard = createGuard(
    {
      tokens: config.auth.tokens,
      tokensFile: config.auth.tokens_file,
      eventsPerSecond: config.limits.events_per_second,
      burst: config.limits.burst,
    },
    (err) => parts.observer.problem("auth.tokens_file could not be re-read; the previous tokens stay in force", err),
  );
  const intake = buildIntake({
    ...parts,
    bodyLimit: config.body_limit_bytes,
    tls,
    guard,
    headersTimeoutMs: config.limits.header_timeout_seconds * 1000,
    persist: cluster?.submit,
    notReadyReason: () => cluster?.notReadyReason(),
  });
  return { intake, guard, tls };
}

function pick(obj: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
