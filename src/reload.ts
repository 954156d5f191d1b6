// Rules reload (watch_rules, SIGHUP): the files are loaded and validated completely, everything the new
// rules need is created, then the rule set is swapped atomically. On any problem the last good rules keep
// serving and every diagnostic is logged. Reloads never overlap: a request during a reload runs once after it.
import type { Logger } from "pino";
import type { App } from "./app.ts";
import { errorFields } from "./errors.ts";
import type { Metrics } from "./observability/metrics.ts";
import type { Registries } from "./registries.ts";
import { loadRules } from "./rules/index.ts";
import { contentsDigest, type RulesWatcher, watchRuleFiles } from "./rules/watch.ts";
import { formatDiagnostic } from "./yaml/source.ts";

export class RulesReloader {
  readonly #files: readonly string[];
  readonly #app: App;
  readonly #registries: Registries;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  #running: Promise<boolean> | undefined;
  #again: Promise<boolean> | undefined;
  #watcher: RulesWatcher | undefined;

  constructor(options: { files: readonly string[]; app: App; registries: Registries; log: Logger; metrics: Metrics }) {
    this.#files = options.files;
    this.#app = options.app;
    this.#registries = options.registries;
    this.#log = options.log;
    this.#metrics = options.metrics;
  }

  /** Reloads now (or right after the reload in progress); true when the new rules are in force. */
  reload(trigger: string): Promise<boolean> {
    if (this.#running === undefined) {
      this.#running = this.#reload(trigger).finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    // Coalesce: however many requests arrive during a reload, one more runs after it, on the latest files.
    this.#again ??= this.#running.then(() => {
      this.#again = undefined;
      return this.reload(trigger);
    });
    return this.#again;
  }

  /** Reloads when the files' contents change (watch_rules). */
  async watch(): Promise<void> {
    const initialDigest = await contentsDigest(this.#files);
    this.#watcher = watchRuleFiles(this.#files, () => void this.reload("the rules files changed"), {
      initialDigest,
      onError: (err) => this.#log.warn(errorFields(err, "ERR_UNEXPECTED"), "cannot watch the rules files; SIGHUP still reloads them"),
    });
  }

  close(): void {
    this.#watcher?.close();
  }

  async #reload(trigger: string): Promise<boolean> {
    const started = performance.now();
    this.#log.info({ trigger, files: this.#files }, "reloading the rules");
    try {
      const { ruleSet, diagnostics } = await loadRules([...this.#files], this.#registries, { strict: false });
      const errors = diagnostics.filter((d) => d.severity === "error");
      for (const d of diagnostics) {
        (d.severity === "error" ? this.#log.error : this.#log.warn).call(
          this.#log,
          { diagnostic: formatDiagnostic(d) },
          "rules reload: problem in the rules",
        );
      }
      if (ruleSet === undefined || errors.length > 0) {
        this.#metrics.rulesReloads.inc({ result: "failure" });
        this.#log.error({ errors: errors.length }, "the new rules are invalid: the previous rules stay in force");
        return false;
      }
      await this.#app.applyRules(ruleSet);
      this.#metrics.rulesReloads.inc({ result: "success" });
      this.#log.info({ rules: ruleSet.rules.length, duration_ms: Math.round(performance.now() - started) }, "rules reloaded");
      return true;
    } catch (err) {
      this.#metrics.rulesReloads.inc({ result: "failure" });
      this.#log.error(errorFields(err, "ERR_RULES_INVALID"), "the new rules cannot be applied: the previous rules stay in force");
      return false;
    }
  }
}
