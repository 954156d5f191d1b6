// Parameter templating: `${NAME}` in any string parameter is replaced, per event, by the event's field or
// context value of that name (FD_NAME for fd.name, …). Values come only from the event and the action's
// context, never from or into process.env. An unknown name is an error, never an empty or stale value.
// `$NAME` without braces is left alone (so shell variables in scripts keep working); `$${` writes `${`.
import { KestrelError } from "../errors.ts";

type Segment = string | { readonly variable: string };

/** A string parameter split into literal text and variables; undefined when there is nothing to replace. */
export interface CompiledTemplate {
  /** The parameter as written. */
  readonly text: string;
  readonly segments: readonly Segment[];
  readonly variables: readonly string[];
}

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A piece of a template as written: literal text, `$${` (the text `${`), a variable, or a malformed `${`. */
export type TemplatePiece =
  | { readonly kind: "text"; readonly from: number; readonly to: number }
  | { readonly kind: "escape"; readonly at: number }
  | { readonly kind: "variable"; readonly name: string; readonly at: number }
  | { readonly kind: "unterminated"; readonly at: number }
  | { readonly kind: "invalid"; readonly name: string; readonly at: number };

/**
 * The one reader of `${VAR}` templates (parameters here, shell scripts in shell.ts). A malformed `${` is a
 * piece of its own: an unterminated one ends the text, an invalid name is skipped to its `}`.
 */
export function templatePieces(text: string): TemplatePiece[] {
  const pieces: TemplatePiece[] = [];
  let i = 0;
  for (let start = text.indexOf("${"); start !== -1; start = text.indexOf("${", i)) {
    const escaped = start > i && text[start - 1] === "$";
    const at = escaped ? start - 1 : start;
    if (at > i) pieces.push({ kind: "text", from: i, to: at });
    if (escaped) {
      pieces.push({ kind: "escape", at });
      i = start + 2;
      continue;
    }
    const end = text.indexOf("}", start + 2);
    if (end === -1) {
      pieces.push({ kind: "unterminated", at });
      return pieces;
    }
    const name = text.slice(start + 2, end).trim();
    pieces.push(VARIABLE_NAME.test(name) ? { kind: "variable", name, at } : { kind: "invalid", name, at });
    i = end + 1;
  }
  if (i < text.length) pieces.push({ kind: "text", from: i, to: text.length });
  return pieces;
}

/** Compiles a template; returns undefined for a string without `${` (the common case: no work per event). */
export function compileTemplate(text: string): CompiledTemplate | undefined {
  if (!text.includes("${")) return undefined;
  const segments: Segment[] = [];
  const variables: string[] = [];
  let literal = "";
  for (const piece of templatePieces(text)) {
    switch (piece.kind) {
      case "text":
        literal += text.slice(piece.from, piece.to);
        break;
      case "escape":
        literal += "${";
        break;
      case "unterminated":
        throw new KestrelError("ERR_TEMPLATE", `unterminated "\${" in "${text}"`);
      case "invalid":
        throw new KestrelError("ERR_TEMPLATE", `invalid variable name "\${${piece.name}}"`);
      case "variable":
        if (literal !== "") segments.push(literal);
        literal = "";
        segments.push({ variable: piece.name });
        variables.push(piece.name);
    }
  }
  if (literal !== "") segments.push(literal);
  return { text, segments, variables };
}

/** A source of variable values for one action run. */
export type Variables = ReadonlyMap<string, string>;

/** Renders a compiled template: each value is inserted as it is (data for a parameter, never code). */
export function renderTemplate(t: CompiledTemplate, vars: Variables): string {
  let out = "";
  for (const s of t.segments) {
    if (typeof s === "string") {
      out += s;
      continue;
    }
    const value = vars.get(s.variable);
    if (value === undefined) {
      throw new KestrelError("ERR_TEMPLATE", `the variable \${${s.variable}} is not defined for this event`);
    }
    out += value;
  }
  return out;
}

/**
 * A parameter tree with its templates compiled once (at rules load). `render` returns the same object when
 * the tree has no template, so actions without templates cost nothing per event.
 */
export interface ParamsTemplate<T> {
  /** The parameters as written, templates not rendered. */
  readonly raw: T;
  readonly hasTemplates: boolean;
  /** Every variable the templates use (for `rules check` and docs). */
  readonly variables: readonly string[];
  /** `verbatim(path)` true keeps that string as written: its plugin passes the values itself (a shell
   * script's values travel as positional parameters, shell.ts). */
  render(vars: Variables, verbatim?: (path: readonly (string | number)[]) => boolean): T;
}

type Node =
  | { kind: "const"; value: unknown }
  | { kind: "string"; template: CompiledTemplate }
  | { kind: "array"; items: Node[] }
  | { kind: "object"; entries: [string, Node][] };

export function compileParams<T>(params: T): ParamsTemplate<T> {
  const variables: string[] = [];
  const root = compileNode(params, variables);
  const hasTemplates = root.kind !== "const";
  return {
    raw: params,
    hasTemplates,
    variables,
    render(vars, verbatim) {
      if (!hasTemplates) return params;
      return renderNode(root, vars, [], verbatim) as T;
    },
  };
}

function compileNode(value: unknown, variables: string[]): Node {
  if (typeof value === "string") {
    const template = compileTemplate(value);
    if (template === undefined) return { kind: "const", value };
    variables.push(...template.variables);
    return { kind: "string", template };
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => compileNode(v, variables));
    return items.every((n) => n.kind === "const") ? { kind: "const", value } : { kind: "array", items };
  }
  if (value !== null && typeof value === "object") {
    const entries: [string, Node][] = Object.entries(value).map(([k, v]) => [k, compileNode(v, variables)]);
    return entries.every(([, n]) => n.kind === "const") ? { kind: "const", value } : { kind: "object", entries };
  }
  return { kind: "const", value };
}

function renderNode(
  node: Node,
  vars: Variables,
  path: (string | number)[],
  verbatim?: (path: readonly (string | number)[]) => boolean,
): unknown {
  switch (node.kind) {
    case "const":
      return node.value;
    case "string":
      return verbatim?.(path) === true ? node.template.text : renderTemplate(node.template, vars);
    case "array":
      return node.items.map((n, i) => renderNode(n, vars, [...path, i], verbatim));
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, n] of node.entries) out[k] = renderNode(n, vars, [...path, k], verbatim);
      return out;
    }
  }
}
