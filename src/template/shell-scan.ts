// A conservative reader of the shell scripts rules carry (kubernetes:exec, kubernetes:script, local:command
// with `sh -c`). It does not run or rewrite anything: it finds, for every `${VAR}` of the rule, the quoting
// around it (bare word, "…", '…') so that shell.ts can replace it with a reference to a positional
// parameter, and it lists the simple commands with their words so that shell-commands.ts can tell which
// words a program evaluates as code. Whatever it cannot read with certainty (a reference inside backticks,
// `$'…'`, an arithmetic expression, a here-document, after a backslash, a `case` inside `$( )`) is reported
// as a problem: the rule is refused rather than guessed at.
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
const isRef = (c: string | undefined): boolean => c !== undefined && refAt(c, 0) !== undefined;
const refIndex = (c: string): number => c.charCodeAt(0) - REF_BASE;
const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAM = /[0-9@*#?$!-]/;

/** Reads a script whose template references are private-use characters. */
export function scanShell(text: string): ScanResult {
  const s = new Scanner(text);
  s.list(undefined, 0);
  return { commands: s.commands, quotes: s.quotes, arithmetic: s.arithmetic, problems: s.problems, functions: s.functions };
}

class Scanner {
  readonly s: string;
  i = 0;
  readonly commands: SimpleCommand[] = [];
  readonly quotes = new Map<number, Quote>();
  readonly arithmetic: Arithmetic[] = [];
  readonly problems: Problem[] = [];
  functions = false;
  #heredocs: { delimiter: string; strip: boolean; quoted: boolean; offset: number }[] = [];

  constructor(text: string) {
    this.s = text;
  }

  problem(offset: number, message: string): void {
    this.problems.push({ offset, message });
  }

  /** Marks every reference in [from, to) with the quoting `quote`, or as a problem when `refused` is given. */
  #refsIn(from: number, to: number, quote: Quote, refused?: string): void {
    for (let k = from; k < to; k++) {
      const c = this.s[k];
      if (!isRef(c)) continue;
      if (refused !== undefined) this.problem(k, refused);
      else this.quotes.set(refIndex(c!), quote);
    }
  }

  /** Commands until `stop` (")" of a `$(`, or the end); `depth` counts the `$( )` around. */
  list(stop: ")" | undefined, depth: number): void {
    const s = this.s;
    let words: Word[] = [];
    let redirects: Word[] = [];
    let writes: Word[] = [];
    let start = this.i;
    let parens = 0;
    const end = (): void => {
      if (words.length > 0 || redirects.length > 0) this.commands.push({ kind: "simple", words, redirects, writes, offset: start });
      words = [];
      redirects = [];
      writes = [];
    };
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === " " || c === "\t") {
        this.i++;
        continue;
      }
      if (c === "\\" && s[this.i + 1] === "\n") {
        this.i += 2;
        continue;
      }
      if (words.length === 0 && redirects.length === 0) start = this.i;
      if (c === "#") {
        const nl = s.indexOf("\n", this.i);
        const stopAt = nl === -1 ? s.length : nl;
        this.#refsIn(this.i, stopAt, "comment");
        this.i = stopAt;
        continue;
      }
      if (c === "\n") {
        end();
        this.i++;
        this.#readHeredocBodies();
        continue;
      }
      if (c === ";" || c === "&" || c === "|") {
        if (c === "&" && s[this.i + 1] === ">") {
          this.#redirect(redirects, writes);
          continue;
        }
        end();
        this.i += s[this.i + 1] === c || (c === "|" && s[this.i + 1] === "&") || (c === ";" && s[this.i + 1] === "&") ? 2 : 1;
        if (s[this.i] === "&") this.i++; // ;;&
        continue;
      }
      if (c === "(") {
        if (s[this.i + 1] === "(" && words.length === 0) {
          this.#arithmetic(this.i, this.i + 2, "((");
          continue;
        }
        if (words.length === 1 && /^\(\s*\)/.test(s.slice(this.i))) this.functions = true; // name() { … }
        end();
        parens++;
        this.i++;
        continue;
      }
      if (c === ")") {
        end();
        this.i++;
        if (parens > 0) parens--;
        else if (stop === ")") return;
        continue;
      }
      if (c === "<" || c === ">") {
        if (s[this.i + 1] === "(") {
          words.push(this.word()); // process substitution <(…) >(…): a word part
          continue;
        }
        this.#redirect(redirects, writes);
        continue;
      }
      const word = this.word();
      if (isDigits(word) && (s[this.i] === "<" || s[this.i] === ">")) continue; // 2>&1: the fd of a redirection
      if (words.length === 0 && literalOf(word) === "[[") {
        this.#doubleBracket(start);
        continue;
      }
      if (words.length === 0 && literalOf(word) === "function") this.functions = true;
      if (words.length === 0 && depth > 0 && literalOf(word) === "case") {
        this.problem(word.offset, "a 'case' inside $( ) is not analysed (its patterns end with ')'); move it out of the substitution");
      }
      words.push(word);
    }
    end();
    if (stop === ")") this.problem(this.s.length, "unterminated $( )");
    if (this.#heredocs.length > 0) this.#readHeredocBodies();
  }

  /** `[[ … ]]`: its words up to `]]`, where && || ( ) < > are part of the test, not operators. */
  #doubleBracket(start: number): void {
    const s = this.s;
    const words: Word[] = [];
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === " " || c === "\t" || c === "\n") {
        this.i++;
        continue;
      }
      if (c === "&" || c === "|" || c === "(" || c === ")" || c === "<" || c === ">" || c === ";") {
        const op = s[this.i + 1] === c ? c + c : c;
        words.push({ parts: [{ kind: "lit", text: op }], offset: this.i });
        this.i += op.length;
        continue;
      }
      const w = this.word();
      if (literalOf(w) === "]]") {
        this.commands.push({ kind: "test", words, redirects: [], writes: [], offset: start });
        return;
      }
      words.push(w);
    }
    this.problem(start, "unterminated [[");
  }

  #redirect(redirects: Word[], writes: Word[]): void {
    const s = this.s;
    const at = this.i;
    let op = "";
    while (this.i < s.length && "<>&|-".includes(s[this.i]!) && op.length < 3) {
      if (s[this.i] === "-" && !op.startsWith("<<")) break;
      op += s[this.i];
      this.i++;
    }
    while (s[this.i] === " " || s[this.i] === "\t") this.i++;
    if (this.i >= s.length || META.has(s[this.i]!)) {
      this.problem(at, `a redirection '${op}' without a target`);
      return;
    }
    const target = this.word();
    if (op === "<<" || op === "<<-") {
      const quoted = target.parts.some((p) => p.kind !== "lit") || /['"\\]/.test(this.s.slice(target.offset, this.i));
      if (target.parts.some((p) => p.kind === "ref")) this.problem(target.offset, "a here-document delimiter cannot be an event value");
      this.#heredocs.push({ delimiter: literalText(target), strip: op === "<<-", quoted, offset: at });
      return;
    }
    redirects.push(target);
    if (op.includes(">") && !op.endsWith("&")) writes.push(target); // >&2 names a descriptor, not a file
  }

  /** After the newline ending a command line: the bodies of its here-documents. */
  #readHeredocBodies(): void {
    const s = this.s;
    for (const doc of this.#heredocs) {
      const bodyStart = this.i;
      let found = false;
      while (this.i < s.length) {
        const nl = s.indexOf("\n", this.i);
        const lineEnd = nl === -1 ? s.length : nl;
        let line = s.slice(this.i, lineEnd);
        if (doc.strip) line = line.replace(/^\t+/, "");
        this.i = nl === -1 ? s.length : nl + 1;
        if (line === doc.delimiter) {
          found = true;
          break;
        }
      }
      this.#refsIn(
        bodyStart,
        this.i,
        "bare",
        "inside a here-document, where a line of the value could end the document or feed a program's code; pass the value as an argument, e.g. printf '%s\\n' ${VAR} | program",
      );
      if (!doc.quoted) this.#expansionsInBody(bodyStart, this.i);
      if (!found) this.problem(doc.offset, `the here-document ends before its delimiter '${doc.delimiter}'`);
    }
    this.#heredocs = [];
  }

  /** An unquoted here-document's body expands $…: its command substitutions are commands too. */
  #expansionsInBody(from: number, to: number): void {
    const save = this.i;
    for (let k = from; k < to; k++) {
      if (this.s[k] === "\\") {
        k++;
        continue;
      }
      if (this.s[k] === "$" && this.s[k + 1] === "(") {
        this.i = k;
        this.#dollar(true);
        k = this.i - 1;
      }
    }
    this.i = save;
  }

  /** One word, up to an unquoted metacharacter. */
  word(): Word {
    const s = this.s;
    const offset = this.i;
    const parts: Part[] = [];
    let lit = "";
    const flush = (): void => {
      if (lit !== "") parts.push({ kind: "lit", text: lit });
      lit = "";
    };
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (META.has(c)) {
        if ((c === "<" || c === ">") && s[this.i + 1] === "(" && this.i === offset) {
          flush();
          const at = this.i;
          this.i += 2;
          this.list(")", 1);
          parts.push({ kind: "exp", subst: true, text: s.slice(at, this.i) });
          continue;
        }
        break;
      }
      if (c === "\\") {
        if (s[this.i + 1] === "\n") {
          this.i += 2;
          continue;
        }
        if (isRef(s[this.i + 1])) this.#afterBackslash(this.i + 1);
        lit += s[this.i + 1] ?? "";
        this.i += 2;
        continue;
      }
      if (c === "'") {
        const close = s.indexOf("'", this.i + 1);
        const stopAt = close === -1 ? s.length : close;
        this.#refsIn(this.i + 1, stopAt, "single");
        for (let k = this.i + 1; k < stopAt; k++) {
          if (isRef(s[k])) {
            flush();
            parts.push({ kind: "ref", ref: refIndex(s[k]!) });
          } else lit += s[k];
        }
        if (close === -1) this.problem(this.i, "unterminated '…'");
        this.i = stopAt + 1;
        continue;
      }
      if (c === '"') {
        flush();
        this.#double(parts);
        continue;
      }
      if (c === "$" || c === "`" || isRef(c)) {
        flush();
        if (this.#expansion(parts, "bare")) lit += "$";
        continue;
      }
      lit += c;
      this.i++;
    }
    flush();
    const word: Word = { parts, offset };
    this.#subscript(word);
    return word;
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
    this.#refsIn(
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
    const exp = this.#dollar(quote === "double");
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
    let lit = "";
    const flush = (): void => {
      if (lit !== "") parts.push({ kind: "lit", text: lit });
      lit = "";
    };
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '"') {
        this.i++;
        flush();
        if (parts.length === 0) parts.push({ kind: "lit", text: "" });
        return;
      }
      if (c === "\\") {
        const next = s[this.i + 1];
        if (isRef(next)) this.#afterBackslash(this.i + 1);
        if (next !== undefined && '$`"\\\n'.includes(next)) {
          if (next !== "\n") lit += next;
        } else lit += `\\${next ?? ""}`;
        this.i += 2;
        continue;
      }
      if (c === "$" || c === "`" || isRef(c)) {
        flush();
        if (this.#expansion(parts, "double")) lit += "$";
        continue;
      }
      lit += c;
      this.i++;
    }
    flush();
    this.problem(open, 'unterminated "…"');
  }

  /**
   * At a `$`: the expansion it starts, "quoted" for `$"…"` (read into no part here), or undefined for a
   * literal `$`. Leaves `i` after it.
   */
  #dollar(inDouble: boolean): Part | "quoted" | undefined {
    const s = this.s;
    const at = this.i;
    const next = s[at + 1];
    if (isRef(next)) {
      this.problem(at + 1, "right after a '$', where the shell would read the value as part of an expansion; remove the '$'");
      this.i++;
      return undefined;
    }
    if (next === "'" && !inDouble) {
      // $'…' (ANSI-C quoting): its escapes rewrite the text, so a value inside would not stay itself.
      let k = at + 2;
      while (k < s.length && s[k] !== "'") k += s[k] === "\\" ? 2 : 1;
      this.#refsIn(at + 2, k, "single", "inside $'…', whose escapes rewrite the value; use '…' or \"…\"");
      if (k >= s.length) this.problem(at, "unterminated $'…'");
      this.i = k + 1;
      return { kind: "exp", text: s.slice(at, this.i) }; // not literal: a program named so is not recognised
    }
    if (next === '"' && !inDouble) {
      this.i++;
      return "quoted";
    }
    if (next === "(" && s[at + 2] === "(") {
      this.#arithmetic(at, at + 3, "$((");
      return { kind: "exp", subst: true, text: s.slice(at, this.i) };
    }
    if (next === "(") {
      this.i = at + 2;
      this.list(")", 1);
      return { kind: "exp", subst: true, text: s.slice(at, this.i) };
    }
    if (next === "[") {
      this.#arithmetic(at, at + 2, "$[");
      return { kind: "exp", subst: true, text: s.slice(at, this.i) };
    }
    if (next === "{") {
      const close = this.#braceEnd(at + 2);
      const inner = s.slice(at + 2, close);
      this.#refsIn(
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
      if (c === "\\") k += 2;
      else if (c === "'") k = (s.indexOf("'", k + 1) + 1 || s.length + 1) - 0;
      else if (c === '"') {
        k++;
        while (k < s.length && s[k] !== '"') k += s[k] === "\\" ? 2 : 1;
        k++;
      } else if (c === "{") {
        depth++;
        k++;
      } else if (c === "}") {
        if (--depth === 0) return k;
        k++;
      } else k++;
    }
    return s.length;
  }

  /** `$((…))`, `((…))` or `$[…]` from `at` (content from `from`): refused for references, kept for taint. */
  #arithmetic(at: number, from: number, open: "$((" | "((" | "$["): void {
    const s = this.s;
    let k = from;
    let depth = 0;
    let endAt = -1;
    while (k < s.length) {
      const c = s[k]!;
      if (open === "$[") {
        if (c === "]") {
          endAt = k;
          break;
        }
      } else if (c === "(") depth++;
      else if (c === ")") {
        if (depth === 0 && s[k + 1] === ")") {
          endAt = k;
          break;
        }
        depth--;
      }
      k++;
    }
    const stopAt = endAt === -1 ? s.length : endAt;
    this.#refsIn(
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
    let k = at + 1;
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
    this.#refsIn(at + 1, k, "bare", "inside backticks, whose text the shell reads twice; use $( ) instead");
    if (k >= s.length) this.problem(at, "unterminated `…`");
    this.i = k + 1;
    const sub = scanShell(inner);
    if (sub.functions) this.functions = true;
    for (const c of sub.commands) this.commands.push(shift(c, at));
    for (const a of sub.arithmetic) this.arithmetic.push({ offset: at, text: a.text });
    for (const p of sub.problems)
      if (!/^inside|^after|^right after/.test(p.message)) this.problems.push({ offset: at, message: p.message });
    return { kind: "exp", subst: true, text: s.slice(at, this.i) };
  }
}

function shift(c: SimpleCommand, offset: number): SimpleCommand {
  const move = (w: Word): Word => ({ parts: w.parts, offset });
  return { kind: c.kind, words: c.words.map(move), redirects: c.redirects.map(move), writes: c.writes.map(move), offset };
}

/** The word's text when it is all literal, else undefined. */
export function literalOf(word: Word): string | undefined {
  let text = "";
  for (const p of word.parts) {
    if (p.kind !== "lit") return undefined;
    text += p.text;
  }
  return text;
}

/** The literal text of a word with its expansions as written (for here-document delimiters). */
function literalText(word: Word): string {
  return word.parts.map((p) => (p.kind === "lit" ? p.text : p.kind === "exp" ? p.text : "")).join("");
}

function isDigits(word: Word): boolean {
  const text = literalOf(word);
  return text !== undefined && /^[0-9]+$/.test(text);
}
