// The template variables of one action run: the event's fields, Talon's context values (`falco-talon.rule`, …, and
// those the additional contexts gathered), and the trace id.

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

/** The variables `${NAME}` can use in an action's parameters: the event's, then the context values. */
export function actionVariables(event: FalcoEvent, contextValues: Readonly<Record<string, string>>, traceId: string): Map<string, string> {
  const vars = eventVariables(event);
  for (const key in contextValues) vars.set(variableName(key), contextValues[key]!);
  for (const alias in DOCUMENTED_ALIASES) {
    const value = vars.get(DOCUMENTED_ALIASES[alias]!);
    if (value !== undefined) vars.set(alias, value);
  }
  vars.set("TRACE_ID", traceId);
  return vars;
}
