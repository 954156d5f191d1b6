// A POSIX sh lexer and parser, small but real: quoting (single, double, backslash) is resolved the way sh
// resolves it, so a quoted `; rm -rf /` stays one argument and an unquoted one becomes a command. The
// result is an AST; nothing is expanded or run here.

export type WordPart =
  | { t: "lit"; v: string; q: boolean }
  | { t: "param"; name: string; q: boolean; op?: string; arg?: string }
  | { t: "cmdsub"; src: string; q: boolean }
  | { t: "arith"; src: string; q: boolean };

export type Word = WordPart[];

export interface Redirect {
  fd: number;
  op: "<" | ">" | ">>" | ">|" | ">&" | "<&" | "&>" | "<<";
  target: Word;
}

export type Node =
  | { t: "simple"; assigns: { name: string; value: Word }[]; words: Word[]; redirects: Redirect[] }
  | { t: "pipeline"; commands: Node[]; negate: boolean }
  | { t: "andor"; first: Node; rest: { op: "&&" | "||"; node: Node }[] }
  | { t: "list"; items: { node: Node; background: boolean }[] }
  | { t: "subshell"; body: Node; redirects: Redirect[] }
  | { t: "group"; body: Node; redirects: Redirect[] }
  | { t: "if"; clauses: { cond: Node; body: Node }[]; otherwise?: Node; redirects: Redirect[] }
  | { t: "loop"; until: boolean; cond: Node; body: Node; redirects: Redirect[] }
  | { t: "for"; name: string; items?: Word[]; body: Node; redirects: Redirect[] };

export class ShellSyntaxError extends Error {}

type Token = { t: "word"; parts: Word; raw: string } | { t: "op"; v: string; fd?: number } | { t: "nl" } | { t: "eof" };

const OPERATORS = ["&&", "||", ";;", ">>", "<<", ">&", "<&", ">|", "&>", "|", "&", ";", "(", ")", "<", ">"];
const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);

/** Index just past the `)` that closes a `$(`, skipping quotes and nested parentheses. */
function matchParen(s: string, start: number): number {
  let depth = 1;
  let i = start;
  while (i < s.length) {
    const c = s[i]!;
    if (c === "\\") i += 2;
    else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new ShellSyntaxError("Syntax error: Unterminated quoted string");
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') i += s[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "(") {
      depth++;
      i++;
    } else if (c === ")") {
      depth--;
      i++;
      if (depth === 0) return i;
    } else i++;
  }
  throw new ShellSyntaxError('Syntax error: end of file unexpected (expecting ")")');
}

class Lexer {
  private i = 0;
  private readonly s: string;
  private readonly pendingHeredocs: { delimiter: string; quoted: boolean; target: Word }[] = [];

  constructor(s: string) {
    this.s = s;
  }

  tokens(): Token[] {
    const out: Token[] = [];
    for (;;) {
      const tok = this.next();
      out.push(tok);
      if (tok.t === "op" && tok.v === "<<") {
        // The delimiter word follows; the body starts after the next newline.
        const delim = this.next();
        if (delim.t !== "word") throw new ShellSyntaxError("Syntax error: redirection unexpected");
        const target: Word = [];
        this.pendingHeredocs.push({
          delimiter: delim.parts.map((p) => (p.t === "lit" ? p.v : "")).join(""),
          quoted: delim.parts.some((p) => p.q),
          target,
        });
        out.push({ t: "word", parts: target, raw: delim.raw });
      }
      if (tok.t === "nl") this.readHeredocs();
      if (tok.t === "eof") {
        if (this.pendingHeredocs.length > 0) this.readHeredocs();
        return out;
      }
    }
  }

  private readHeredocs(): void {
    for (const h of this.pendingHeredocs.splice(0)) {
      const lines: string[] = [];
      for (;;) {
        if (this.i >= this.s.length) break;
        const nl = this.s.indexOf("\n", this.i);
        const line = nl === -1 ? this.s.slice(this.i) : this.s.slice(this.i, nl);
        this.i = nl === -1 ? this.s.length : nl + 1;
        if (line === h.delimiter) break;
        lines.push(line);
      }
      const body = lines.length === 0 ? "" : `${lines.join("\n")}\n`;
      if (h.quoted) h.target.push({ t: "lit", v: body, q: true });
      else h.target.push(...new Lexer(body).doubleQuotedBody());
    }
  }

