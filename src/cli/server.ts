// `kestrel server`: load, validate, listen; on SIGTERM/SIGINT stop intake, drain, flush, print a summary.
import { type App, createApp } from "../app.ts";
import { startLeaderElection } from "../cluster/election.ts";
import type { LeaderElector } from "../cluster/leader.ts";
import { errorFields } from "../errors.ts";
import { createLogger } from "../observability/logger.ts";
import { createRegistries } from "../registries.ts";
import { RulesReloader } from "../reload.ts";
import { ExitError, type GlobalOptions, loadSetup, type Setup, SetupError } from "./shared.ts";

/** How long past shutdown_timeout_seconds the process may take to exit, whatever is still running. */
const HARD_STOP_GRACE_MS = 900;

export async function serverCommand(options: GlobalOptions): Promise<void> {
  const registries = createRegistries();
  // The same validation as `rules check` (shared.ts loadSetup): what it accepts starts here.
  let setup: Setup;
  try {
    setup = (await loadSetup(options, registries)).setup;
  } catch (err) {
    if (err instanceof SetupError) throw new ExitError(1, "invalid rules or configuration");
    throw err;
  }
  const { config, files, ruleSet } = setup;
  const log = createLogger({ format: config.log_format, level: config.log_level });

  let app: App;
  try {
    app = await createApp({ config, ruleSet, registries, log });
  } catch (err) {
    log.fatal(errorFields(err, "ERR_CONFIG_INVALID"), "cannot start");
    throw new ExitError(1);
  }
  const authenticated = config.auth.tokens.length > 0 || config.auth.tokens_file !== "" || config.tls.client_ca_file !== "";
  if (!authenticated && !isLoopback(config.listen_address)) {
    log.warn(
      { listen_address: config.listen_address, listen_port: config.listen_port },
      "SECURITY: the intake accepts events from the network without authentication: anyone who can reach it can trigger actions. Set auth.tokens (or auth.tokens_file) or tls.client_ca_file, or listen on 127.0.0.1",
    );
  }

  // The signal handlers are in place before the intake listens: a supervisor may stop Kestrel as soon as
  // it sees it ready. A stop while leader election starts (it loads the Kubernetes client) waits for it.
  let election: Promise<LeaderElector | undefined> = Promise.resolve(undefined);
  let stopping = false;
  const reloader = new RulesReloader({ files, app, registries, log, metrics: app.metrics });
  const reload = (): void => void reloader.reload("SIGHUP");
  process.on("SIGHUP", reload);
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      // A repeated signal changes nothing: the drain is bounded by shutdown_timeout_seconds anyway, and a
      // Ctrl-C under `npm start` arrives twice (from the terminal and forwarded by npm).
      if (stopping) return;
      stopping = true;
      process.off("SIGHUP", reload);
      reloader.close();
      log.info({ signal }, "stopping: no new events, draining queued actions");
      // One deadline for everything: app.close() drains within shutdown_timeout_seconds, and whatever still
      // holds the process (a lease release, a flush, a connection being torn down) cannot keep it alive
      // more than HARD_STOP_GRACE_MS past it.
      const exitAt = performance.now() + config.shutdown_timeout_seconds * 1000 + HARD_STOP_GRACE_MS;
      let finished = false;
      const finish = (drained: boolean | undefined): void => {
        if (finished) return;
        finished = true;
        clearTimeout(backstop);
        if (drained === undefined)
          log.warn({ shutdown_timeout_seconds: config.shutdown_timeout_seconds }, "the shutdown did not finish in time: exiting");
        else if (!drained) log.warn("the drain deadline passed: unfinished actions were cancelled");
        process.stdout.write(app.observer.summary.format());
        setTimeout(() => process.exit(process.exitCode ?? 0), Math.max(0, exitAt - performance.now())).unref();
        resolve();
      };
      const backstop = setTimeout(() => finish(undefined), Math.max(0, exitAt - performance.now() - 100));
      // The lease is released first, so that another replica leads while this one drains.
      const released = election.then((elector) => elector?.stop());
      void Promise.all([released, app.close()]).then(
        ([, drained]) => finish(drained),
        (err: unknown) => {
          log.error(errorFields(err, "ERR_UNEXPECTED"), "the shutdown failed");
          finish(false);
        },
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  let url: string;
  try {
    url = await app.listen();
  } catch (err) {
    // An address of another host, a name that does not resolve, a port in use: one line naming the settings.
    log.fatal(
      errorFields(err, "ERR_CONFIG_INVALID"),
      `cannot listen on listen_address ${config.listen_address} and listen_port ${config.listen_port} (LISTEN_ADDRESS, LISTEN_PORT)`,
    );
    await app.close();
    throw new ExitError(1);
  }
  if (config.watch_rules) await reloader.watch();
  // Leader election runs alongside the intake; deduplication stays per replica in this mode (each replica
  // acts on what it receives).
  if (!stopping) election = startLeaderElection(config, log, app.metrics);
  log.info(
    {
      url,
      rules: ruleSet.rules.length,
      files,
      watch_rules: config.watch_rules,
      notifiers: [...new Set([...config.default_notifiers, ...ruleSet.notifierNames])],
    },
    "Kestrel is listening",
  );
  await stopped;
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || /^127\.\d+\.\d+\.\d+$/.test(address);
}
