// Checking the `${NAME}` variables of an action's parameters against what events can carry, at load time
// (nothing here runs per event). A name is known when it is one of the event's own variables (RULE,
// PRIORITY…), a context entry (Talon's falco-talon.* ones, those of the additional contexts the action
// lists) or a Falco field (src/events/field-catalogue.ts, generated from Falco's documented field classes
// and the rules corpus). An unknown name is a warning with a did-you-mean (an error under --strict): it
// would fail only when a real event arrives. When the rule names Falco rules of the corpus, a field that
// only some of them emit gets a note, one that none of them emits a warning.

import { FALCO_FIELDS, FALCO_FIELDS_WITH_ARGUMENT, FALCO_RULE_FIELDS } from "../events/field-catalogue.ts";
import { variableName } from "../events/fields.ts";
import { compileTemplate } from "../template/template.ts";
import { type Diagnostic, didYouMean, type Position } from "../yaml/source.ts";
import { diagnosticAt, locateInString, locateNested, type Subject } from "./diagnostics.ts";
import type { ActionSpec, Loc, RuleSpec } from "./types.ts";

/** Variables every action run has (events/fields.ts eventVariables, template/action-variables.ts actionVariables). */
export const EVENT_VARIABLES: readonly string[] = ["PRIORITY", "HOSTNAME", "RULE", "SOURCE", "TAGS", "OUTPUT", "TIME", "TRACE_ID"];

/** Talon's context entries (rules/static-context.ts) as variables, with the names its documentation uses
 * (template/action-variables.ts DOCUMENTED_ALIASES). A test checks them against actionVariables. */
export const CONTEXT_VARIABLES: readonly string[] = [
  "FALCO-TALON_RULE",
  "FALCO-TALON_RULE_CONTINUE",
  "FALCO-TALON_RULE_DRY_RUN",
  "FALCO-TALON_ACTION",
  "FALCO-TALON_ACTION_CONTINUE",
  "FALCO-TALON_ACTION_IGNORE_ERRORS",
  "FALCO-TALON_ACTION_PARAMETERS",
  "FALCO-TALON_ACTIONNER",
  "FALCO-TALON_RULE_DRYRUN",
  "FALCO-TALON_RULE_ACTION",
  "FALCO-TALON_RULE_ACTION_CONTINUE",
  "FALCO-TALON_RULE_ACTION_IGNORE_ERRORS",
  "FALCO-TALON_RULE_ACTION_PARAMETERS",
  "FALCO-TALON_RULE_ACTIONNER",
];

/** The variables each additional context adds (contexts/aws.ts, contexts/k8snode.ts; a test checks them). */
export const ADDITIONAL_CONTEXT_VARIABLES: Readonly<Record<string, readonly string[]>> = {
  aws: ["AWS_INSTANCE_PROFILE_ARN", "AWS_INSTANCE_PROFILE_ID", "AWS_REGION"],
  k8snode: [
    "NODE_HOSTNAME",
    "NODE_INSTANCETYPE",
    "NODE_ROLE",
    "NODE_TOPOLOGY_REGION",
    "NODE_TOPOLOGY_ZONE",
    "NODE_SPEC_PROVIDERID",
    "NODE_SPEC_PROVIDEDID",
  ],
};

interface Catalogue {
  /** Variable name → the Falco field it comes from. */
  readonly fields: ReadonlyMap<string, string>;
  /** Variable prefixes (`PROC_ANAME_`) of fields with an argument, with the field. */
  readonly prefixes: readonly (readonly [string, string])[];
  /** Every name a did-you-mean may suggest. */
  readonly names: readonly string[];
}

let catalogue: Catalogue | undefined;

function fieldCatalogue(): Catalogue {
  if (catalogue !== undefined) return catalogue;
  const fields = new Map<string, string>();
  for (const f of FALCO_FIELDS) fields.set(variableName(f), f);
  for (const f of FALCO_FIELDS_WITH_ARGUMENT) if (!fields.has(variableName(f))) fields.set(variableName(f), f);
  const prefixes = FALCO_FIELDS_WITH_ARGUMENT.map((f) => [`${variableName(f)}_`, f] as const);
  const names = [...EVENT_VARIABLES, ...CONTEXT_VARIABLES, ...Object.values(ADDITIONAL_CONTEXT_VARIABLES).flat(), ...fields.keys()];
  catalogue = { fields, prefixes, names };
  return catalogue;
}

/** The Falco field a variable name reads (`PROC_ANAME_2` → proc.aname), or undefined. */
export function fieldOfVariable(name: string): string | undefined {
  const c = fieldCatalogue();
  const exact = c.fields.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, field] of c.prefixes) if (name.startsWith(prefix) && name.length > prefix.length) return field;
  return undefined;
}

/** One `${NAME}` written in a parameter, with where it was written. */
interface Use {
  readonly name: string;
  readonly position: Position;
}

export interface VariableCheck {
  readonly strict: boolean;
  readonly diagnostics: Diagnostic[];
}

/**
 * Checks the variables of `action` (resolved for `rule`, or an action block on its own when `rule` is
 * undefined). Template syntax errors are not reported here: compiling the templates does that.
 */
