// A YAML file kept together with its line counter, so that every diagnostic about a value in it can say
// file:line:col. Config and rules loading both go through this class.
import { type Document, isNode, LineCounter, type Node, parseDocument } from "yaml";
import type { ErrorCode } from "../errors.ts";

export type YamlPath = readonly (string | number)[];

export interface Position {
  file: string;
  line: number;
  column: number;
}

export interface Diagnostic extends Position {
  /** A note adds context (where a shared block is used, which Falco rules lack a field); it never fails a check. */
  severity: "error" | "warning" | "note";
  code: ErrorCode;
  message: string;
  rule?: string | undefined;
  action?: string | undefined;
}

export class YamlSource {
  readonly file: string;
  readonly doc: Document;
  readonly #lines = new LineCounter();

  constructor(file: string, text: string) {
    this.file = file;
    // uniqueKeys: a key written twice in one mapping is an error, not a silent overwrite.
    this.doc = parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true, prettyErrors: false });
  }

  /** The plain JavaScript value of the document (undefined for an empty file). */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
  }

  /** Position of the deepest node that exists on `path` (a missing key points at its parent). */
  locate(path: YamlPath): Position {
    const p = [...path];
    for (;;) {
      const node = p.length > 0 ? this.doc.getIn(p, true) : this.doc.contents;
      const offset = isNode(node) ? node.range?.[0] : undefined;
      if (offset !== undefined || p.length === 0) return this.positionOf(offset ?? 0);
      p.pop();
    }
  }

  /** Position of the key of `path` when it is a mapping entry, else of its value. */
  locateKey(path: YamlPath): Position {
    if (path.length === 0) return this.locate(path);
    const key = entryKey(this.doc.getIn(path.slice(0, -1), true), path[path.length - 1]!);
    return key?.range ? this.positionOf(key.range[0]) : this.locate(path);
  }

  positionOf(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /** Syntax errors and warnings of the parse, as diagnostics. */
  syntaxDiagnostics(code: ErrorCode): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const e of this.doc.errors) {
      out.push({ ...this.positionOf(e.pos[0]), severity: "error", code, message: firstLine(e.message) });
    }
    return out;
  }
}

/** The key node of the entry named `name` when `parent` is a mapping that has one (with a position). */
function entryKey(parent: unknown, name: string | number): Node | undefined {
  if (!parent || typeof parent !== "object" || !("items" in parent) || !Array.isArray(parent.items)) return undefined;
  for (const item of parent.items as unknown[]) {
    if (!item || typeof item !== "object" || !("key" in item)) continue;
    const key = (item as { key: unknown }).key;
    if (!isNode(key) || !key.range) continue;
    const keyValue = "value" in key ? (key as { value: unknown }).value : key;
    if (keyValue === name) return key;
  }
  return undefined;
}

/** The value at `path` inside a decoded document (undefined when any step is missing). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const seg of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}

function firstLine(message: string): string {
  const nl = message.indexOf("\n");
  return nl === -1 ? message : message.slice(0, nl);
}

/** Compiler-style rendering: `file:line:col: error message [rule "R" › action "A"] (CODE)`. */
export function formatDiagnostic(d: Diagnostic): string {
  let where = "";
  if (d.rule !== undefined && d.action !== undefined) where = ` [rule "${d.rule}" › action "${d.action}"]`;
  else if (d.rule !== undefined) where = ` [rule "${d.rule}"]`;
  else if (d.action !== undefined) where = ` [action "${d.action}"]`;
  // A problem with no place in a file (no rules file given, a file that cannot be read, an env var) names
  // only what it is about: never an invented position such as `<command line>:0:0`.
  const place = d.file === "" || d.file === "<command line>" ? "" : d.line === 0 ? `${d.file}: ` : `${d.file}:${d.line}:${d.column}: `;
  return `${place}${d.severity} ${d.message}${where} (${d.code})`;
}

/** Suggests the closest candidate when a name is misspelled (Levenshtein distance ≤ 3). */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : ` (did you mean "${best}"?)`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
