// The rules model: what the loader produces after merging every rules file (specs, with where each value
// came from), and what the compiler produces for the engine (validated plugins, compiled matchers).

import type { FalcoEvent } from "../events/event.ts";
import type { Actionner, Output } from "../plugins/types.ts";
import type { ParamsTemplate } from "../template/template.ts";
import type { YamlPath, YamlSource } from "../yaml/source.ts";
import type { LevelRange } from "./priority.ts";

/** Where a value was written: the file it came from and its path in that file's YAML. */
export interface Loc {
  readonly source: YamlSource;
  readonly path: YamlPath;
}

export interface OutputSpec {
  target: string;
  parameters: Record<string, unknown>;
  at: Loc;
  /** Where each top-level parameter key was set (merges keep the origin of the value that won). */
  parameterAt: Map<string, Loc>;
}

export interface ActionSpec {
  name: string;
  description: string;
  actionner: string;
  /** Unset means "the actionner's default". */
  continue: boolean | undefined;
  ignoreErrors: boolean | undefined;
  additionalContexts: string[];
  parameters: Record<string, unknown>;
  output: OutputSpec | undefined;
  at: Loc;
  /** Where each field (actionner, continue, …) and each top-level parameter key was set. */
  fieldAt: Map<string, Loc>;
  parameterAt: Map<string, Loc>;
  /** The action block this action was resolved against, when the action sets no parameters itself: where
   * a missing parameter has to be added. */
  blockAt?: Loc | undefined;
}

export interface MatchSpec {
  rules: string[];
  /** "" when unset; else e.g. ">=Warning". */
  priority: string;
  /** "" when unset. */
  source: string;
  /** Each item is a comma-separated group of tags that must all be present; items are alternatives. */
  tags: string[];
  /** Each item is a comma-separated group of `key=value` / `key!=value` conditions; items are alternatives. */
  outputFields: string[];
}

export interface RuleSpec {
  name: string;
  description: string;
  continue: boolean | undefined;
  dryRun: boolean | undefined;
  notifiers: string[];
  match: MatchSpec;
  actions: ActionSpec[];
  at: Loc;
  fieldAt: Map<string, Loc>;
}

/** The merged content of all rules files: reusable action blocks and rules, in first-occurrence order. */
export interface RulesDocument {
  files: string[];
  actions: ActionSpec[];
  rules: RuleSpec[];
}

export interface CompiledOutput {
  readonly target: string;
  readonly plugin: Output;
  /** Validated parameters (defaults applied) with their templates compiled. */
  readonly params: ParamsTemplate<Record<string, unknown>>;
}

export interface CompiledAction {
  readonly spec: ActionSpec;
  readonly name: string;
  readonly actionnerName: string;
  readonly actionner: Actionner;
  readonly params: ParamsTemplate<Record<string, unknown>>;
  readonly output: CompiledOutput | undefined;
  /** The effective `continue`: the action's own, else the actionner's default. */
  readonly continueAfter: boolean;
  readonly ignoreErrors: boolean;
  readonly additionalContexts: readonly string[];
  /** Talon's context entries that do not depend on the event (`falco-talon.rule`, …). */
  readonly staticContext: Readonly<Record<string, string>>;
}

export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly name: string;
  /** Position in the merged rules (file order); matched rules run in this order. */
  readonly index: number;
  /** True when the rule stops later matched rules (`continue: false`). */
  readonly stopAfter: boolean;
  readonly dryRun: boolean;
  readonly notifiers: readonly string[];
  readonly actions: readonly CompiledAction[];
  /** All criteria other than the Falco rule name (which the rule set indexes). */
  matches(event: FalcoEvent): boolean;
  /** The compiled `match`, for explanations (`rules test`, rules/explain.ts); never read on the hot path.
   * Absent from rules built by hand in tests. */
  readonly criteria?: CompiledMatch;
}

export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  /** The rules an event triggers, in rules order. Returns a shared empty array when none does. */
  match(event: FalcoEvent): readonly CompiledRule[];
  /** Every notifier name the rules reference. */
  readonly notifierNames: ReadonlySet<string>;
  /** Every actionner and output category the rules use (to create only the clients needed). */
  readonly categories: ReadonlySet<string>;
}

export interface FieldCondition {
  readonly key: string;
  /** True for `!=`. */
  readonly negate: boolean;
  readonly text: string;
  /** `<nil>` or `<NA>`: equals a null field (and Falco's `<NA>` text). */
  readonly isNull: boolean;
  /** The value as a number, when it is one ("8080.0" equals the field 8080). */
  readonly number: number | undefined;
  /** The value as an exact integer, to compare with 64-bit fields kept as bigint. */
  readonly bigint: bigint | undefined;
}

/** A rule's `match`, compiled by match.ts. */
export interface CompiledMatch {
  /** Falco rule names (the rule set indexes them; `matchesCriteria` does not test them). */
  readonly rules: readonly string[];
  readonly priority: LevelRange | undefined;
  readonly source: string;
  readonly tagGroups: readonly (readonly string[])[];
  readonly fieldGroups: readonly (readonly FieldCondition[])[];
}