export function checkVariables(rule: RuleSpec | undefined, action: ActionSpec, subject: Subject, check: VariableCheck): void {
  const uses = [...usesIn(action.parameters, action.parameterAt, action.at)];
  if (action.output !== undefined) uses.push(...usesIn(action.output.parameters, action.output.parameterAt, action.output.at));
  if (uses.length === 0) return;
  const falcoRules = rule === undefined ? [] : rule.match.rules;
  for (const use of uses) {
    const problem = unknownProblem(use.name, action);
    if (problem !== undefined) {
      check.diagnostics.push(diagnosticAt(use.position, check.strict ? "error" : "warning", "ERR_TEMPLATE", problem, subject));
      continue;
    }
    const field = fieldOfVariable(use.name);
    if (field !== undefined && falcoRules.length > 0) coverage(use, falcoRules, subject, check);
  }
}

function unknownProblem(name: string, action: ActionSpec): string | undefined {
  if (EVENT_VARIABLES.includes(name) || CONTEXT_VARIABLES.includes(name)) return undefined;
  for (const [context, names] of Object.entries(ADDITIONAL_CONTEXT_VARIABLES)) {
    if (!names.includes(name)) continue;
    if (action.additionalContexts.includes(context)) return undefined;
    return `the variable \${${name}} comes from the context '${context}', which this action does not gather (add 'additional_contexts: [${context}]')`;
  }
  if (fieldOfVariable(name) !== undefined) return undefined;
  // `${fd.name}` or `${Fd_Name}`: the event's variables are named in upper case with `_`.
  const canonical = variableName(name).replaceAll("-", "_");
  const suggestion =
    canonical !== name && (fieldOfVariable(canonical) !== undefined || EVENT_VARIABLES.includes(canonical))
      ? ` (did you mean "\${${canonical}}"?)`
      : didYouMean(name, fieldCatalogue().names).replace(/"([^"]+)"/, (_, n: string) => `"\${${n}}"`);
  return `unknown variable \${${name}}: no Falco field, event or context value has this name${suggestion}`;
}

/** The Falco rules a rule matches that emit the field of `use`: a note when only some do, a warning when none does. */
function coverage(use: Use, falcoRules: readonly string[], subject: Subject, check: VariableCheck): void {
  const known = falcoRules.filter((r) => Object.hasOwn(FALCO_RULE_FIELDS, r));
  if (known.length === 0) return;
  const lacking = known.filter((r) => !FALCO_RULE_FIELDS[r]!.fields.some((f) => variableName(f) === use.name));
  if (lacking.length === 0) return;
  const names = lacking.map((r) => `"${r}"`).join(", ");
  if (lacking.length === falcoRules.length) {
    const message = `the variable \${${use.name}} is not in the events of the Falco rule${falcoRules.length === 1 ? "" : "s"} this rule matches (${names}): the action will fail on them`;
    check.diagnostics.push(diagnosticAt(use.position, "warning", "ERR_TEMPLATE", message, subject));
    return;
  }
  const message = `the variable \${${use.name}} is not in the events of ${lacking.length === 1 ? "the Falco rule" : "the Falco rules"} ${names}: the action fails on those`;
  check.diagnostics.push(diagnosticAt(use.position, "note", "ERR_TEMPLATE", message, subject));
}

/** Every variable written in `params`, located at the line (and, in one-line strings, the column) that wrote it. */
function* usesIn(params: Readonly<Record<string, unknown>>, parameterAt: ReadonlyMap<string, Loc>, fallback: Loc): Generator<Use> {
  for (const [key, value] of Object.entries(params)) {
    const loc = parameterAt.get(key);
    for (const [rest, text] of strings(value, [])) {
      for (const [name, offset] of variablesOf(text)) {
        yield { name, position: loc === undefined ? fallback.source.locate(fallback.path) : position(loc, rest, value, offset, text) };
      }
    }
  }
}

/** The variables a template string uses, each with the offset of its `${`; none when it is not a template. */
function* variablesOf(text: string): Generator<[string, number]> {
  let template: ReturnType<typeof compileTemplate>;
  try {
    template = compileTemplate(text);
  } catch {
    return;
  }
  if (template === undefined) return;
  let from = 0;
  for (const name of template.variables) {
    let offset = text.indexOf("${", from);
    while (offset > 0 && text[offset - 1] === "$") offset = text.indexOf("${", offset + 2); // `$${` is a literal
    from = offset + 2;
    yield [name, offset];
  }
}

function position(loc: Loc, rest: readonly (string | number)[], value: unknown, offset: number, text: string): Position {
  const path = [...loc.path, ...rest];
  const node = loc.source.doc.getIn(path, true) as { value?: unknown } | undefined;
  if (node !== undefined && node.value === text) return locateInString({ source: loc.source, path }, Math.max(offset, 0));
  return locateNested(loc, rest, value);
}

function* strings(value: unknown, path: (string | number)[]): Generator<[(string | number)[], string]> {
  if (typeof value === "string") yield [path, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], [...path, i]);
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}
