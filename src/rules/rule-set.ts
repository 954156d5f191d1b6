// The compiled rules, indexed for matching: most rules name the Falco rules they react to, so an event is
// tested only against the rules listing its rule name plus the rules that list none. Both candidate lists
// are in rules order and merged on the fly, so matched rules come out in file order without sorting.
import type { FalcoEvent } from "../events/event.ts";
import type { CompiledRule, RuleSet } from "./types.ts";

const NONE: readonly CompiledRule[] = Object.freeze([]);

export interface IndexedRule {
  readonly rule: CompiledRule;
  /** The Falco rule names of `match.rules` (empty: any rule). */
  readonly falcoRules: readonly string[];
}

export function createRuleSet(indexed: readonly IndexedRule[], categories: ReadonlySet<string>): RuleSet {
  const byName = new Map<string, CompiledRule[]>();
  const anyName: CompiledRule[] = [];
  for (const { rule, falcoRules } of indexed) {
    if (falcoRules.length === 0) anyName.push(rule);
    for (const name of new Set(falcoRules)) {
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [rule]);
      else list.push(rule);
    }
  }
  const rules = Object.freeze(indexed.map((i) => i.rule));
  return {
    rules,
    notifierNames: new Set(rules.flatMap((r) => r.notifiers)),
    categories,
    match: (event) => matchEvent(byName.get(event.rule) ?? NONE, anyName, event),
  };
}

/** The rules of `named` and `anyName` (each sorted by index) that match, in index order. */
function matchEvent(named: readonly CompiledRule[], anyName: readonly CompiledRule[], event: FalcoEvent): readonly CompiledRule[] {
  let out: CompiledRule[] | undefined;
  let i = 0;
  let j = 0;
  while (i < named.length || j < anyName.length) {
    const a = named[i];
    const b = anyName[j];
    let next: CompiledRule;
    if (b === undefined || (a !== undefined && a.index < b.index)) {
      next = a!;
      i++;
    } else {
      next = b;
      j++;
    }
    if (!next.matches(event)) continue;
    if (out === undefined) out = [next];
    else out.push(next);
  }
  return out ?? NONE;
}
