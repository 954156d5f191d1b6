// The compiled rules, indexed for matching. Most rules name the Falco rules they react to, so an event is
// tested only against the rules listing its rule name plus the rules that list none ("wildcard" rules).
// Wildcard rules that select on tags are gated by a tag index: an event's tags light up the tag groups
// they complete, and a gated rule is tested only when one of its groups is complete. With 1,000 rules of
// which 140 are wildcards, this keeps matching from testing every wildcard rule against every event.
// Candidates come out in rules order (both lists are sorted by index and merged), computed once per Falco
// rule name and tags. The gate only prunes: each candidate is still tested on all its criteria.
import type { FalcoEvent } from "../events/event.ts";
import type { CompiledRule, RuleSet } from "./types.ts";

const NONE: readonly CompiledRule[] = Object.freeze([]);

export interface IndexedRule {
  readonly rule: CompiledRule;
  /** The Falco rule names of `match.rules` (empty: any rule). */
  readonly falcoRules: readonly string[];
  /** `match.tags`: alternatives, each a set of tags that must all be present (empty: any tags). */
  readonly tagGroups: readonly (readonly string[])[];
}

/**
 * Bounds on what the candidates cache keeps from events (attacker-controlled: a 1 MiB body may hold one
 * huge name or thousands of tags): Falco rule names not named by any rule, their length, and the tags
 * kept per name. Beyond them, candidates are computed for the event and not kept.
 */
const MAX_CACHED_NAMES = 4096;
const MAX_CACHED_NAME_LENGTH = 256;
const MAX_CACHED_TAGS = 64;
const MAX_CACHED_TAG_LENGTH = 128;

