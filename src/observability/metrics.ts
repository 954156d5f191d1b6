// Every Prometheus metric Kestrel exposes is declared here. Labels stay bounded: rule, action and actionner
// names come from the loaded rules; Falco rule names and sources come from events (attacker-controllable),
// so they must be short and printable, their number is capped, and the rest is counted under "other".
// Never pod names, output text or keys.
import { Counter, collectDefaultMetrics, Gauge, Histogram, type LabelValues, Registry } from "prom-client";
import { PRIORITIES } from "../events/priority.ts";

export const FALCO_RULE_LABEL_LIMIT = 500;

export const SOURCE_LABEL_LIMIT = 50;

/** Series of kestrel_events_total at most; beyond, new combinations count under falco_rule and source "other". */
export const EVENT_SERIES_LIMIT = 5000;

/** Characters of a label value taken from an event; longer values become "other". */
export const LABEL_VALUE_LIMIT = 128;

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A value from an event that may be a label value: short, printable, well-formed Unicode. */
function isLabelValue(value: string): boolean {
  return value.length <= LABEL_VALUE_LIMIT && value.isWellFormed() && !CONTROL.test(value);
}

/** The value itself while fewer than `limit` distinct values were seen, then "other" for new ones. */
function bounded(seen: Set<string>, value: string, limit: number): string {
  // Checked before the lookup: a hostile 1 MiB value is not even hashed.
  if (!isLabelValue(value)) return "other";
  if (seen.has(value)) return value;
  if (seen.size >= limit) return "other";
  seen.add(value);
  return value;
}

/** What the counters read of a compiled rule and action (rules/types.ts): their names, and the object itself as a key. */
interface NamedRule {
  readonly name: string;
}
interface NamedAction {
  readonly name: string;
  readonly actionnerName: string;
}

interface Cell {
  readonly labels: Record<string, string>;
  value: number;
}

/** The events counted for one Falco rule label: by priority level for the first source seen, else by source. */
interface FalcoRuleCells {
  readonly label: string;
  /** The first source label (never an event's raw text: a 1 MiB source is not kept). */
  source: string | undefined;
  readonly byLevel: (Cell | undefined)[];
  otherSources: Map<string, (Cell | undefined)[]> | undefined;
  /** The matches of this Falco rule, by compiled rule. */
  matches: WeakMap<NamedRule, Cell> | undefined;
}

function newFalcoRuleCells(label: string): FalcoRuleCells {
  return { label, source: undefined, byLevel: [], otherSources: undefined, matches: undefined };
}

