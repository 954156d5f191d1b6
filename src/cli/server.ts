// `kestrel server`: load, validate, listen; on SIGTERM/SIGINT stop intake, drain, flush, print a summary.
import { type App, createApp } from "../app.ts";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../observability/logger.ts";
import { createRegistries } from "../plugins/registries.ts";
import { startLeaderElection } from "../cluster/election.ts";
import type { LeaderElector } from "../cluster/leader.ts";
import { RulesReloader } from "../reload.ts";
import { ExitError, type GlobalOptions, hasErrors, loadConfiguration, loadRuleSet, printDiagnostics, ruleFiles } from "./shared.ts";

export async function serverCommand(options: GlobalOptions): Promise<void> {
  const registries = createRegistries();
  const config = await loadConfiguration(options, registries);
  const log = createLogger({ format: config.log_format, level: config.log_level });
  const files = ruleFiles(options, config);
  const { ruleSet, diagnostics } = await loadRuleSet(files, registries);
  printDiagnostics(diagnostics);
  if (ruleSet === undefined || hasErrors(diagnostics)) throw new ExitError(1, "invalid rules");

  let app: App;
  try {
    app = await createApp({ config, ruleSet, registries, log });
  } catch (err) {
    log.fatal({ error: errorMessage(err) }, "cannot start");
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
      stopping = true;
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      process.off("SIGHUP", reload);
      reloader.close();
      log.info({ signal }, "stopping: no new events, draining queued actions");
      // The lease is released first, so that another replica leads while this one drains.
      const released = election.then((elector) => elector?.stop());
      void Promise.all([released, app.close()]).then(([, drained]) => {
        if (!drained) log.warn("the drain deadline passed: unfinished actions were cancelled");
        process.stdout.write(app.observer.summary.format());
        resolve();
      });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  const url = await app.listen();
  if (config.watch_rules) await reloader.watch();
  // Leader election runs alongside the intake; deduplication stays per replica in this mode (each replica
  // acts on what it receives).
  if (!stopping) election = startLeaderElection(config, log, app.metrics);
  log.info(
    { url, rules: ruleSet.rules.length, files, watch_rules: config.watch_rules, notifiers: [...new Set([...config.default_notifiers, ...ruleSet.notifierNames])] },
    "Kestrel is listening",
  );
  await stopped;
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || /^127\.\d+\.\d+\.\d+$/.test(address);
}
