// The object store: one global, monotonically increasing resourceVersion (as etcd's revision), and a change
// feed that watches replay from a given resourceVersion. Objects go in and out as deep copies so that
// neither tests nor handlers can change stored state by accident.
import { randomUUID } from "node:crypto";
import type { ResourceType } from "./resources.ts";
import type { KubeObject } from "./types.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface ChangeEvent {
  type: ChangeType;
  rt: ResourceType;
  object: KubeObject;
  /** The previous state, for MODIFIED (so that watches with selectors can see objects leave them). */
  old?: KubeObject;
  rv: number;
}

// kube's generateName alphabet: no vowels (no accidental words) and no confusable characters.
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function randomSuffix(length = 5): string {
  let s = "";
  for (let i = 0; i < length; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** JSON equality regardless of key order (clients serialise keys in their own order). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class Store {
  private rv = 1000;
  private readonly tables = new Map<ResourceType, Map<string, KubeObject>>();
  private readonly history: ChangeEvent[] = [];
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private readonly historyLimit: number;
  private truncated = false;

  constructor(historyLimit = 20_000) {
    this.historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private table(rt: ResourceType): Map<string, KubeObject> {
    let t = this.tables.get(rt);
    if (t === undefined) {
      t = new Map();
      this.tables.set(rt, t);
    }
    return t;
  }

  has(rt: ResourceType, namespace: string | undefined, name: string): boolean {
    return this.table(rt).has(key(rt.namespaced ? namespace : undefined, name));
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.table(rt).get(key(rt.namespaced ? namespace : undefined, name));
    return o === undefined ? undefined : structuredClone(o);
  }

  list(rt: ResourceType, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const o of this.table(rt).values()) {
      if (namespace === undefined || !rt.namespaced || o.metadata.namespace === namespace) out.push(structuredClone(o));
    }
    return out.sort((a, b) => key(a.metadata.namespace, a.metadata.name!).localeCompare(key(b.metadata.namespace, b.metadata.name!)));
  }

  /** Every stored object of every type, for the garbage collector. */
  *all(): Generator<[ResourceType, KubeObject]> {
    for (const [rt, t] of this.tables) for (const o of t.values()) yield [rt, o];
  }

  /** Fills in name (from generateName), uid, creationTimestamp, generation and resourceVersion, and stores. */
  insert(rt: ResourceType, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      do meta.name = `${meta.generateName}${randomSuffix()}`;
      while (this.has(rt, meta.namespace, meta.name));
    }
    if (!rt.namespaced) delete meta.namespace;
    const k = key(meta.namespace, meta.name!);
    if (this.table(rt).has(k)) throw new Error(`kube-api test server: ${rt.plural} ${k} already exists`);
    meta.uid ??= randomUUID();
    meta.creationTimestamp ??= timestamp();
    meta.generation ??= 1;
    meta.resourceVersion = String(++this.rv);
    this.table(rt).set(k, obj);
    this.emit({ type: "ADDED", rt, object: structuredClone(obj), rv: this.rv });
    return structuredClone(obj);
  }

  /** Stores a new state of an existing object (the caller has checked preconditions). */
  replace(rt: ResourceType, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    const k = key(rt.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name!);
    const old = this.table(rt).get(k);
    if (old === undefined) throw new Error(`kube-api test server: ${rt.plural} ${k} does not exist`);
    obj.metadata.uid = old.metadata.uid;
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp;
    const oldGen = old.metadata.generation ?? 1;
    obj.metadata.generation = sameJson(obj.spec, old.spec) ? oldGen : oldGen + 1;
    obj.metadata.resourceVersion = String(++this.rv);
    this.table(rt).set(k, obj);
    this.emit({ type: "MODIFIED", rt, object: structuredClone(obj), old: structuredClone(old), rv: this.rv });
    return structuredClone(obj);
  }

  /** Removes an object; `finalState` can stamp it (deletionTimestamp…) for the DELETED event and the answer. */
  delete(rt: ResourceType, namespace: string | undefined, name: string, finalState?: (o: KubeObject) => void): KubeObject | undefined {
    const k = key(rt.namespaced ? namespace : undefined, name);
    const obj = this.table(rt).get(k);
    if (obj === undefined) return undefined;
    this.table(rt).delete(k);
    finalState?.(obj);
    obj.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", rt, object: structuredClone(obj), rv: this.rv });
    return structuredClone(obj);
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The events after `rv`, or "expired" when the history no longer reaches back that far (410 Gone). */
  eventsSince(rv: number): ChangeEvent[] | "expired" {
    const first = this.history[0];
    if (this.truncated && first !== undefined && rv < first.rv - 1) return "expired";
    return this.history.filter((e) => e.rv > rv);
  }

  private emit(e: ChangeEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) {
      this.history.splice(0, this.history.length - this.historyLimit);
      this.truncated = true;
    }
    for (const l of [...this.listeners]) l(e);
  }
}