/** A counter whose values are the cells', written at scrape time; cells with the same labels (rules reloaded) add up. */
function cellCounter<L extends string>(
  config: { name: string; help: string; labelNames: L[] },
  registry: Registry,
  cells: readonly Cell[],
): Counter<L> {
  return new Counter({
    ...config,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of cells) if (c.value > 0) this.inc(c.labels as LabelValues<L>, c.value);
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  /** The Falco rule names admitted as label values (FALCO_RULE_LABEL_LIMIT), with their event cells. */
  readonly #byFalcoRule = new Map<string, FalcoRuleCells>();
  #otherFalcoRule: FalcoRuleCells | undefined;
  #lastFalcoRule = "";
  #lastFalcoRuleCells: FalcoRuleCells | undefined;
  readonly #sources = new Set<string>();
  /** The cells of the events beyond EVENT_SERIES_LIMIT, by priority level. */
  readonly #overflowCells: (Cell | undefined)[] = [];
  // The hottest counters are plain numbers, copied into prom-client at scrape time: prom-client hashes and
  // validates the label set on every inc(), even on a labelled child (2 µs for three labels in process).
  // Counting through prom-client's labels instead cost 17 % more server CPU per request in `npm run
  // bench:ab` (2026-12-07, the median of five runs' medians: 1.03, 1.12, 1.17, 1.20, 1.23; noise ≈ 8 %).
  // The histograms, observed once per dispatched action, are prom-client's own: a histogram of typed
  // arrays measured 1.02 (0.97–1.10) against them, within the noise.
  readonly #actionCells = new WeakMap<NamedAction, Map<string, Cell>>();
  readonly #notificationCells = new Map<string, Map<string, Cell>>();
  readonly #cells = { events: [] as Cell[], matches: [] as Cell[], actions: [] as Cell[], notifications: [] as Cell[] };
  #duplicates = 0;
  #queueDepth = 0;

  // Registered in this order, which is the order of the exposition.
  readonly events = cellCounter(
    { name: "kestrel_events_total", help: "Falco events accepted", labelNames: ["falco_rule", "priority", "source"] },
    this.registry,
    this.#cells.events,
  );
  readonly matches = cellCounter(
    { name: "kestrel_matches_total", help: "Kestrel rules triggered by an event", labelNames: ["rule", "falco_rule"] },
    this.registry,
    this.#cells.matches,
  );
  readonly actions = cellCounter(
    {
      name: "kestrel_actions_total",
      help: "Actions run, by final status (success, failure, ignored, dry_run)",
      labelNames: ["rule", "action", "actionner", "status"],
    },
    this.registry,
    this.#cells.actions,
  );
  readonly notifications = cellCounter(
    {
      name: "kestrel_notifications_total",
      help: "Notifications delivered, failed, or skipped (a notifier the rules name but the configuration leaves unusable)",
      labelNames: ["notifier", "status"],
    },
    this.registry,
    this.#cells.notifications,
  );
  readonly outputs = new Counter({
    name: "kestrel_outputs_total",
    help: "Artifacts stored or failed",
    labelNames: ["target", "status"],
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: "kestrel_duplicates_total",
    help: "Events dropped as duplicates within the deduplication window",
    registers: [this.registry],
    collect: (): void => {
      this.duplicates.reset();
      this.duplicates.inc(this.#duplicates);
    },
  });
  readonly rejected = new Counter({
    name: "kestrel_rejected_total",
    help: "Requests refused by the intake",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly droppedAtShutdown = new Counter({
    name: "kestrel_shutdown_dropped_events_total",
    help: "Events still queued when the shutdown deadline passed: their actions never ran (in cluster mode they go back to the stream)",
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: "kestrel_auth_failures_total",
    help: "Event posts refused for their authentication: unauthorized (no token), forbidden (wrong token), auth_throttled (too many failures)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "kestrel_leader",
    help: "1 when this replica holds the leader lease (deduplication.leader_election)",
    registers: [this.registry],
  });
  readonly rulesReloads = new Counter({
    name: "kestrel_rules_reload_total",
    help: "Rules reloads (watch_rules, SIGHUP), by result",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly queueDepth: Gauge = new Gauge({
    name: "kestrel_queue_depth",
    help: "Events waiting for a worker",
    registers: [this.registry],
    collect: (): void => this.queueDepth.set(this.#queueDepth),
  });
  readonly actionDuration = new Histogram({
    name: "kestrel_action_duration_seconds",
    help: "Time an action took, preflight included",
    labelNames: ["actionner"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly eventToAction = new Histogram({
    name: "kestrel_event_to_action_seconds",
    help: "Time from the receipt of an event to the dispatch of one of its actions",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "kestrel_" });
  }

  /** Counts an accepted event (`priorityLevel`: 0 = Emergency … 7 = Debug). */
  countEvent(falcoRule: string, priorityLevel: number, source: string): void {
    const cells = this.#falcoRuleCells(falcoRule);
    // One map lookup per event in the usual case: a Falco rule has one source, so its cells by priority
    // level sit in an array; another source (a name reused across plugins) has its own array.
    const byLevel = source === cells.source ? cells.byLevel : this.#byLevelOf(cells, source);
    const cell = byLevel[priorityLevel] ?? this.#newEventCell(cells.label, byLevel, priorityLevel, source);
    cell.value++;
  }

  /** The cells of a Falco rule name: its own while fewer than the limit were seen, else those of "other". */
  #falcoRuleCells(name: string): FalcoRuleCells {
    // The matches of an event are counted right after the event itself: the same name, looked up once.
    if (name === this.#lastFalcoRule && this.#lastFalcoRuleCells !== undefined) return this.#lastFalcoRuleCells;
    const cells = (name.length > LABEL_VALUE_LIMIT ? undefined : this.#byFalcoRule.get(name)) ?? this.#admitFalcoRule(name);
    this.#lastFalcoRule = name;
    this.#lastFalcoRuleCells = cells;
    return cells;
  }

  #admitFalcoRule(name: string): FalcoRuleCells {
    if (this.#byFalcoRule.size >= FALCO_RULE_LABEL_LIMIT || !isLabelValue(name)) {
      this.#otherFalcoRule ??= newFalcoRuleCells("other");
      return this.#otherFalcoRule;
    }
    const cells = newFalcoRuleCells(name);
    this.#byFalcoRule.set(name, cells);
    return cells;
  }

  /** The cells of a source other than the rule's first; keyed by its label, so at most SOURCE_LABEL_LIMIT + 1. */
  #byLevelOf(cells: FalcoRuleCells, source: string): (Cell | undefined)[] {
    const label = bounded(this.#sources, source, SOURCE_LABEL_LIMIT);
    if (cells.source === undefined) cells.source = label;
    if (label === cells.source) return cells.byLevel;
    cells.otherSources ??= new Map();
    let byLevel = cells.otherSources.get(label);
    if (byLevel === undefined) {
      byLevel = [];
      cells.otherSources.set(label, byLevel);
    }
    return byLevel;
  }

  #newEventCell(falcoRule: string, byLevel: (Cell | undefined)[], level: number, source: string): Cell {
    const priority = PRIORITIES[level] ?? "Debug";
    if (this.#cells.events.length >= EVENT_SERIES_LIMIT) {
      let cell = this.#overflowCells[level];
      if (cell === undefined) {
        cell = { labels: { falco_rule: "other", priority, source: "other" }, value: 0 };
        this.#overflowCells[level] = cell;
        this.#cells.events.push(cell);
      }
      byLevel[level] = cell;
      return cell;
    }
    const cell: Cell = {
      labels: { falco_rule: falcoRule, priority, source: bounded(this.#sources, source, SOURCE_LABEL_LIMIT) },
      value: 0,
    };
    byLevel[level] = cell;
    this.#cells.events.push(cell);
    return cell;
  }

  /** Records the queue depth (read at scrape time: it changes twice per queued event). */
  setQueueDepth(depth: number): void {
    this.#queueDepth = depth;
  }

  countDuplicate(): void {
    this.#duplicates++;
  }

  /** Counts a triggered rule; its cells hang off the compiled rule object. */
  countMatch(rule: NamedRule, falcoRule: string): void {
    const cells = this.#falcoRuleCells(falcoRule);
    cells.matches ??= new WeakMap();
    let cell = cells.matches.get(rule);
    if (cell === undefined) {
      cell = { labels: { rule: rule.name, falco_rule: cells.label }, value: 0 };
      cells.matches.set(rule, cell);
      this.#cells.matches.push(cell);
    }
    cell.value++;
  }

  /** Counts a finished action of `rule`; its cells hang off the compiled action object. */
  countAction(rule: NamedRule, action: NamedAction, status: string): void {
    let cells = this.#actionCells.get(action);
    if (cells === undefined) {
      cells = new Map();
      this.#actionCells.set(action, cells);
    }
    let cell = cells.get(status);
    if (cell === undefined) {
      cell = { labels: { rule: rule.name, action: action.name, actionner: action.actionnerName, status }, value: 0 };
      cells.set(status, cell);
      this.#cells.actions.push(cell);
    }
    cell.value++;
  }

  /** Observes an action's duration; a value that is not finite (a clock going backwards) is not observed. */
  observeActionDuration(actionner: string, seconds: number): void {
    if (Number.isFinite(seconds)) this.actionDuration.observe({ actionner }, seconds);
  }

  /** Observes the time from an event's receipt to the dispatch of one of its actions (not when not finite). */
  observeEventToAction(seconds: number): void {
    if (Number.isFinite(seconds)) this.eventToAction.observe(seconds);
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
