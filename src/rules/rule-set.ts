// The compiled rules, indexed for matching. Most rules name the Falco rules they react to, so an event is
// tested only against the rules listing its rule name plus the rules that list none ("wildcard" rules).
// Wildcard rules that select on tags are gated by a tag index: an event's tags light up the tag groups
// they complete, and a gated rule is tested only when one of its groups is complete. With 1,000 rules of
// which 140 are wildcards, this keeps matching from testing every wildcard rule against every event.
// Candidates come out in rules order (both lists are sorted by index and merged on the fly). The gate
// only prunes: each candidate is still tested on all its criteria.
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

export function createRuleSet(indexed: readonly IndexedRule[], categories: ReadonlySet<string>): RuleSet {
  const byName = new Map<string, CompiledRule[]>();
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
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [rule]);
      else list.push(rule);
    }
  }
  const wildcardIndex = Int32Array.from(wildcards, (r) => r.index);
  const slots = Int32Array.from(gateSlots);
  const gate = gatedGroups.length > 0 ? new TagGate(gatedGroups) : undefined;

  /** The rules of `named` and the wildcards (each sorted by index) that match, in index order. */
  const matchEvent = (named: readonly CompiledRule[], event: FalcoEvent): readonly CompiledRule[] => {
    gate?.open(event.tags);
    let out: CompiledRule[] | undefined;
    let i = 0;
    let j = 0;
    while (i < named.length || j < wildcards.length) {
      let next: CompiledRule;
      if (j === wildcards.length || (i < named.length && named[i]!.index < wildcardIndex[j]!)) {
        next = named[i++]!;
      } else {
        const slot = slots[j]!;
        next = wildcards[j++]!;
        if (slot >= 0 && !gate!.isOpen(slot)) continue;
      }
      if (!next.matches(event)) continue;
      if (out === undefined) out = [next];
      else out.push(next);
    }
    gate?.reset();
    return out ?? NONE;
  };

  const rules = Object.freeze(indexed.map((i) => i.rule));
  return {
    rules,
    notifierNames: new Set(rules.flatMap((r) => r.notifiers)),
    categories,
    match: (event) => matchEvent(byName.get(event.rule) ?? NONE, event),
  };
}
