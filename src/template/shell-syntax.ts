// What the shell reader (shell-scan.ts, shell-words.ts) hands to the command analysis (shell-commands.ts):
// commands as words, each word as literal text, template references and shell expansions.
//
// Template references arrive as single private-use characters (U+E000 + occurrence index), so that the
// scanner never confuses a reference with the shell's own `${…}`.

export const REF_BASE = 0xe000;
export const REF_LIMIT = 0x1000;

export type Quote = "bare" | "double" | "single" | "comment";

export type Part =
  | { readonly kind: "lit"; readonly text: string }
  | { readonly kind: "ref"; readonly ref: number }
  /** A shell expansion: `$name`, `${name…}`, `$(…)`, `` `…` ``, `$((…))`; `name` when it reads one variable. */
  | { readonly kind: "exp"; readonly name?: string; readonly subst?: true; readonly text: string };

export interface Word {
  readonly parts: Part[];
  readonly offset: number;
}

export interface SimpleCommand {
  /** "simple": words of a command; "test": the words of `[[ … ]]`. */
  readonly kind: "simple" | "test";
  readonly words: Word[];
  readonly redirects: Word[];
  /** The files it writes through `>`, `>>`, `>|`, `&>`, `<>` (a subset of `redirects`). */
  readonly writes: Word[];
  readonly offset: number;
}

export interface Problem {
  readonly offset: number;
  readonly message: string;
}

/** Text evaluated as an arithmetic expression: `$((…))`, `((…))`, `$[…]`, an array subscript. */
export interface Arithmetic {
  readonly offset: number;
  readonly text: string;
}

export interface ScanResult {
  readonly commands: SimpleCommand[];
  /** The quoting of each reference, by occurrence index. */
  readonly quotes: Map<number, Quote>;
  readonly arithmetic: Arithmetic[];
  readonly problems: Problem[];
  /** The script defines a function: inside it, $1… are the function's arguments, which may be values. */
  readonly functions: boolean;
}

/** The occurrence index of the reference at `offset` of `text`, or undefined when no reference is there. */
export function refAt(text: string, offset: number): number | undefined {
  const code = text.charCodeAt(offset);
  return code >= REF_BASE && code < REF_BASE + REF_LIMIT ? code - REF_BASE : undefined;
}

export const isRef = (c: string | undefined): boolean => c !== undefined && refAt(c, 0) !== undefined;
export const refIndex = (c: string): number => c.charCodeAt(0) - REF_BASE;

/** A word with no parts: what a missing word reads as. */
export const EMPTY: Word = { parts: [], offset: 0 };

/** The word's text when it is all literal, else undefined. */
export function literalOf(word: Word): string | undefined {
  let text = "";
  for (const p of word.parts) {
    if (p.kind !== "lit") return undefined;
    text += p.text;
  }
  return text;
}

/** Literal text and the parts of one word as it is read: text accumulates until a non-literal part. */
export class PartList {
  readonly parts: Part[];
  lit = "";

  constructor(parts: Part[] = []) {
    this.parts = parts;
  }

  /** Ends the literal text read so far as a part of its own. */
  flush(): void {
    if (this.lit !== "") this.parts.push({ kind: "lit", text: this.lit });
    this.lit = "";
  }

  /** Ends the literal text, then adds `part`. */
  push(part: Part): void {
    this.flush();
    this.parts.push(part);
  }
}
