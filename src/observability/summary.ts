// Counts kept for the summary Kestrel prints when it stops, in the spirit of Falco's exit summary.
import { PRIORITIES, priorityShortLabel } from "../events/priority.ts";

/**
 * Rule names the summary counts apart. They come from the loaded rules, not from events, but rules reloaded
 * under new names for months would add up: beyond, the rest is counted under one line.
 */
export const SUMMARY_RULE_LIMIT = 1000;
const OTHER_RULES = "(other rules)";

export class Summary {
  events = 0;
  duplicates = 0;
  rejected = 0;
  matchedEvents = 0;
  /** Events still queued when the shutdown deadline passed: their actions never ran. */
  droppedAtShutdown = 0;
  readonly bySeverity = new Array<number>(PRIORITIES.length).fill(0);
  // Counts in boxes: one map lookup per count (a hot path), where get + set would take two.
  readonly #byRule = new Map<string, { n: number }>();
  readonly #actionsByStatus = new Map<string, { n: number }>();

  countAction(status: string): void {
    increment(this.#actionsByStatus, status);
  }

  countRule(rule: string): void {
    const box = this.#byRule.get(rule);
    if (box !== undefined) box.n++;
    else increment(this.#byRule, this.#byRule.size < SUMMARY_RULE_LIMIT ? rule : OTHER_RULES);
  }

  /** Triggered rules by name, in the order they first triggered. */
  get byRule(): ReadonlyMap<string, number> {
    return unboxed(this.#byRule);
  }

  get actionsByStatus(): ReadonlyMap<string, number> {
    return unboxed(this.#actionsByStatus);
  }

  format(): string {
    const lines = [
      `Events received: ${this.events}`,
      `Events rejected: ${this.rejected}`,
      `Duplicates suppressed: ${this.duplicates}`,
      `Events matched: ${this.matchedEvents}`,
      ...(this.droppedAtShutdown > 0 ? [`Events dropped at the shutdown deadline: ${this.droppedAtShutdown}`] : []),
      "Matched events by severity:",
    ];
    this.bySeverity.forEach((n, level) => {
      if (n > 0) lines.push(`   ${priorityShortLabel(level)}: ${n}`);
    });
    lines.push("Triggered rules by rule name:");
    for (const [rule, n] of this.byRule) lines.push(`   ${rule}: ${n}`);
    lines.push("Actions by status:");
    for (const [status, n] of this.actionsByStatus) lines.push(`   ${status}: ${n}`);
    return `${lines.join("\n")}\n`;
  }
}

function increment(counts: Map<string, { n: number }>, key: string): void {
  const box = counts.get(key);
  if (box === undefined) counts.set(key, { n: 1 });
  else box.n++;
}

function unboxed(counts: Map<string, { n: number }>): ReadonlyMap<string, number> {
  return new Map([...counts].map(([key, box]) => [key, box.n]));
}
