// Every Prometheus metric Kestrel exposes is declared here. Labels stay bounded: rule, action and actionner
// names come from the loaded rules; Falco rule names come from events (attacker-controllable), so their
// number is capped and the rest is counted under "other". Never pod names, output text or keys.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { FastHistogram } from "./histogram.ts";

export const FALCO_RULE_LABEL_LIMIT = 500;

export const SOURCE_LABEL_LIMIT = 50;

/** The value itself while fewer than `limit` distinct values were seen, then "other" for new ones. */
function bounded(seen: Set<string>, value: string, limit: number): string {
  if (seen.has(value)) return value;
  if (seen.size >= limit || value.length > 128) return "other";
  seen.add(value);
  return value;
}

interface Cell {
  readonly labels: Record<string, string>;
  value: number;
}

/** Writes the cells into a counter at scrape time; cells with the same labels (rules reloaded) add up. */
function copyCells(counter: Counter<string>, cells: readonly Cell[]): void {
  counter.reset();
  for (const c of cells) if (c.value > 0) counter.inc(c.labels, c.value);
}

export class Metrics {
  readonly registry = new Registry();
  readonly events: Counter<"falco_rule" | "priority" | "source">;
  readonly matches: Counter<"rule" | "falco_rule">;
  readonly actions: Counter<"rule" | "action" | "actionner" | "status">;
  readonly notifications: Counter<"notifier" | "status">;
  readonly outputs: Counter<"target" | "status">;
  readonly duplicates: Counter;
  readonly rejected: Counter<"reason">;
  readonly rulesReloads: Counter<"result">;
  readonly leader: Gauge;
  readonly queueDepth: Gauge;
  readonly actionDuration: FastHistogram<"actionner">;
  readonly eventToAction: FastHistogram;
  readonly #falcoRules = new Set<string>();
  readonly #sources = new Set<string>();
  // The hottest counters are plain numbers, copied into prom-client at scrape time: prom-client hashes
  // the label set on every inc(), even on a labelled child, which costs more than the rest of matching.
  readonly #eventCells = new Map<string, Map<string, Map<string, Cell>>>();
  readonly #matchCells = new WeakMap<object, Map<string, Cell>>();
  readonly #actionCells = new WeakMap<object, Map<string, Cell>>();
  readonly #notificationCells = new Map<string, Map<string, Cell>>();
  readonly #cells = { events: [] as Cell[], matches: [] as Cell[], actions: [] as Cell[], notifications: [] as Cell[] };
  #duplicates = 0;
  #queueDepth = 0;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const cells = this.#cells;
    this.events = new Counter({
      name: "kestrel_events_total",
      help: "Falco events accepted",
      labelNames: ["falco_rule", "priority", "source"],
      registers,
      collect() {
        copyCells(this, cells.events);
      },
    });
    this.matches = new Counter({
      name: "kestrel_matches_total",
      help: "Kestrel rules triggered by an event",
      labelNames: ["rule", "falco_rule"],
      registers,
      collect() {
        copyCells(this, cells.matches);
      },
    });
    this.actions = new Counter({
      name: "kestrel_actions_total",
      help: "Actions run, by final status (success, failure, ignored, dry_run)",
      labelNames: ["rule", "action", "actionner", "status"],
      registers,
      collect() {
        copyCells(this, cells.actions);
      },
    });
    this.notifications = new Counter({
      name: "kestrel_notifications_total",
      help: "Notifications delivered or failed",
      labelNames: ["notifier", "status"],
      registers,
      collect() {
        copyCells(this, cells.notifications);
      },
    });
    this.outputs = new Counter({ name: "kestrel_outputs_total", help: "Artifacts stored or failed", labelNames: ["target", "status"], registers });
    const duplicates = () => this.#duplicates;
    this.duplicates = new Counter({
      name: "kestrel_duplicates_total",
      help: "Events dropped as duplicates within the deduplication window",
      registers,
      collect() {
        this.reset();
        this.inc(duplicates());
      },
    });
    this.rejected = new Counter({ name: "kestrel_rejected_total", help: "Requests refused by the intake", labelNames: ["reason"], registers });
    this.leader = new Gauge({ name: "kestrel_leader", help: "1 when this replica holds the leader lease (deduplication.leader_election)", registers });
    this.rulesReloads = new Counter({ name: "kestrel_rules_reload_total", help: "Rules reloads (watch_rules, SIGHUP), by result", labelNames: ["result"], registers });
    const depth = () => this.#queueDepth;
    this.queueDepth = new Gauge({
      name: "kestrel_queue_depth",
      help: "Events waiting for a worker",
      registers,
      collect() {
        this.set(depth());
      },
    });
    this.actionDuration = new FastHistogram({
      name: "kestrel_action_duration_seconds",
      help: "Time an action took, preflight included",
      labelNames: ["actionner"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.eventToAction = new FastHistogram({
      name: "kestrel_event_to_action_seconds",
      help: "Time from the receipt of an event to the dispatch of one of its actions",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "kestrel_" });
  }

  /** Bounded label value for a Falco rule name seen in an event. */
  falcoRuleLabel(name: string): string {
    return bounded(this.#falcoRules, name, FALCO_RULE_LABEL_LIMIT);
  }

  /** Counts an accepted event. */
  countEvent(falcoRule: string, priority: string, source: string): void {
    const ruleLabel = this.falcoRuleLabel(falcoRule);
    const sourceLabel = bounded(this.#sources, source, SOURCE_LABEL_LIMIT);
    // Nested maps rather than one joined key: no string is built (and hashed) per event.
    let byPriority = this.#eventCells.get(ruleLabel);
    if (byPriority === undefined) {
      byPriority = new Map();
      this.#eventCells.set(ruleLabel, byPriority);
    }
    let bySource = byPriority.get(priority);
    if (bySource === undefined) {
      bySource = new Map();
      byPriority.set(priority, bySource);
    }
    let cell = bySource.get(sourceLabel);
    if (cell === undefined) {
      cell = { labels: { falco_rule: ruleLabel, priority, source: sourceLabel }, value: 0 };
      bySource.set(sourceLabel, cell);
      this.#cells.events.push(cell);
    }
    cell.value++;
  }

  /** Records the queue depth (read at scrape time: it changes twice per queued event). */
  setQueueDepth(depth: number): void {
    this.#queueDepth = depth;
  }

  countDuplicate(): void {
    this.#duplicates++;
  }

  /** Counts a triggered rule; `owner` is the compiled rule object the cells hang off. */
  countMatch(owner: object, rule: string, falcoRule: string): void {
    let cells = this.#matchCells.get(owner);
    if (cells === undefined) {
      cells = new Map();
      this.#matchCells.set(owner, cells);
    }
    const label = this.falcoRuleLabel(falcoRule);
    let cell = cells.get(label);
    if (cell === undefined) {
      cell = { labels: { rule, falco_rule: label }, value: 0 };
      cells.set(label, cell);
      this.#cells.matches.push(cell);
    }
    cell.value++;
  }

  /** Counts a finished action; `owner` is the compiled action object. */
  countAction(owner: object, rule: string, action: string, actionner: string, status: string): void {
    let cells = this.#actionCells.get(owner);
    if (cells === undefined) {
      cells = new Map();
      this.#actionCells.set(owner, cells);
    }
    let cell = cells.get(status);
    if (cell === undefined) {
      cell = { labels: { rule, action, actionner, status }, value: 0 };
      cells.set(status, cell);
      this.#cells.actions.push(cell);
    }
    cell.value++;
  }

  /** Counts a notification delivered or failed (one per notification and notifier: a hot path under load). */
  countNotification(notifier: string, status: string): void {
    let byStatus = this.#notificationCells.get(notifier);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#notificationCells.set(notifier, byStatus);
    }
    let cell = byStatus.get(status);
    if (cell === undefined) {
      cell = { labels: { notifier, status }, value: 0 };
      byStatus.set(status, cell);
      this.#cells.notifications.push(cell);
    }
    cell.value++;
  }

  async exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
