// Falco priorities, in Falco's own order: Emergency (0, most severe) … Debug (7, least severe).
// Parsing is case-insensitive and accepts the alias "info", like Falco's parse_priority; the canonical
// spelling is what Kestrel keeps and re-emits.
export const PRIORITIES = [
  "Emergency",
  "Alert",
  "Critical",
  "Error",
  "Warning",
  "Notice",
  "Informational",
  "Debug",
] as const;

export type Priority = (typeof PRIORITIES)[number];

const byLowerName = new Map<string, number>();
for (let i = 0; i < PRIORITIES.length; i++) byLowerName.set(PRIORITIES[i]!.toLowerCase(), i);
byLowerName.set("info", 6);

/** The level (0 = Emergency … 7 = Debug) of a priority name, or -1 when it is not one. */
export function priorityLevel(name: string): number {
  const exact = EXACT.get(name);
  if (exact !== undefined) return exact;
  return byLowerName.get(name.toLowerCase()) ?? -1;
}

// Falco always emits the canonical spelling; look that up without lower-casing first (hot path).
const EXACT = new Map<string, number>(PRIORITIES.map((p, i) => [p, i]));

export function priorityName(level: number): Priority {
  const p = PRIORITIES[level];
  if (p === undefined) throw new RangeError(`no priority at level ${level}`);
  return p;
}

/** The short upper-case label Falco prints in its exit summary (INFO for Informational). */
export function priorityShortLabel(level: number): string {
  return level === 6 ? "INFO" : priorityName(level).toUpperCase();
}
