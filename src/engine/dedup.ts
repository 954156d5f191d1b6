// In-memory deduplication: the same event seen again within the time window is a duplicate. The window
// runs from the first sighting (like JetStream's duplicate window), so a steady stream of repeats acts
// again once per window. All entries share one TTL, so a Map's insertion order is also expiry order and
// expired keys are purged from the front in O(1) per key.
import type { FalcoEvent } from "../events/event.ts";
import { fieldText } from "../events/fields.ts";

export interface DedupStore {
  /** True when the key was already seen inside the window; otherwise records it and returns false. */
  seen(key: string, nowMs: number): boolean;
  readonly size: number;
  /** False when deduplication is off (a zero window): the key need not even be computed. */
  readonly enabled: boolean;
}

export class MemoryDedup implements DedupStore {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #expiries = new Map<string, number>();

  constructor(windowSeconds: number, maxEntries = 1_000_000) {
    this.#windowMs = windowSeconds * 1000;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#expiries.size;
  }

  get enabled(): boolean {
    return this.#windowMs > 0;
  }

  seen(key: string, nowMs: number): boolean {
    if (this.#windowMs <= 0) return false;
    this.#purge(nowMs);
    const expiry = this.#expiries.get(key);
    if (expiry !== undefined && expiry > nowMs) return true;
    // Bounded memory under a flood of unique events: forget the oldest first.
    if (this.#expiries.size >= this.#maxEntries) {
      const oldest = this.#expiries.keys().next();
      if (!oldest.done) this.#expiries.delete(oldest.value);
    }
    this.#expiries.set(key, nowMs + this.#windowMs);
    return false;
  }

  #purge(nowMs: number): void {
    for (const [key, expiry] of this.#expiries) {
      if (expiry > nowMs) return;
      this.#expiries.delete(key);
    }
  }
}

// Time-bearing fields differ on every repeat of the same event; they are not part of its identity.
function isTimeField(key: string): boolean {
  return key.startsWith("evt.time") || key.startsWith("evt.datetime") || key === "evt.rawtime" || key === "evt.num";
}

/**
 * The identity of an event for deduplication: its rule and its output without the time prefix; when Falco
 * sent no output, its rule and output fields (minus the time fields), in key order.
 */
export function dedupKey(event: FalcoEvent): string {
  if (event.output !== "") return `${event.rule}\u0000${event.message}`;
  let key = `${event.rule}\u0000`;
  const keys = Object.keys(event.outputFields).sort();
  for (const k of keys) {
    if (isTimeField(k)) continue;
    key += `${k}=${fieldText(event.outputFields[k])}\u0001`;
  }
  return key;
}
