// Falco priorities, in Falco's own order: Emergency (0, most severe) … Debug (7, least severe).
// Parsing is case-insensitive and accepts the alias "info", like Falco's parse_priority; the canonical
// spelling is what Kestrel keeps and re-emits.
export const PRIORITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"] as const;

export type Priority = (typeof PRIORITIES)[number];

const byLowerName = new Map<string, number>();
for (let i = 0; i < PRIORITIES.length; i++) byLowerName.set(PRIORITIES[i]!.toLowerCase(), i);
byLowerName.set("info", 6);

/** The level (0 = Emergency … 7 = Debug) of a priority name, or -1 when it is not one. */
export function priorityLevel(name: string): number {
  // Falco always emits the canonical spelling: compared first, without lower-casing (hot path).
  switch (name) {
    case "Emergency":
      return 0;
    case "Alert":
      return 1;
    case "Critical":
      return 2;
    case "Error":
      return 3;
    case "Warning":
      return 4;
    case "Notice":
      return 5;
    case "Informational":
      return 6;
    case "Debug":
      return 7;
    default:
      return byLowerName.get(name.toLowerCase()) ?? -1;
  }
}

export function priorityName(level: number): Priority {
  const p = PRIORITIES[level];
  if (p === undefined) throw new RangeError(`no priority at level ${level}`);
  return p;
}

/** The short upper-case label Falco prints in its exit summary (INFO for Informational). */
export function priorityShortLabel(level: number): string {
  return level === 6 ? "INFO" : priorityName(level).toUpperCase();
}