function smallTags(tags: readonly string[]): boolean {
  if (tags.length > MAX_CACHED_TAGS) return false;
  for (let i = 0; i < tags.length; i++) if (tags[i]!.length > MAX_CACHED_TAG_LENGTH) return false;
  return true;
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** The rules worth testing for one Falco rule name, as computed for the last tags seen with it. */
interface Candidates {
  /** The rules that name it, in index order. */
  readonly named: CompiledRule[];
  tags: readonly string[] | undefined;
  candidates: readonly CompiledRule[];
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A group's tags are bits of one 32-bit word; a rule with a larger group is simply not gated. */
const MAX_GROUP_TAGS = 31;

/** Which wildcard rules an event's tags make worth testing. Not reentrant: match() is synchronous. */
class TagGate {
  /** tag → (group << 5 | bit) for every group that contains it. */
  readonly #postings = new Map<string, number[]>();
  /** Per group: the bits of all its tags, the bits seen in the current event, and the gated rule it opens. */
  readonly #full: Int32Array;
  readonly #seen: Int32Array;
  readonly #groupRule: Int32Array;
  /** Per gated rule: opened for the current event. */
  readonly #open: Uint8Array;
  readonly #touched: number[] = [];
  readonly #opened: number[] = [];

  constructor(gated: readonly (readonly (readonly string[])[])[]) {
    let groups = 0;
    for (const g of gated) groups += g.length;
    this.#full = new Int32Array(groups);
    this.#seen = new Int32Array(groups);
    this.#groupRule = new Int32Array(groups);
    this.#open = new Uint8Array(gated.length);
    let group = 0;
    gated.forEach((tagGroups, ruleSlot) => {
      for (const tags of tagGroups) {
        const distinct = [...new Set(tags)];
        distinct.forEach((tag, bit) => {
          const list = this.#postings.get(tag);
          if (list === undefined) this.#postings.set(tag, [(group << 5) | bit]);
          else list.push((group << 5) | bit);
          this.#full[group]! |= 1 << bit;
        });
        this.#groupRule[group] = ruleSlot;
        group++;
      }
    });
  }

  /** Opens the gated rules one of whose tag groups the tags complete. */
  open(tags: readonly string[]): void {
    for (let t = 0; t < tags.length; t++) {
      const postings = this.#postings.get(tags[t]!);
      if (postings === undefined) continue;
      for (let p = 0; p < postings.length; p++) {
        const posting: number = postings[p]!;
        const group = posting >>> 5;
        if (this.#seen[group] === 0) this.#touched.push(group);
        this.#seen[group]! |= 1 << (posting & 31);
        if (this.#seen[group] === this.#full[group]) {
          const slot = this.#groupRule[group]!;
          if (this.#open[slot] === 0) {
            this.#open[slot] = 1;
            this.#opened.push(slot);
          }
        }
      }
    }
  }

  isOpen(slot: number): boolean {
    return this.#open[slot] === 1;
  }

  /** Clears what open() set, touching only what it touched. */
  reset(): void {
    for (const g of this.#touched) this.#seen[g] = 0;
    for (const s of this.#opened) this.#open[s] = 0;
    this.#touched.length = 0;
    this.#opened.length = 0;
  }
}

/** `named` and the wildcards that `wanted` keeps (by position), merged in index order; both are sorted by
 * index, and `wildcardIndex` holds the wildcards' indexes. */
function mergeByIndex(
  named: readonly CompiledRule[],
  wildcards: readonly CompiledRule[],
  wildcardIndex: Int32Array,
  wanted: (j: number) => boolean,
): CompiledRule[] {
  const out: CompiledRule[] = [];
  let i = 0;
  let j = 0;
  while (i < named.length || j < wildcards.length) {
    if (j === wildcards.length || (i < named.length && named[i]!.index < wildcardIndex[j]!)) {
      out.push(named[i++]!);
    } else {
      if (wanted(j)) out.push(wildcards[j]!);
      j++;
    }
  }
  return out;
}

export function createRuleSet(indexed: readonly IndexedRule[], categories: ReadonlySet<string>): RuleSet {
  const byName = new Map<string, Candidates>();
  const wildcards: CompiledRule[] = [];
  const gateSlots: number[] = [];
  const gatedGroups: (readonly (readonly string[])[])[] = [];
  for (const { rule, falcoRules, tagGroups } of indexed) {
    if (falcoRules.length === 0) {
      wildcards.push(rule);
      const gateable = tagGroups.length > 0 && tagGroups.every((g) => g.length > 0 && new Set(g).size <= MAX_GROUP_TAGS);
      gateSlots.push(gateable ? gatedGroups.push(tagGroups) - 1 : -1);
    }
    for (const name of new Set(falcoRules)) {
      const entry = byName.get(name);
      if (entry === undefined) byName.set(name, { named: [rule], tags: undefined, candidates: NONE });
      else entry.named.push(rule);
    }
  }
  const wildcardIndex = Int32Array.from(wildcards, (r) => r.index);
  const slots = Int32Array.from(gateSlots);
  const gate = gatedGroups.length > 0 ? new TagGate(gatedGroups) : undefined;

  /** Whether the j-th wildcard is worth testing for the tags the gate was opened with (an ungated one always is). */
  const wildcardOpen = (j: number): boolean => slots[j]! < 0 || gate!.isOpen(slots[j]!);

  /** The rules of `named` and the wildcards worth testing for these tags (each sorted by index), in index order. */
  const candidatesFor = (named: readonly CompiledRule[], tags: readonly string[]): readonly CompiledRule[] => {
    if (wildcards.length === 0) return named;
    if (named.length === 0 && gate === undefined) return wildcards;
    gate?.open(tags);
    const out = mergeByIndex(named, wildcards, wildcardIndex, wildcardOpen);
    gate?.reset();
    return out;
  };

  // The candidates depend only on the Falco rule name and the tags, and a Falco rule sends the same tags
  // every time: they are kept per name with the tags they were computed for, and reused while the tags
  // are the same. Names come from events, so at most MAX_CACHED_NAMES are kept besides the rules' own.
  let extraNames = 0;
  const tagsMatter = gate !== undefined;

  /** The cache entry of a Falco rule name; undefined when the name is not to be kept. */
  const entryFor = (name: string): Candidates | undefined => {
    let entry = byName.get(name);
    if (entry !== undefined) return entry;
    if (extraNames >= MAX_CACHED_NAMES || name.length > MAX_CACHED_NAME_LENGTH) return undefined;
    entry = { named: [], tags: undefined, candidates: NONE };
    byName.set(name, entry);
    extraNames++;
    return entry;
  };

  const candidates = (event: FalcoEvent): readonly CompiledRule[] => {
    const entry = entryFor(event.rule);
    if (entry === undefined) return candidatesFor(NONE, event.tags);
    if (!tagsMatter) {
      if (entry.tags === undefined) {
        entry.candidates = candidatesFor(entry.named, NO_TAGS);
        entry.tags = NO_TAGS;
      }
      return entry.candidates;
    }
    if (entry.tags !== undefined && sameTags(entry.tags, event.tags)) return entry.candidates;
    const computed = candidatesFor(entry.named, event.tags);
    if (smallTags(event.tags)) {
      entry.candidates = computed;
      entry.tags = [...event.tags];
    }
    return computed;
  };

  const matchEvent = (event: FalcoEvent): readonly CompiledRule[] => {
    const list = candidates(event);
    let out: CompiledRule[] | undefined;
    for (let k = 0; k < list.length; k++) {
      const rule = list[k]!;
      if (!rule.matches(event)) continue;
      if (out === undefined) out = [rule];
      else out.push(rule);
    }
    return out ?? NONE;
  };

  const rules = Object.freeze(indexed.map((i) => i.rule));
  return {
    rules,
    notifierNames: new Set(rules.flatMap((r) => r.notifiers)),
    categories,
    match: matchEvent,
  };
}