  /** A here-document body: expansions as in double quotes, but quote characters are plain. */
  doubleQuotedBody(): Word {
    const parts: Word = [];
    let lit = "";
    const flush = () => {
      if (lit !== "") parts.push({ t: "lit", v: lit, q: true });
      lit = "";
    };
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === "\\" && "$`\\\n".includes(this.s[this.i + 1] ?? "")) {
        if (this.s[this.i + 1] !== "\n") lit += this.s[this.i + 1];
        this.i += 2;
      } else if (c === "$" || c === "`") {
        flush();
        parts.push(this.dollarOrBacktick(true));
      } else {
        lit += c;
        this.i++;
      }
    }
    flush();
    return parts;
  }

  private next(): Token {
    const s = this.s;
    for (;;) {
      while (this.i < s.length && (s[this.i] === " " || s[this.i] === "\t")) this.i++;
      if (s[this.i] === "\\" && s[this.i + 1] === "\n") {
        this.i += 2;
        continue;
      }
      if (s[this.i] === "#") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
        continue;
      }
      break;
    }
    if (this.i >= s.length) return { t: "eof" };
    if (s[this.i] === "\n") {
      this.i++;
      return { t: "nl" };
    }
    const io = /^(\d+)(>>|>&|>\||<&|<<|>|<)/.exec(s.slice(this.i, this.i + 12));
    if (io !== null) {
      this.i += io[0].length;
      return { t: "op", v: io[2]!, fd: Number(io[1]) };
    }
    for (const op of OPERATORS) {
      if (s.startsWith(op, this.i)) {
        this.i += op.length;
        return { t: "op", v: op };
      }
    }
    return this.word();
  }

  /** The whole input as one word (the argument of `${name:-word}`), blanks included. */
  wholeWord(): Word {
    return (this.word(true) as { parts: Word }).parts;
  }

  private word(whole = false): Token {
    const s = this.s;
    const start = this.i;
    const parts: Word = [];
    let lit = "";
    const flush = () => {
      if (lit !== "") parts.push({ t: "lit", v: lit, q: false });
      lit = "";
    };
    while (this.i < s.length && (whole || !META.has(s[this.i]!))) {
      const c = s[this.i]!;
      if (c === "'") {
        flush();
        const end = s.indexOf("'", this.i + 1);
        if (end === -1) throw new ShellSyntaxError("Syntax error: Unterminated quoted string");
        parts.push({ t: "lit", v: s.slice(this.i + 1, end), q: true });
        this.i = end + 1;
      } else if (c === '"') {
        flush();
        this.i++;
        parts.push(...this.doubleQuoted());
      } else if (c === "\\") {
        flush();
        const n = s[this.i + 1];
        this.i += 2;
        if (n === undefined) parts.push({ t: "lit", v: "\\", q: false });
        else if (n !== "\n") parts.push({ t: "lit", v: n, q: true });
      } else if (c === "$" || c === "`") {
        flush();
        parts.push(this.dollarOrBacktick(false));
      } else {
        lit += c;
        this.i++;
      }
    }
    flush();
    return { t: "word", parts, raw: s.slice(start, this.i) };
  }

  private doubleQuoted(): Word {
    const s = this.s;
    const parts: Word = [{ t: "lit", v: "", q: true }];
    let lit = "";
    const flush = () => {
      if (lit !== "") parts.push({ t: "lit", v: lit, q: true });
      lit = "";
    };
    for (;;) {
      if (this.i >= s.length) throw new ShellSyntaxError("Syntax error: Unterminated quoted string");
      const c = s[this.i]!;
      if (c === '"') {
        this.i++;
        break;
      }
      if (c === "\\" && '$`"\\\n'.includes(s[this.i + 1] ?? "")) {
        if (s[this.i + 1] !== "\n") lit += s[this.i + 1];
        this.i += 2;
      } else if (c === "$" || c === "`") {
        flush();
        parts.push(this.dollarOrBacktick(true));
      } else {
        lit += c;
        this.i++;
      }
    }
    flush();
    return parts;
  }

  private dollarOrBacktick(q: boolean): WordPart {
    const s = this.s;
    if (s[this.i] === "`") {
      let j = this.i + 1;
      let src = "";
      while (j < s.length && s[j] !== "`") {
        if (s[j] === "\\" && "$`\\".includes(s[j + 1] ?? "")) {
          src += s[j + 1];
          j += 2;
        } else src += s[j++];
      }
      if (j >= s.length) throw new ShellSyntaxError("Syntax error: EOF in backquote substitution");
      this.i = j + 1;
      return { t: "cmdsub", src, q };
    }
    const n = s[this.i + 1];
    if (n === "(" && s[this.i + 2] === "(") {
      const end = matchParen(s, this.i + 3);
      if (s[end] !== ")") throw new ShellSyntaxError('Syntax error: Missing "))"');
      const src = s.slice(this.i + 3, end - 1);
      this.i = end + 1;
      return { t: "arith", src, q };
    }
    if (n === "(") {
      const end = matchParen(s, this.i + 2);
      const src = s.slice(this.i + 2, end - 1);
      this.i = end;
      return { t: "cmdsub", src, q };
    }
    if (n === "{") {
      const end = s.indexOf("}", this.i + 2);
      if (end === -1) throw new ShellSyntaxError("Syntax error: Missing '}'");
      const inner = s.slice(this.i + 2, end);
      this.i = end + 1;
      if (inner.startsWith("#") && inner.length > 1) return { t: "param", name: inner.slice(1), q, op: "#len" };
      const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*!-])(:?[-=+?])?(.*)$/s.exec(inner);
      if (m === null || (m[2] === undefined && m[3] !== "")) throw new ShellSyntaxError(`Syntax error: Bad substitution`);
      return m[2] === undefined ? { t: "param", name: m[1]!, q } : { t: "param", name: m[1]!, q, op: m[2], arg: m[3]! };
    }
    const name = /^([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-])/.exec(s.slice(this.i + 1));
    if (name !== null) {
      this.i += 1 + name[0].length;
      return { t: "param", name: name[0], q };
    }
    this.i++;
    return { t: "lit", v: "$", q };
  }
}

