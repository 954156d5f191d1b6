// In-memory deduplication: the same event seen again within the time window is a duplicate. The window
// runs from the first sighting (like JetStream's duplicate window), so a steady stream of repeats acts
// again once per window. All entries share one TTL, so a Map's insertion order is also expiry order and
// expired keys are purged from the front in O(1) per key, on each sighting and by a timer while idle.
// Keys are fixed-size digests (dedupKey), so the store's bytes are bounded by its entries whatever the events hold.
import { hash } from "node:crypto";
import type { FalcoEvent } from "../events/event.ts";
import { fieldText } from "../events/fields.ts";

export interface DedupStore {
  /** True when the key was already seen inside the window; otherwise records it and returns false. */
  seen(key: string, nowMs: number): boolean;
  readonly size: number;
  /** False when deduplication is off (a zero window): the key need not even be computed. */
  readonly enabled: boolean;
}

/**
 * Entries kept at most: about 100 bytes each (a 43-character digest, the Map slot, the expiry), so ~10 MB.
 * Beyond, the oldest are forgotten: a repeat of a forgotten event acts again rather than memory growing.
 */
export const DEDUP_MAX_ENTRIES = 100_000;

/** The idle purge runs at most this often (or once per window, if shorter): entries outlive their window by up to this much. */
const PURGE_INTERVAL_MS = 1000;

export class MemoryDedup implements DedupStore {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #expiries = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  /** `now`: the clock of the idle purge (seen() is given the time by its caller, Date.now() in the engine). */
  constructor(windowSeconds: number, maxEntries = DEDUP_MAX_ENTRIES, now: () => number = Date.now) {
    this.#windowMs = windowSeconds * 1000;
    this.#maxEntries = maxEntries;
    this.#now = now;
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
    this.#timer ??= this.#schedule(nowMs);
    return false;
  }

  /** Stops the idle purge (the timer does not hold the process open anyway). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A timer for when the oldest entry expires, so that an idle store empties itself. */
  #schedule(nowMs: number): NodeJS.Timeout | undefined {
    const first = this.#expiries.values().next();
    if (first.done) return undefined;
    const timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = this.#now();
        this.#purge(now);
        this.#timer = this.#schedule(now);
      },
      Math.max(first.value - nowMs, Math.min(this.#windowMs, PURGE_INTERVAL_MS)),
    );
    timer.unref();
    return timer;
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
 * The identity of an event for deduplication, as a SHA-256 digest (base64url, 43 characters): of its rule
 * and its output without the time prefix; when Falco sent no output, of its rule and output fields (minus
 * the time fields), in key order. A fixed size whatever the event holds (the store and JetStream's
 * Nats-Msg-Id header stay small), the same on every replica, and a cryptographic digest: an event cannot be
 * crafted to collide with another one and have it suppressed. Each part is prefixed by its length, so that
 * moving text from one part to the next changes the identity.
 */
export function dedupKey(event: FalcoEvent): string {
  if (event.output !== "") return hash("sha256", `${event.rule.length}:${event.rule}\u0000${event.message}`, "base64url");
  let key = `${event.rule.length}:${event.rule}\u0000`;
  const keys = Object.keys(event.outputFields).sort();
  for (const k of keys) {
    if (isTimeField(k)) continue;
    const text = fieldText(event.outputFields[k]) ?? "";
    key += `${k.length}:${k}=${text.length}:${text}\u0001`;
  }
  return hash("sha256", key, "base64url");
}
