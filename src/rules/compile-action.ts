// Validating one resolved action of a rule against the plugins, and compiling it for the engine. The checks
// Talon makes: the action has a name; its actionner is set, written category:name, and known; its parameters
// pass the actionner's schema and checks; an output names a known target and has parameters, which pass the
// output's schema and checks. Kestrel adds: each additional context is known, parameter keys the plugin does
// not take are reported, and the output follows the actionner's artifact policy (required when it produces an
// artifact, refused when it produces none). Every problem is reported; the action is compiled only when it
// has none.

import { type ErrorCode, errorMessage } from "../errors.ts";
import type { Registries } from "../plugins/registry.ts";
import { pluginId } from "../plugins/registry.ts";
import type { Actionner, Output } from "../plugins/types.ts";
import { compileParams, type ParamsTemplate } from "../template/template.ts";
import { type Diagnostic, didYouMean } from "../yaml/source.ts";
import { below, diagnosticAtLoc, type Subject } from "./diagnostics.ts";
import { staticContext } from "./static-context.ts";
import type { ActionSpec, CompiledAction, CompiledOutput, Loc, OutputSpec, RuleSpec } from "./types.ts";
import { validateParams } from "./validate-params.ts";
import { checkVariables } from "./variables.ts";

export interface ActionEnv {
  readonly registries: Registries;
  readonly strict: boolean;
  readonly blocks: ReadonlyMap<string, ActionSpec>;
  readonly diagnostics: Diagnostic[];
  /** Collects the categories of the actionners and outputs used. */
  readonly categories: Set<string>;
}

const ACTIONNER_FORM = /^[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_-]*$/;

/** Validates and compiles one action of `rule`; with `rule` undefined, an action block on its own (one that
 * no rule uses: it is validated all the same, so that a typo in it does not wait for the day a rule uses it). */
export function compileAction(rule: RuleSpec | undefined, action: ActionSpec, env: ActionEnv): CompiledAction | undefined {
  const subject: Subject = { rule: rule?.name, action: action.name };
  const errors = errorCounter(env.diagnostics);
  const error = (loc: Loc, message: string, code: ErrorCode = "ERR_RULES_INVALID"): void => {
    env.diagnostics.push(diagnosticAtLoc(loc, "error", code, message, subject));
  };
  if (action.name === "") error(action.at, "action without a name");
  const actionner = findActionner(action, env, error);
  checkContexts(action, env, error);
  const params =
    actionner === undefined ? undefined : validatePluginParams(`actionner '${action.actionner}'`, actionner, action, env, subject);
  const output = compileOutput(action, actionner, env, subject, error);
  const template = params === undefined ? undefined : compileTemplates(params, action.at, error);
  if (template !== undefined) checkVariables(rule, action, subject, env);
  if (errors.more() || actionner === undefined || template === undefined || rule === undefined) return undefined;
  env.categories.add(actionner.category);
  return {
    spec: action,
    name: action.name,
    actionnerName: action.actionner,
    actionner,
    params: template,
    output,
    continueAfter: action.continue ?? actionner.continueByDefault,
    ignoreErrors: action.ignoreErrors ?? false,
    additionalContexts: Object.freeze([...action.additionalContexts]),
    staticContext: staticContext(rule, action),
  };
}

type ErrorSink = (loc: Loc, message: string, code?: ErrorCode) => void;

function checkContexts(action: ActionSpec, env: ActionEnv, error: ErrorSink): void {
  const known = env.registries.contexts;
  action.additionalContexts.forEach((name, i) => {
    if (known.has(name)) return;
    const at = action.fieldAt.get(`additional_contexts[${i}]`) ?? action.at;
    error(at, `unknown context '${name}'${didYouMean(name, known.ids())}`, "ERR_PLUGIN_UNKNOWN");
  });
}

/** Validates the parameters of an action or of its output against the plugin's schema and checks. */
function validatePluginParams(
  owner: string,
  plugin: Actionner | Output,
  holder: Pick<ActionSpec | OutputSpec, "parameters" | "parameterAt" | "at"> & { blockAt?: Loc | undefined },
  env: ActionEnv,
  subject: Subject,
): Record<string, unknown> | undefined {
  // A parameter that is missing altogether is reported where it has to be added: the action block the
  // action comes from when the rule's action sets no parameters of its own; the rule's use is a note.
  const at = holder.blockAt ?? holder.at;
  const start = env.diagnostics.length;
  const params = validateWith(owner, plugin, { ...holder, at }, env, subject);
  if (holder.blockAt !== undefined && env.diagnostics.slice(start).some((d) => d.severity === "error")) {
    env.diagnostics.push(
      diagnosticAtLoc(holder.at, "note", "ERR_RULES_INVALID", `the action block "${subject.action ?? ""}" is used here`, subject),
    );
  }
  return params;
}

