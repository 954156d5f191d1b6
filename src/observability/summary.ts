// Counts kept for the summary Kestrel prints when it stops, in the spirit of Falco's exit summary.
import { PRIORITIES, priorityShortLabel } from "../events/priority.ts";

export class Summary {
  events = 0;
  duplicates = 0;
  rejected = 0;
  matchedEvents = 0;
  readonly bySeverity = new Array<number>(PRIORITIES.length).fill(0);
  readonly byRule = new Map<string, number>();
  readonly actionsByStatus = new Map<string, number>();

  countAction(status: string): void {
    this.actionsByStatus.set(status, (this.actionsByStatus.get(status) ?? 0) + 1);
  }

  countRule(rule: string): void {
    this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1);
  }

  format(): string {
    const lines = [
      `Events received: ${this.events}`,
      `Events rejected: ${this.rejected}`,
      `Duplicates suppressed: ${this.duplicates}`,
      `Events matched: ${this.matchedEvents}`,
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
