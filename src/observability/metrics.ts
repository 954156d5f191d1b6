// Every Prometheus metric Kestrel exposes is declared here. Labels stay bounded: rule, action and actionner
// names come from the loaded rules; Falco rule names come from events (attacker-controllable), so their
// number is capped and the rest is counted under "other". Never pod names, output text or keys.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const FALCO_RULE_LABEL_LIMIT = 500;

export class Metrics {
  readonly registry = new Registry();
  readonly events: Counter<"falco_rule" | "priority" | "source">;
  readonly matches: Counter<"rule" | "falco_rule">;
  readonly actions: Counter<"rule" | "action" | "actionner" | "status">;
  readonly notifications: Counter<"notifier" | "status">;
  readonly outputs: Counter<"target" | "status">;
  readonly duplicates: Counter;
  readonly rejected: Counter<"reason">;
  readonly queueDepth: Gauge;
  readonly actionDuration: Histogram<"actionner">;
  readonly eventToAction: Histogram;
  readonly #falcoRules = new Set<string>();
  readonly #eventChildren = new Map<string, { inc(): void }>();
  // Labelled children per compiled rule/action: label hashing per call is the cost that matters at 10k+/s.
  readonly #matchChildren = new WeakMap<object, Map<string, { inc(): void }>>();
  readonly #actionChildren = new WeakMap<object, Map<string, { inc(): void }>>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.events = new Counter({ name: "kestrel_events_total", help: "Falco events accepted", labelNames: ["falco_rule", "priority", "source"], registers });
    this.matches = new Counter({ name: "kestrel_matches_total", help: "Kestrel rules triggered by an event", labelNames: ["rule", "falco_rule"], registers });
    this.actions = new Counter({
      name: "kestrel_actions_total",
      help: "Actions run, by final status (success, failure, ignored, dry_run)",
      labelNames: ["rule", "action", "actionner", "status"],
      registers,
    });
    this.notifications = new Counter({ name: "kestrel_notifications_total", help: "Notifications delivered or failed", labelNames: ["notifier", "status"], registers });
    this.outputs = new Counter({ name: "kestrel_outputs_total", help: "Artifacts stored or failed", labelNames: ["target", "status"], registers });
    this.duplicates = new Counter({ name: "kestrel_duplicates_total", help: "Events dropped as duplicates within the deduplication window", registers });
    this.rejected = new Counter({ name: "kestrel_rejected_total", help: "Requests refused by the intake", labelNames: ["reason"], registers });
    this.queueDepth = new Gauge({ name: "kestrel_queue_depth", help: "Events waiting for a worker", registers });
    this.actionDuration = new Histogram({
      name: "kestrel_action_duration_seconds",
      help: "Time an action took, preflight included",
      labelNames: ["actionner"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.eventToAction = new Histogram({
      name: "kestrel_event_to_action_seconds",
      help: "Time from the receipt of an event to the dispatch of one of its actions",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "kestrel_" });
  }

  /** Bounded label value for a Falco rule name seen in an event. */
  falcoRuleLabel(name: string): string {
    if (this.#falcoRules.has(name)) return name;
    if (this.#falcoRules.size >= FALCO_RULE_LABEL_LIMIT) return "other";
    this.#falcoRules.add(name);
    return name;
  }

  /** Counts an event; the labelled child is cached, since this runs for every event. */
  countEvent(falcoRule: string, priority: string, source: string): void {
    const key = `${falcoRule}\u0000${priority}\u0000${source}`;
    let child = this.#eventChildren.get(key);
    if (child === undefined) {
      child = this.events.labels(this.falcoRuleLabel(falcoRule), priority, source.length > 64 ? "other" : source);
      if (this.#eventChildren.size < FALCO_RULE_LABEL_LIMIT * 8) this.#eventChildren.set(key, child);
    }
    child.inc();
  }

  /** Counts a triggered rule; `owner` is the compiled rule object the cached children hang off. */
  countMatch(owner: object, rule: string, falcoRule: string): void {
    let children = this.#matchChildren.get(owner);
    if (children === undefined) this.#matchChildren.set(owner, (children = new Map()));
    let child = children.get(falcoRule);
    if (child === undefined) {
      child = this.matches.labels(rule, this.falcoRuleLabel(falcoRule));
      children.set(falcoRule, child);
    }
    child.inc();
  }

  /** Counts a finished action; `owner` is the compiled action object. */
  countAction(owner: object, rule: string, action: string, actionner: string, status: string): void {
    let children = this.#actionChildren.get(owner);
    if (children === undefined) this.#actionChildren.set(owner, (children = new Map()));
    let child = children.get(status);
    if (child === undefined) {
      child = this.actions.labels(rule, action, actionner, status);
      children.set(status, child);
    }
    child.inc();
  }

  async exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
