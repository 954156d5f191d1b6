// The per-action context (Talon's `context` object) and the template variables of one action run.

import type { FalcoEvent } from "../events/event.ts";
import { eventVariables, variableName } from "../events/fields.ts";

// Names Talon's documentation uses for its context variables; its code exports other names. Both work.
const DOCUMENTED_ALIASES: Readonly<Record<string, string>> = {
  "FALCO-TALON_RULE_DRYRUN": "FALCO-TALON_RULE_DRY_RUN",
  "FALCO-TALON_RULE_ACTION": "FALCO-TALON_ACTION",
  "FALCO-TALON_RULE_ACTION_CONTINUE": "FALCO-TALON_ACTION_CONTINUE",
  "FALCO-TALON_RULE_ACTION_IGNORE_ERRORS": "FALCO-TALON_ACTION_IGNORE_ERRORS",
  "FALCO-TALON_RULE_ACTION_PARAMETERS": "FALCO-TALON_ACTION_PARAMETERS",
  "FALCO-TALON_RULE_ACTIONNER": "FALCO-TALON_ACTIONNER",
  NODE_SPEC_PROVIDEDID: "NODE_SPEC_PROVIDERID",
};

/** The variables `${NAME}` can use in an action's parameters: the event's, then the context's. */
export function actionVariables(event: FalcoEvent, context: Readonly<Record<string, string>>, traceId: string): Map<string, string> {
  const vars = eventVariables(event);
  for (const key in context) vars.set(variableName(key), context[key]!);
  for (const alias in DOCUMENTED_ALIASES) {
    const value = vars.get(DOCUMENTED_ALIASES[alias]!);
    if (value !== undefined) vars.set(alias, value);
  }
  vars.set("TRACE_ID", traceId);
  return vars;
}
