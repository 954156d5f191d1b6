// A conservative reader of the shell scripts rules carry (kubernetes:exec, kubernetes:script, local:command
// with `sh -c`). It does not run or rewrite anything: it finds, for every `${VAR}` of the rule, the quoting
// around it (bare word, "…", '…') so that shell.ts can replace it with a reference to a positional
// parameter, and it lists the simple commands with their words so that shell-commands.ts can tell which
// words a program evaluates as code. Whatever it cannot read with certainty (a reference inside backticks,
// `$'…'`, an arithmetic expression, a here-document, after a backslash, a `case` inside `$( )`) is reported
// as a problem: the rule is refused rather than guessed at.
//
// This file reads command lists (operators, redirections, here-documents, `[[ … ]]`); shell-words.ts reads
// the words, their quoting and expansions.
import { literalOf, type ScanResult, type Word } from "./shell-syntax.ts";
import { META, WordReader } from "./shell-words.ts";

/** Reads a script whose template references are private-use characters. */
export function scanShell(text: string): ScanResult {
  const s = new Scanner(text);
  s.list(undefined, 0);
  return { commands: s.commands, quotes: s.quotes, arithmetic: s.arithmetic, problems: s.problems, functions: s.functions };
}

/** The simple command being read. */
interface PendingCommand {
  words: Word[];
  redirects: Word[];
  writes: Word[];
  start: number;
  /** Subshell parentheses open in this list. */
  parens: number;
}

interface HereDocument {
  readonly delimiter: string;
  readonly strip: boolean;
  readonly quoted: boolean;
  readonly offset: number;
}

/** Operators inside `[[ … ]]`, where they are words of the test. */
const TEST_OPERATORS = new Set(["&", "|", "(", ")", "<", ">", ";"]);

class Scanner extends WordReader {
  #heredocs: HereDocument[] = [];

  override scanNested(text: string): ScanResult {
    return scanShell(text);
  }

  override list(stop: ")" | undefined, depth: number): void {
    const cmd: PendingCommand = { words: [], redirects: [], writes: [], start: this.i, parens: 0 };
    while (this.i < this.s.length) {
      if (this.#listStep(cmd, stop, depth)) return;
    }
    this.#endCommand(cmd);
    if (stop === ")") this.problem(this.s.length, "unterminated $( )");
    if (this.#heredocs.length > 0) this.#readHeredocBodies();
  }

  /** Reads what starts at `i` into `cmd`; true when it closed the `$( )` being read. */
  #listStep(cmd: PendingCommand, stop: ")" | undefined, depth: number): boolean {
    const s = this.s;
    const c = s[this.i]!;
    if (c === " " || c === "\t") {
      this.i++;
      return false;
    }
    if (c === "\\" && s[this.i + 1] === "\n") {
      this.i += 2;
      return false;
    }
    if (cmd.words.length === 0 && cmd.redirects.length === 0) cmd.start = this.i;
    switch (c) {
      case "#":
        this.#comment();
        return false;
      case "\n":
        this.#endCommand(cmd);
        this.i++;
        this.#readHeredocBodies();
        return false;
      case ";":
      case "&":
      case "|":
        this.#operator(cmd);
        return false;
      case "(":
        this.#openParen(cmd);
        return false;
      case ")":
        return this.#closeParen(cmd, stop);
      case "<":
      case ">":
        if (s[this.i + 1] === "(")
          cmd.words.push(this.word()); // process substitution <(…) >(…): a word part
        else this.#redirect(cmd);
        return false;
      default:
        this.#commandWord(cmd, depth);
        return false;
    }
  }

  /** Pushes the command read so far, if any, and starts the next. */
  #endCommand(cmd: PendingCommand): void {
    if (cmd.words.length > 0 || cmd.redirects.length > 0) {
      this.commands.push({ kind: "simple", words: cmd.words, redirects: cmd.redirects, writes: cmd.writes, offset: cmd.start });
    }
    cmd.words = [];
    cmd.redirects = [];
    cmd.writes = [];
  }

