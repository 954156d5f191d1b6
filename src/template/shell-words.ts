// The word reader of the shell scanner (shell-scan.ts reads the commands around the words): quoting ('…',
// "…", backslashes), `$…` expansions, command substitutions, arithmetic and backticks. For each template
// reference it records the quoting around it, or a problem where the shell would read it as more than
// data (inside `$'…'`, backticks, arithmetic, a `${…}` operator, after a backslash or a '$').
import {
  type Arithmetic,
  isRef,
  type Part,
  PartList,
  type Problem,
  type Quote,
  refIndex,
  type ScanResult,
  type SimpleCommand,
  type Word,
} from "./shell-syntax.ts";

export const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAM = /[0-9@*#?$!-]/;

/** The state of one scan and the reading of words; the scanner adds the reading of command lists. */
export abstract class WordReader {
  readonly s: string;
  i = 0;
  readonly commands: SimpleCommand[] = [];
  readonly quotes = new Map<number, Quote>();
  readonly arithmetic: Arithmetic[] = [];
  readonly problems: Problem[] = [];
  functions = false;

  constructor(text: string) {
    this.s = text;
  }

  /** Commands until `stop` (")" of a `$(`, or the end); `depth` counts the `$( )` around. */
  abstract list(stop: ")" | undefined, depth: number): void;

  /** A whole scan of `text` (the inside of backticks, which the shell reads again). */
  abstract scanNested(text: string): ScanResult;

  problem(offset: number, message: string): void {
    this.problems.push({ offset, message });
  }

  /** Marks every reference in [from, to) with the quoting `quote`, or as a problem when `refused` is given. */
  refsIn(from: number, to: number, quote: Quote, refused?: string): void {
    for (let k = from; k < to; k++) {
      const c = this.s[k];
      if (!isRef(c)) continue;
      if (refused !== undefined) this.problem(k, refused);
      else this.quotes.set(refIndex(c!), quote);
    }
  }

  /** One word, up to an unquoted metacharacter. */
  word(): Word {
    const offset = this.i;
    const acc = new PartList();
    while (this.i < this.s.length && this.#wordStep(acc, offset));
    acc.flush();
    const word: Word = { parts: acc.parts, offset };
    this.#subscript(word);
    return word;
  }

  /** Reads what starts at `i` into the word begun at `offset`; false at the metacharacter that ends it. */
  #wordStep(acc: PartList, offset: number): boolean {
    const c = this.s[this.i]!;
    if (META.has(c)) return this.#processSubstitution(acc, offset);
    if (c === "\\") this.#bareBackslash(acc);
    else if (c === "'") this.#singleQuoted(acc);
    else if (c === '"') {
      acc.flush();
      this.#double(acc.parts);
    } else if (c === "$" || c === "`" || isRef(c)) {
      acc.flush();
      if (this.#expansion(acc.parts, "bare")) acc.lit += "$";
    } else {
      acc.lit += c;
      this.i++;
    }
    return true;
  }

  /** `<(…)` or `>(…)` starting the word at `offset`: a word part; false at any other metacharacter. */
  #processSubstitution(acc: PartList, offset: number): boolean {
    const s = this.s;
    const c = s[this.i];
    if (!((c === "<" || c === ">") && s[this.i + 1] === "(" && this.i === offset)) return false;
    acc.flush();
    const at = this.i;
    this.i += 2;
    this.list(")", 1);
    acc.parts.push({ kind: "exp", subst: true, text: s.slice(at, this.i) });
    return true;
  }

  /** An unquoted backslash: a line continuation, or the next character taken literally. */
  #bareBackslash(acc: PartList): void {
    const s = this.s;
    if (s[this.i + 1] === "\n") {
      this.i += 2;
      return;
    }
    if (isRef(s[this.i + 1])) this.#afterBackslash(this.i + 1);
    acc.lit += s[this.i + 1] ?? "";
    this.i += 2;
  }

  /** '…': references are "single"; the rest is literal. */
  #singleQuoted(acc: PartList): void {
    const s = this.s;
    const close = s.indexOf("'", this.i + 1);
    const stopAt = close === -1 ? s.length : close;
    this.refsIn(this.i + 1, stopAt, "single");
    for (let k = this.i + 1; k < stopAt; k++) {
      if (isRef(s[k])) acc.push({ kind: "ref", ref: refIndex(s[k]!) });
      else acc.lit += s[k];
    }
    if (close === -1) this.problem(this.i, "unterminated '…'");
    this.i = stopAt + 1;
  }

  /** `a[…]=value`: the subscript of an indexed array is evaluated as arithmetic. */
  #subscript(word: Word): void {
    const first = word.parts[0];
    if (first?.kind !== "lit") return;
    const m = /^[A-Za-z_][A-Za-z0-9_]*\[/.exec(first.text);
    if (m === null) return;
    const raw = this.s.slice(word.offset, this.i);
    const close = raw.indexOf("]=");
    if (close === -1) return;
    this.arithmetic.push({ offset: word.offset, text: raw.slice(m[0].length, close) });
    this.refsIn(
      word.offset,
      word.offset + close,
      "bare",
      "inside an array subscript, which the shell evaluates as arithmetic; assign the value to a plain variable",
    );
  }

  /** The `$…` expansion, backtick substitution or reference at `i`, into `parts`; true for a literal `$`. */
  #expansion(parts: Part[], quote: "bare" | "double"): boolean {
    const c = this.s[this.i]!;
    if (c === "`") {
      parts.push(this.#backtick());
      return false;
    }
    if (isRef(c)) {
      this.quotes.set(refIndex(c), quote);
      parts.push({ kind: "ref", ref: refIndex(c) });
      this.i++;
      return false;
    }
    const exp = this.dollar(quote === "double");
    if (exp === undefined) return true;
    if (exp !== "quoted") parts.push(exp);
    return false;
  }

  #afterBackslash(at: number): void {
    this.problem(
      at,
      "after a backslash, where the shell would take the value's first character literally and read the rest; remove the backslash",
    );
  }

  /** "…": references are "double"; expansions inside are word parts. */
  #double(parts: Part[]): void {
    const s = this.s;
    const open = this.i;
    this.i++;
    const acc = new PartList(parts);
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '"') {
        this.i++;
        acc.flush();
        if (parts.length === 0) parts.push({ kind: "lit", text: "" });
        return;
      }
      if (c === "\\") this.#backslashInDouble(acc);
      else if (c === "$" || c === "`" || isRef(c)) {
        acc.flush();
        if (this.#expansion(parts, "double")) acc.lit += "$";
      } else {
        acc.lit += c;
        this.i++;
      }
    }
    acc.flush();
    this.problem(open, 'unterminated "…"');
  }

  /** A backslash inside "…": it escapes only $ ` " \ and a newline; before anything else it stays. */
  #backslashInDouble(acc: PartList): void {
    const next = this.s[this.i + 1];
    if (isRef(next)) this.#afterBackslash(this.i + 1);
    if (next !== undefined && '$`"\\\n'.includes(next)) {
      if (next !== "\n") acc.lit += next;
    } else acc.lit += `\\${next ?? ""}`;
    this.i += 2;
  }

  /**
   * At a `$`: the expansion it starts, "quoted" for `$"…"` (read into no part here), or undefined for a
   * literal `$`. Leaves `i` after it.
   */
  dollar(inDouble: boolean): Part | "quoted" | undefined {
    const s = this.s;
    const at = this.i;
    const next = s[at + 1];
    if (isRef(next)) {
      this.problem(at + 1, "right after a '$', where the shell would read the value as part of an expansion; remove the '$'");
      this.i++;
      return undefined;
    }
    if (next === "'" && !inDouble) return this.#ansiCQuoted(at);
    if (next === '"' && !inDouble) {
      this.i++;
      return "quoted";
    }
    if (next === "(") return this.#dollarParen(at);
    if (next === "[") {
      this.arithmeticAt(at, at + 2, "$[");
      return { kind: "exp", subst: true, text: s.slice(at, this.i) };
    }
    if (next === "{") return this.#braced(at);
    return this.#parameter(at, next);
  }

  /** $'…' (ANSI-C quoting): its escapes rewrite the text, so a value inside would not stay itself. */
  #ansiCQuoted(at: number): Part {
    const s = this.s;
    const k = skipEscaped(s, at + 2, "'");
    this.refsIn(at + 2, k, "single", "inside $'…', whose escapes rewrite the value; use '…' or \"…\"");
    if (k >= s.length) this.problem(at, "unterminated $'…'");
    this.i = k + 1;
    return { kind: "exp", text: s.slice(at, this.i) }; // not literal: a program named so is not recognised
  }

  /** `$((…))` or `$(…)`. */
  #dollarParen(at: number): Part {
    if (this.s[at + 2] === "(") this.arithmeticAt(at, at + 3, "$((");
    else {
      this.i = at + 2;
      this.list(")", 1);
    }
    return { kind: "exp", subst: true, text: this.s.slice(at, this.i) };
  }

  /** `${…}`: references inside are refused; a subscript is arithmetic. */
  #braced(at: number): Part {
    const s = this.s;
    const close = this.#braceEnd(at + 2);
    const inner = s.slice(at + 2, close);
    this.refsIn(
      at + 2,
      close,
      "bare",
      "inside a shell ${…} expansion, where its operators read the value as a pattern or a word to expand; use the value as a word of its own",
    );
    this.i = close + 1;
    const name = /^[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])/.exec(inner)?.[1];
    const subscript = /^[A-Za-z_][A-Za-z0-9_]*\[([^\]]*)\]/.exec(inner);
    if (subscript !== null && !/^[@*]$/.test(subscript[1]!)) this.arithmetic.push({ offset: at, text: subscript[1]! });
    if (close >= s.length) this.problem(at, "unterminated ${…}");
    // A ${…} whose name is not read here (${!…} indirection, odd forms) is treated like a substitution.
    return name === undefined || inner.startsWith("!")
      ? { kind: "exp", subst: true, text: s.slice(at, this.i) }
      : { kind: "exp", name, text: s.slice(at, this.i) };
  }

  /** `$name` or a special parameter (`$1`, `$@`, `$?`…); undefined for a `$` that starts none. */
  #parameter(at: number, next: string | undefined): Part | undefined {
    const s = this.s;
    if (next !== undefined && NAME_START.test(next)) {
      let k = at + 2;
      while (k < s.length && NAME_CHAR.test(s[k]!)) k++;
      this.i = k;
      return { kind: "exp", name: s.slice(at + 1, k), text: s.slice(at, k) };
    }
    if (next !== undefined && SPECIAL_PARAM.test(next)) {
      this.i = at + 2;
      return { kind: "exp", name: next, text: s.slice(at, at + 2) };
    }
    this.i = at + 1;
    return undefined;
  }

  /** The index of the `}` closing a `${` whose content starts at `from` (nested braces and quotes skipped). */
  #braceEnd(from: number): number {
    const s = this.s;
    let depth = 1;
    let k = from;
    while (k < s.length) {
      const c = s[k]!;
      if (c === "}" && --depth === 0) return k;
      if (c === "{") depth++;
      k = afterQuotedAt(s, k);
    }
    return s.length;
  }

  /** `$((…))`, `((…))` or `$[…]` from `at` (content from `from`): refused for references, kept for taint. */
  arithmeticAt(at: number, from: number, open: "$((" | "((" | "$["): void {
    const s = this.s;
    const endAt = open === "$[" ? s.indexOf("]", from) : doubleParenEnd(s, from);
    const stopAt = endAt === -1 ? s.length : endAt;
    this.refsIn(
      from,
      stopAt,
      "bare",
      "inside an arithmetic expression, which evaluates the value as code (array subscripts, command substitutions); pass it as a word and check it, e.g. case ${VAR} in *[!0-9]*) exit 1;; esac",
    );
    this.arithmetic.push({ offset: at, text: s.slice(from, stopAt) });
    if (endAt === -1) this.problem(at, `unterminated ${open}`);
    this.i = endAt === -1 ? s.length : endAt + (open === "$[" ? 1 : 2);
  }

  /** `` `…` ``: references are refused; the commands inside are read for what they evaluate. */
  #backtick(): Part {
    const s = this.s;
    const at = this.i;
    const { inner, end } = backtickBody(s, at + 1);
    this.refsIn(at + 1, end, "bare", "inside backticks, whose text the shell reads twice; use $( ) instead");
    if (end >= s.length) this.problem(at, "unterminated `…`");
    this.i = end + 1;
    this.#merge(this.scanNested(inner), at);
    return { kind: "exp", subst: true, text: s.slice(at, this.i) };
  }

  /** Takes in what a nested scan found, all placed at `at`; its problems about references were reported already. */
  #merge(sub: ScanResult, at: number): void {
    if (sub.functions) this.functions = true;
    for (const c of sub.commands) this.commands.push(shift(c, at));
    for (const a of sub.arithmetic) this.arithmetic.push({ offset: at, text: a.text });
    for (const p of sub.problems)
      if (!/^inside|^after|^right after/.test(p.message)) this.problems.push({ offset: at, message: p.message });
  }
}