function validateWith(
  owner: string,
  plugin: Actionner | Output,
  holder: Pick<ActionSpec | OutputSpec, "parameters" | "parameterAt" | "at">,
  env: ActionEnv,
  subject: Subject,
): Record<string, unknown> | undefined {
  return validateParams(
    {
      owner,
      schema: plugin.params,
      check: plugin.check as ((p: never) => string[]) | undefined,
      parameters: holder.parameters,
      parameterAt: holder.parameterAt,
      fallback: { source: holder.at.source, path: below(holder.at.path, "parameters") },
      subject,
      strict: env.strict,
    },
    env.diagnostics,
  );
}

function findActionner(action: ActionSpec, env: ActionEnv, error: ErrorSink): Actionner | undefined {
  const id = action.actionner;
  const at = action.fieldAt.get("actionner") ?? action.at;
  if (id === "") {
    if (action.name === "") return undefined;
    const block = env.blocks.get(action.name);
    const why =
      block === undefined
        ? `no action block "${action.name}" exists${didYouMean(action.name, env.blocks.keys())} and the action sets no 'actionner'`
        : `neither the action nor its action block "${action.name}" sets 'actionner'`;
    error(action.at, `missing actionner: ${why}`);
    return undefined;
  }
  const ids = env.registries.actionners.ids();
  if (!ACTIONNER_FORM.test(id)) {
    error(at, `incorrect actionner "${id}": expected category:name, such as kubernetes:terminate${didYouMean(id, ids)}`);
    return undefined;
  }
  const actionner = env.registries.actionners.get(id);
  if (actionner === undefined) error(at, `unknown actionner "${id}"${didYouMean(id, ids)}`, "ERR_PLUGIN_UNKNOWN");
  return actionner;
}

function compileOutput(
  action: ActionSpec,
  actionner: Actionner | undefined,
  env: ActionEnv,
  subject: Subject,
  error: ErrorSink,
): CompiledOutput | undefined {
  const spec = action.output;
  if (spec === undefined) {
    if (actionner?.artifact === "required") {
      error(
        action.at,
        `an output is required: the actionner '${action.actionner}' produces an artifact (add 'output: {target, parameters}')`,
      );
    }
    return undefined;
  }
  if (actionner?.artifact === "none") error(spec.at, `the actionner '${action.actionner}' produces no artifact, so it takes no 'output'`);
  const plugin = findOutput(action, spec, env, error);
  if (Object.keys(spec.parameters).length === 0) {
    // Talon's check; validating the empty map as well would only repeat it as "missing parameter …".
    error(spec.at, "missing 'parameters' for the output");
    return undefined;
  }
  if (plugin === undefined) return undefined;
  const params = validatePluginParams(`output '${spec.target}'`, plugin, spec, env, subject);
  const template = params === undefined ? undefined : compileTemplates(params, spec.at, error);
  if (template === undefined) return undefined;
  env.categories.add(plugin.category);
  return { target: pluginId(plugin), plugin, params: template };
}

function findOutput(action: ActionSpec, spec: OutputSpec, env: ActionEnv, error: ErrorSink): Output | undefined {
  if (spec.target === "") {
    error(spec.at, "missing 'target' for the output");
    return undefined;
  }
  const plugin = env.registries.outputs.get(spec.target);
  if (plugin === undefined) {
    const at = action.fieldAt.get("output.target") ?? spec.at;
    error(at, `unknown output target "${spec.target}"${didYouMean(spec.target, env.registries.outputs.ids())}`, "ERR_PLUGIN_UNKNOWN");
  }
  return plugin;
}

/** Templates are compiled once here; a malformed `${` is a rules error, not a failure at the first event. */
function compileTemplates(params: Record<string, unknown>, at: Loc, error: ErrorSink): ParamsTemplate<Record<string, unknown>> | undefined {
  try {
    return compileParams(params);
  } catch (err) {
    error({ source: at.source, path: below(at.path, "parameters") }, errorMessage(err), "ERR_TEMPLATE");
    return undefined;
  }
}

/** Tells whether errors were added to `diagnostics` since it was created. */
function errorCounter(diagnostics: readonly Diagnostic[]): { more(): boolean } {
  const start = diagnostics.length;
  return { more: () => diagnostics.slice(start).some((d) => d.severity === "error") };
}
