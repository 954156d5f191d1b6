// Every Prometheus metric Kestrel exposes is declared here. Labels stay bounded: rule, action and actionner
// names come from the loaded rules; Falco rule names and sources come from events (attacker-controllable),
// so they must be short and printable, their number is capped, and the rest is counted under "other".
// Never pod names, output text or keys.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { PRIORITIES } from "../events/priority.ts";
import { FastHistogram } from "./histogram.ts";

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
  matches: WeakMap<object, Cell> | undefined;
}

function newFalcoRuleCells(label: string): FalcoRuleCells {
  return { label, source: undefined, byLevel: [], otherSources: undefined, matches: undefined };
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
  readonly droppedAtShutdown: Counter;
  readonly authFailures: Counter<"reason">;
  readonly rulesReloads: Counter<"result">;
  readonly leader: Gauge;
  readonly queueDepth: Gauge;
  readonly actionDuration: FastHistogram<"actionner">;
  readonly eventToAction: FastHistogram;
  /** The Falco rule names admitted as label values (FALCO_RULE_LABEL_LIMIT), with their event cells. */
  readonly #byFalcoRule = new Map<string, FalcoRuleCells>();
  #otherFalcoRule: FalcoRuleCells | undefined;
  #lastFalcoRule = "";
  #lastFalcoRuleCells: FalcoRuleCells | undefined;
  readonly #sources = new Set<string>();
  /** The cells of the events beyond EVENT_SERIES_LIMIT, by priority level. */
  readonly #overflowCells: (Cell | undefined)[] = [];
  // The hottest counters are plain numbers, copied into prom-client at scrape time: prom-client hashes
  // the label set on every inc(), even on a labelled child, which costs more than the rest of matching.
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
      help: "Notifications delivered, failed, or skipped (a notifier the rules name but the configuration leaves unusable)",
      labelNames: ["notifier", "status"],
      registers,
      collect() {
        copyCells(this, cells.notifications);
      },
    });
    this.outputs = new Counter({
      name: "kestrel_outputs_total",
      help: "Artifacts stored or failed",
      labelNames: ["target", "status"],
      registers,
    });
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
    this.rejected = new Counter({
      name: "kestrel_rejected_total",
      help: "Requests refused by the intake",
      labelNames: ["reason"],
      registers,
    });
    this.droppedAtShutdown = new Counter({
      name: "kestrel_shutdown_dropped_events_total",
      help: "Events still queued when the shutdown deadline passed: their actions never ran (in cluster mode they go back to the stream)",
      registers,
    });
    this.authFailures = new Counter({
      name: "kestrel_auth_failures_total",
      help: "Event posts refused for their authentication: unauthorized (no token), forbidden (wrong token), auth_throttled (too many failures)",
      labelNames: ["reason"],
      registers,
    });
    this.leader = new Gauge({
      name: "kestrel_leader",
      help: "1 when this replica holds the leader lease (deduplication.leader_election)",
      registers,
    });
    this.rulesReloads = new Counter({
      name: "kestrel_rules_reload_total",
      help: "Rules reloads (watch_rules, SIGHUP), by result",
      labelNames: ["result"],
      registers,
    });
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

  /** Counts a triggered rule; `owner` is the compiled rule object the cells hang off. */
  countMatch(owner: object, rule: string, falcoRule: string): void {
    const cells = this.#falcoRuleCells(falcoRule);
    cells.matches ??= new WeakMap();
    let cell = cells.matches.get(owner);
    if (cell === undefined) {
      cell = { labels: { rule, falco_rule: cells.label }, value: 0 };
      cells.matches.set(owner, cell);
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
