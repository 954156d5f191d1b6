// Decoding one item of a rules file (an `action:` block or a `rule:`) into a spec that remembers where each
// of its values was written. Shape problems are reported and the faulty value left out, so that one load
// reports every problem of every file.
import type { YamlPath } from "../yaml/source.ts";
import { below, type Subject } from "./diagnostics.ts";
import type { Params } from "./merge-params.ts";
import { type ItemReader, isMap, kindOf, type YamlMap } from "./reader.ts";
import type { ActionSpec, Loc, MatchSpec, OutputSpec, RuleSpec } from "./types.ts";

export const ACTION_KEYS = [
  "action",
  "description",
  "actionner",
  "continue",
  "ignore_errors",
  "additional_contexts",
  "parameters",
  "output",
] as const;
export const OUTPUT_KEYS = ["target", "parameters"] as const;
export const RULE_KEYS = ["rule", "description", "continue", "dry_run", "notifiers", "match", "actions"] as const;
export const MATCH_KEYS = ["rules", "priority", "source", "tags", "output_fields"] as const;

export type DecodedItem = { kind: "action"; spec: ActionSpec } | { kind: "rule"; spec: RuleSpec };

/** Decodes item `path` of a file; undefined when it cannot be used at all (the reason is reported). */
export function decodeItem(r: ItemReader, value: unknown, path: YamlPath): DecodedItem | undefined {
  if (!isMap(value)) {
    r.error(path, `each item of a rules file must be a mapping with 'rule:' or 'action:', not ${kindOf(value)}`);
    return undefined;
  }
  const isAction = "action" in value;
  const isRule = "rule" in value;
  if (isAction && isRule) {
    r.error(path, "an item cannot have both 'rule:' and 'action:': write the action block and the rule separately");
    return undefined;
  }
  if (!isAction && !isRule) {
    // Talon dropped such items silently, so a rule whose `rule:` key was misspelt never ran.
    r.error(path, "this item has neither 'rule:' nor 'action:', so it is neither a rule nor an action block");
    return undefined;
  }
  if (isAction) {
    const spec = decodeAction(r, value, path, {});
    if (spec.name === "") {
      r.error(below(path, "action"), "an action block needs a name");
      return undefined;
    }
    return { kind: "action", spec };
  }
  const spec = decodeRule(r, value, path);
  return spec === undefined ? undefined : { kind: "rule", spec };
}

/** An action block, or an action inside a rule (`subject.rule` set); same keys in both places. */
export function decodeAction(r: ItemReader, map: YamlMap, path: YamlPath, subject: Subject): ActionSpec {
  const name = r.string(map, "action", path, subject) ?? "";
  const who: Subject = { ...subject, action: name };
  r.unknownKeys(map, ACTION_KEYS, path, subject.rule === undefined ? "an action block" : "an action", who);
  const fieldAt = presentFields(r, map, path, ["action", "description", "actionner", "continue", "ignore_errors", "parameters", "output"]);
  const { parameters, parameterAt } = decodeParameters(r, map, "parameters", path, who);
  const output = decodeOutput(r, map, path, who);
  if (output !== undefined && output.target !== "") fieldAt.set("output.target", r.loc(below(path, "output", "target")));
  return {
    name,
    description: r.string(map, "description", path, who) ?? "",
    actionner: r.string(map, "actionner", path, who) ?? "",
    continue: r.boolean(map, "continue", path, who),
    ignoreErrors: r.boolean(map, "ignore_errors", path, who),
    additionalContexts: r.stringList(map, "additional_contexts", path, fieldAt, "additional_contexts", who),
    parameters,
    output,
    at: r.loc(path),
    fieldAt,
    parameterAt,
  };
}

function decodeOutput(r: ItemReader, map: YamlMap, path: YamlPath, who: Subject): OutputSpec | undefined {
  const output = r.map(map, "output", path, who);
  if (output === undefined) return undefined;
  const at = below(path, "output");
  r.unknownKeys(output, OUTPUT_KEYS, at, "an output", who);
  return {
    target: r.string(output, "target", at, who) ?? "",
    ...decodeParameters(r, output, "parameters", at, who),
    at: r.loc(at),
  };
}