const RESERVED = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "{", "}", "!", "case", "esac"]);

function reservedWord(tok: Token): string | undefined {
  if (tok.t !== "word" || tok.parts.length !== 1) return undefined;
  const p = tok.parts[0]!;
  return p.t === "lit" && !p.q && RESERVED.has(p.v) ? p.v : undefined;
}

class Parser {
  private pos = 0;
  private readonly toks: Token[];

  constructor(toks: Token[]) {
    this.toks = toks;
  }

  private peek(): Token {
    return this.toks[this.pos]!;
  }

  private describe(tok: Token): string {
    if (tok.t === "eof") return "end of file";
    if (tok.t === "nl") return "newline";
    if (tok.t === "op") return tok.v;
    return tok.raw;
  }

  private unexpected(tok: Token, expecting?: string): never {
    const what = tok.t === "eof" || tok.t === "nl" ? this.describe(tok) : `"${this.describe(tok)}"`;
    throw new ShellSyntaxError(`Syntax error: ${what} unexpected${expecting ? ` (expecting "${expecting}")` : ""}`);
  }

  private skipNewlines(): void {
    while (this.peek().t === "nl") this.pos++;
  }

  private expectReserved(word: string): void {
    this.skipNewlines();
    if (reservedWord(this.peek()) !== word) this.unexpected(this.peek(), word);
    this.pos++;
  }

  program(): Node {
    const list = this.list(new Set());
    const tok = this.peek();
    if (tok.t !== "eof") this.unexpected(tok);
    return list;
  }

  private isListEnd(tok: Token, terminators: Set<string>): boolean {
    if (tok.t === "eof") return true;
    if (tok.t === "op" && (tok.v === ")" || tok.v === ";;")) return true;
    const r = reservedWord(tok);
    return r !== undefined && terminators.has(r);
  }

