// Validating an action's or an output's parameters against the plugin's zod schema, each problem located
// at the line that wrote the offending value (which, after merges, may be an action block in another
// file). Unknown keys are reported here rather than by the schema, so that they are warnings (Talon
// ignored them) whatever object mode the plugin's schema uses, and errors under `--strict`.
import type { z } from "zod";
import type { ParamsSchema } from "../plugins/types.ts";
import { type Diagnostic, valueAt } from "../yaml/source.ts";
import { diagnosticAt, locateNested, type Subject, suggest } from "./diagnostics.ts";
import type { Loc } from "./types.ts";

export interface ParamsInput {
  /** "actionner 'kubernetes:label'" or "output 'aws:s3'", for messages. */
  readonly owner: string;
  readonly schema: ParamsSchema;
  readonly check: ((params: never) => string[]) | undefined;
  readonly parameters: Record<string, unknown>;
  readonly parameterAt: ReadonlyMap<string, Loc>;
  /** Where a problem without a better place is reported: the `parameters` key of the action/output. */
  readonly fallback: Loc;
  readonly subject: Subject;
  readonly strict: boolean;
}

/** The validated parameters (defaults applied), or undefined when they are invalid. */
export function validateParams(input: ParamsInput, diagnostics: Diagnostic[]): Record<string, unknown> | undefined {
  const known = withoutUnknownKeys(input, diagnostics);
  const result = input.schema.safeParse(known);
  if (!result.success) {
    for (const issue of result.error.issues) diagnostics.push(issueDiagnostic(input, known, issue));
    return undefined;
  }
  const data = result.data as Record<string, unknown>;
  const problems = input.check?.(data as never) ?? [];
  for (const message of problems) {
    diagnostics.push(
      diagnosticAt(input.fallback.source.locate(input.fallback.path), "error", "ERR_PARAMS_INVALID", message, input.subject),
    );
  }
  return problems.length > 0 ? undefined : data;
}

function withoutUnknownKeys(input: ParamsInput, diagnostics: Diagnostic[]): Record<string, unknown> {
  const shape = (input.schema as { shape?: Record<string, unknown> }).shape;
  if (shape === undefined) return input.parameters;
  const allowed = Object.keys(shape);
  const known: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input.parameters)) {
    if (Object.hasOwn(shape, key)) {
      known[key] = value;
      continue;
    }
    const message = `unknown parameter '${key}' for the ${input.owner}${input.strict ? "" : ", ignored"}${suggest(key, allowed)}`;
    const at = input.parameterAt.get(key) ?? input.fallback;
    diagnostics.push(
      diagnosticAt(at.source.locate(at.path), input.strict ? "error" : "warning", "ERR_PARAMS_INVALID", message, input.subject),
    );
  }
  return known;
}

function issueDiagnostic(input: ParamsInput, known: Record<string, unknown>, issue: z.core.$ZodIssue): Diagnostic {
  const path = issue.path;
  const top = path[0];
  const origin = typeof top === "string" ? input.parameterAt.get(top) : undefined;
  const position =
    origin === undefined ? input.fallback.source.locate(input.fallback.path) : locateNested(origin, path.slice(1), known[top as string]);
  return diagnosticAt(position, "error", "ERR_PARAMS_INVALID", issueMessage(input.owner, known, issue), input.subject);
}

function issueMessage(owner: string, known: Record<string, unknown>, issue: z.core.$ZodIssue): string {
  if (issue.path.length === 0) return `invalid parameters for the ${owner}: ${issue.message}`;
  const name = pathText(issue.path);
  if (issue.code === "invalid_type" && valueAt(known, issue.path) === undefined) return `missing parameter '${name}' for the ${owner}`;
  return `invalid parameter '${name}' for the ${owner}: ${issue.message}`;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out === "" ? "" : "."}${String(p)}`;
  return out;
}