function decodeRule(r: ItemReader, map: YamlMap, path: YamlPath): RuleSpec | undefined {
  const name = r.string(map, "rule", path) ?? "";
  if (name === "") {
    r.error(below(path, "rule"), "a rule needs a name");
    return undefined;
  }
  const who: Subject = { rule: name };
  r.unknownKeys(map, RULE_KEYS, path, "a rule", who);
  const fieldAt = presentFields(r, map, path, ["rule", "description", "continue", "dry_run", "match", "actions"]);
  return {
    name,
    description: r.string(map, "description", path, who) ?? "",
    continue: r.boolean(map, "continue", path, who),
    dryRun: r.boolean(map, "dry_run", path, who),
    notifiers: r.stringList(map, "notifiers", path, fieldAt, "notifiers", who),
    match: decodeMatch(r, map, path, fieldAt, who),
    actions: decodeRuleActions(r, map, path, who),
    at: r.loc(path),
    fieldAt,
  };
}

function decodeMatch(r: ItemReader, map: YamlMap, path: YamlPath, fieldAt: Map<string, Loc>, who: Subject): MatchSpec {
  const match = r.map(map, "match", path, who) ?? {};
  const at = below(path, "match");
  r.unknownKeys(match, MATCH_KEYS, at, "'match'", who);
  for (const key of ["priority", "source"]) {
    if (match[key] !== undefined && match[key] !== null) fieldAt.set(`match.${key}`, r.loc(below(at, key)));
  }
  return {
    rules: r.stringList(match, "rules", at, fieldAt, "match.rules", who),
    priority: r.string(match, "priority", at, who) ?? "",
    source: r.string(match, "source", at, who) ?? "",
    tags: r.stringList(match, "tags", at, fieldAt, "match.tags", who),
    outputFields: r.stringList(match, "output_fields", at, fieldAt, "match.output_fields", who),
  };
}

function decodeRuleActions(r: ItemReader, map: YamlMap, path: YamlPath, who: Subject): ActionSpec[] {
  const list = map["actions"];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    r.error(below(path, "actions"), `'actions' must be a list of actions, not ${kindOf(list)}`, who);
    return [];
  }
  const out: ActionSpec[] = [];
  list.forEach((item: unknown, i) => {
    const at = below(path, "actions", i);
    if (isMap(item)) out.push(decodeAction(r, item, at, who));
    else r.error(at, `each action must be a mapping with 'action:' and its settings, not ${kindOf(item)}`, who);
  });
  return out;
}

/** Origins of the keys of `map` that hold a value. */
function presentFields(r: ItemReader, map: YamlMap, path: YamlPath, keys: readonly string[]): Map<string, Loc> {
  const at = new Map<string, Loc>();
  for (const key of keys) if (map[key] !== undefined && map[key] !== null) at.set(key, r.loc(below(path, key)));
  return at;
}

/**
 * The parameters of `map[key]` without their null values, and the origin of each kept key. A null value
 * is "not set", as in Talon (mapstructure left the field at its zero value, and merges skipped nils): it
 * neither reaches the plugin's schema nor clears a value inherited from a block.
 */
function decodeParameters(r: ItemReader, map: YamlMap, key: string, path: YamlPath, who: Subject): Params {
  const raw = r.map(map, key, path, who) ?? {};
  const parameters: Record<string, unknown> = {};
  const parameterAt = new Map<string, Loc>();
  for (const [name, value] of Object.entries(raw)) {
    const at = below(path, key, name);
    if (value === null || value === undefined) {
      r.warning(at, `parameter '${name}' has no value and is ignored (write "" for an empty text)`, who);
      continue;
    }
    parameters[name] = value;
    parameterAt.set(name, r.loc(at));
  }
  return { parameters, parameterAt };
}