  private list(terminators: Set<string>): Node {
    const items: { node: Node; background: boolean }[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isListEnd(this.peek(), terminators)) break;
      const node = this.andOr();
      let background = false;
      const sep = this.peek();
      if (sep.t === "op" && (sep.v === ";" || sep.v === "&")) {
        background = sep.v === "&";
        this.pos++;
      } else if (sep.t === "nl") {
        this.pos++;
      } else if (!this.isListEnd(sep, terminators)) {
        this.unexpected(sep);
      }
      items.push({ node, background });
    }
    return { t: "list", items };
  }

  private andOr(): Node {
    const first = this.pipeline();
    const rest: { op: "&&" | "||"; node: Node }[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.t !== "op" || (tok.v !== "&&" && tok.v !== "||")) break;
      this.pos++;
      this.skipNewlines();
      rest.push({ op: tok.v, node: this.pipeline() });
    }
    return rest.length === 0 ? first : { t: "andor", first, rest };
  }

  private pipeline(): Node {
    let negate = false;
    if (reservedWord(this.peek()) === "!") {
      negate = true;
      this.pos++;
    }
    const commands = [this.command()];
    for (;;) {
      const tok = this.peek();
      if (tok.t !== "op" || tok.v !== "|") break;
      this.pos++;
      this.skipNewlines();
      commands.push(this.command());
    }
    return commands.length === 1 && !negate ? commands[0]! : { t: "pipeline", commands, negate };
  }

  private redirects(): Redirect[] {
    const out: Redirect[] = [];
    for (;;) {
      const r = this.redirect();
      if (r === undefined) return out;
      out.push(r);
    }
  }

  private redirect(): Redirect | undefined {
    const tok = this.peek();
    if (tok.t !== "op" || !["<", ">", ">>", ">|", ">&", "<&", "&>", "<<"].includes(tok.v)) return undefined;
    this.pos++;
    const target = this.peek();
    if (target.t !== "word") this.unexpected(target);
    this.pos++;
    const op = tok.v as Redirect["op"];
    const fd = tok.fd ?? (op.startsWith("<") ? 0 : 1);
    return { fd, op, target: target.parts };
  }

  private command(): Node {
    const tok = this.peek();
    const r = reservedWord(tok);
    if (tok.t === "op" && tok.v === "(") {
      this.pos++;
      const body = this.list(new Set());
      const close = this.peek();
      if (close.t !== "op" || close.v !== ")") this.unexpected(close, ")");
      this.pos++;
      return { t: "subshell", body, redirects: this.redirects() };
    }
    if (r === "{") {
      this.pos++;
      const body = this.list(new Set(["}"]));
      this.expectReserved("}");
      return { t: "group", body, redirects: this.redirects() };
    }
    if (r === "if") {
      this.pos++;
      const clauses: { cond: Node; body: Node }[] = [];
      let otherwise: Node | undefined;
      for (;;) {
        const cond = this.list(new Set(["then"]));
        this.expectReserved("then");
        const body = this.list(new Set(["elif", "else", "fi"]));
        clauses.push({ cond, body });
        const next = reservedWord(this.peek());
        this.pos++;
        if (next === "elif") continue;
        if (next === "else") {
          otherwise = this.list(new Set(["fi"]));
          this.expectReserved("fi");
        } else if (next !== "fi") this.unexpected(this.toks[this.pos - 1]!, "fi");
        break;
      }
      return { t: "if", clauses, otherwise, redirects: this.redirects() };
    }
    if (r === "while" || r === "until") {
      this.pos++;
      const cond = this.list(new Set(["do"]));
      this.expectReserved("do");
      const body = this.list(new Set(["done"]));
      this.expectReserved("done");
      return { t: "loop", until: r === "until", cond, body, redirects: this.redirects() };
    }
    if (r === "for") {
      this.pos++;
      const nameTok = this.peek();
      if (nameTok.t !== "word" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(nameTok.raw)) this.unexpected(nameTok);
      this.pos++;
      let items: Word[] | undefined;
      this.skipNewlines();
      if (reservedWord(this.peek()) === "in") {
        this.pos++;
        items = [];
        for (;;) {
          const w = this.peek();
          if (w.t !== "word") break;
          items.push(w.parts);
          this.pos++;
        }
        const sep = this.peek();
        if (sep.t === "op" && sep.v === ";") this.pos++;
      } else {
        const sep = this.peek();
        if (sep.t === "op" && sep.v === ";") this.pos++;
      }
      this.expectReserved("do");
      const body = this.list(new Set(["done"]));
      this.expectReserved("done");
      return { t: "for", name: nameTok.raw, items, body, redirects: this.redirects() };
    }
    if (r !== undefined && r !== "in") this.unexpected(tok);
    return this.simple();
  }

  private simple(): Node {
    const assigns: { name: string; value: Word }[] = [];
    const words: Word[] = [];
    const redirects: Redirect[] = [];
    for (;;) {
      const red = this.redirect();
      if (red !== undefined) {
        redirects.push(red);
        continue;
      }
      const tok = this.peek();
      if (tok.t !== "word") break;
      if (words.length > 0 && (reservedWord(tok) === "}" || reservedWord(tok) === "{")) {
        words.push(tok.parts);
        this.pos++;
        continue;
      }
      const first = tok.parts[0];
      const m = first?.t === "lit" && !first.q ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(first.v) : null;
      if (words.length === 0 && m !== null) {
        const rest = first!.t === "lit" ? first!.v.slice(m[0].length) : "";
        const value: Word = rest === "" ? [] : [{ t: "lit", v: rest, q: false }];
        assigns.push({ name: m[1]!, value: [...value, ...tok.parts.slice(1)] });
      } else {
        words.push(tok.parts);
      }
      this.pos++;
    }
    if (assigns.length === 0 && words.length === 0 && redirects.length === 0) this.unexpected(this.peek());
    return { t: "simple", assigns, words, redirects };
  }
}

/** Parses the word in `${name:-word}` (quotes and expansions inside it work as in any word). */
export function parseWord(src: string): Word {
  return new Lexer(src).wholeWord();
}

export function parseScript(src: string): Node {
  return new Parser(new Lexer(src).tokens()).program();
}