/** From `from`, the index of `close`, skipping backslash escapes; past the end when there is none. */
function skipEscaped(s: string, from: number, close: string): number {
  let k = from;
  while (k < s.length && s[k] !== close) k += s[k] === "\\" ? 2 : 1;
  return k;
}

/** The index after the character at `k` inside `${…}`, or after the escape or quoted string it starts. */
function afterQuotedAt(s: string, k: number): number {
  const c = s[k];
  if (c === "\\") return k + 2;
  if (c === "'") return s.indexOf("'", k + 1) + 1 || s.length + 1;
  if (c === '"') return skipEscaped(s, k + 1, '"') + 1;
  return k + 1;
}

/** The index of the `))` closing an arithmetic expression whose content starts at `from`, or -1. */
function doubleParenEnd(s: string, from: number): number {
  let depth = 0;
  for (let k = from; k < s.length; k++) {
    const c = s[k];
    if (c === "(") depth++;
    else if (c === ")") {
      if (depth === 0 && s[k + 1] === ")") return k;
      depth--;
    }
  }
  return -1;
}

/** The text of a `` `…` `` starting at `from` with its `\$ \` \\` escapes undone, and the index of its end. */
function backtickBody(s: string, from: number): { inner: string; end: number } {
  let k = from;
  let inner = "";
  while (k < s.length && s[k] !== "`") {
    if (s[k] === "\\" && "$`\\".includes(s[k + 1] ?? "")) {
      inner += s[k + 1];
      k += 2;
    } else {
      inner += s[k];
      k++;
    }
  }
  return { inner, end: k };
}

function shift(c: SimpleCommand, offset: number): SimpleCommand {
  const move = (w: Word): Word => ({ parts: w.parts, offset });
  return { kind: c.kind, words: c.words.map(move), redirects: c.redirects.map(move), writes: c.writes.map(move), offset };
}