  /** `# …` to the end of the line: references there are only text. */
  #comment(): void {
    const nl = this.s.indexOf("\n", this.i);
    const stopAt = nl === -1 ? this.s.length : nl;
    this.refsIn(this.i, stopAt, "comment");
    this.i = stopAt;
  }

  /** `;` `&` `|` and their doubled forms (`;;&`, `|&`…) end a command; `&>` is a redirection. */
  #operator(cmd: PendingCommand): void {
    const s = this.s;
    const c = s[this.i]!;
    const next = s[this.i + 1];
    if (c === "&" && next === ">") {
      this.#redirect(cmd);
      return;
    }
    this.#endCommand(cmd);
    this.i += next === c || (c === "|" && next === "&") || (c === ";" && next === "&") ? 2 : 1;
    if (s[this.i] === "&") this.i++; // ;;&
  }

  /** `((…))` arithmetic, `name() {` (a function), or a subshell. */
  #openParen(cmd: PendingCommand): void {
    const s = this.s;
    if (s[this.i + 1] === "(" && cmd.words.length === 0) {
      this.arithmeticAt(this.i, this.i + 2, "((");
      return;
    }
    if (cmd.words.length === 1 && /^\(\s*\)/.test(s.slice(this.i))) this.functions = true; // name() { … }
    this.#endCommand(cmd);
    cmd.parens++;
    this.i++;
  }

  /** Ends a subshell, or (true) the `$( )` being read. */
  #closeParen(cmd: PendingCommand, stop: ")" | undefined): boolean {
    this.#endCommand(cmd);
    this.i++;
    if (cmd.parens > 0) {
      cmd.parens--;
      return false;
    }
    return stop === ")";
  }

  /** A word of the command, or the start of `[[`; notes `function` and a `case` inside `$( )`. */
  #commandWord(cmd: PendingCommand, depth: number): void {
    const word = this.word();
    if (isDigits(word) && (this.s[this.i] === "<" || this.s[this.i] === ">")) return; // 2>&1: the fd of a redirection
    const first = cmd.words.length === 0 ? literalOf(word) : undefined;
    if (first === "[[") {
      this.#doubleBracket(cmd.start);
      return;
    }
    if (first === "function") this.functions = true;
    if (first === "case" && depth > 0) {
      this.problem(word.offset, "a 'case' inside $( ) is not analysed (its patterns end with ')'); move it out of the substitution");
    }
    cmd.words.push(word);
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
      if (TEST_OPERATORS.has(c)) {
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

  #redirect(cmd: PendingCommand): void {
    const s = this.s;
    const at = this.i;
    const op = this.#redirectOperator();
    while (s[this.i] === " " || s[this.i] === "\t") this.i++;
    if (this.i >= s.length || META.has(s[this.i]!)) {
      this.problem(at, `a redirection '${op}' without a target`);
      return;
    }
    const target = this.word();
    if (op === "<<" || op === "<<-") {
      this.#hereDocument(op, target, at);
      return;
    }
    cmd.redirects.push(target);
    if (op.includes(">") && !op.endsWith("&")) cmd.writes.push(target); // >&2 names a descriptor, not a file
  }

  /** The operator of a redirection at `i` (`>`, `>>`, `<<-`, `&>`, `>&`…), up to three characters. */
  #redirectOperator(): string {
    const s = this.s;
    let op = "";
    while (this.i < s.length && "<>&|-".includes(s[this.i]!) && op.length < 3) {
      if (s[this.i] === "-" && !op.startsWith("<<")) break;
      op += s[this.i];
      this.i++;
    }
    return op;
  }

  /** `<<DELIM`: its body is read after the newline that ends the command line. */
  #hereDocument(op: "<<" | "<<-", target: Word, at: number): void {
    const quoted = target.parts.some((p) => p.kind !== "lit") || /['"\\]/.test(this.s.slice(target.offset, this.i));
    if (target.parts.some((p) => p.kind === "ref")) this.problem(target.offset, "a here-document delimiter cannot be an event value");
    this.#heredocs.push({ delimiter: literalText(target), strip: op === "<<-", quoted, offset: at });
  }

  /** After the newline ending a command line: the bodies of its here-documents. */
  #readHeredocBodies(): void {
    for (const doc of this.#heredocs) this.#readHeredocBody(doc);
    this.#heredocs = [];
  }

  #readHeredocBody(doc: HereDocument): void {
    const bodyStart = this.i;
    const found = this.#skipPastDelimiter(doc);
    this.refsIn(
      bodyStart,
      this.i,
      "bare",
      "inside a here-document, where a line of the value could end the document or feed a program's code; pass the value as an argument, e.g. printf '%s\\n' ${VAR} | program",
    );
    if (!doc.quoted) this.#expansionsInBody(bodyStart, this.i);
    if (!found) this.problem(doc.offset, `the here-document ends before its delimiter '${doc.delimiter}'`);
  }

  /** Moves `i` past the line that ends the document; false when the text ends first. */
  #skipPastDelimiter(doc: HereDocument): boolean {
    const s = this.s;
    while (this.i < s.length) {
      const nl = s.indexOf("\n", this.i);
      const lineEnd = nl === -1 ? s.length : nl;
      let line = s.slice(this.i, lineEnd);
      if (doc.strip) line = line.replace(/^\t+/, "");
      this.i = nl === -1 ? s.length : nl + 1;
      if (line === doc.delimiter) return true;
    }
    return false;
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
        this.dollar(true);
        k = this.i - 1;
      }
    }
    this.i = save;
  }
}

/** The literal text of a word with its expansions as written (for here-document delimiters). */
function literalText(word: Word): string {
  return word.parts.map((p) => (p.kind === "lit" ? p.text : p.kind === "exp" ? p.text : "")).join("");
}

function isDigits(word: Word): boolean {
  const text = literalOf(word);
  return text !== undefined && /^[0-9]+$/.test(text);
}
