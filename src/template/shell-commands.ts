// Which words of a command a program evaluates as code. Event values reach a script only as data (see
// shell.ts), but a program can still turn data back into code: `eval "$x"`, `sh -c "$x"`, `python3 -c
// "…$x…"`, an awk or sed program, arithmetic on a variable (`$((x))` evaluates `a[$(cmd)]`). This module
// follows every value through the script (a variable assigned from one carries it, shell-taint.ts) and
// refuses each place where a value-carrying word would be evaluated, names a program, or names a variable.
// The list covers the shells, interpreters, query tools and wrappers a response script uses
// (shell-handlers.ts, shell-interpreters.ts); a program it does not know takes its arguments as data.
import { basename } from "node:path";
import { assignment, type CommandAnalysis, checkAssignment, skipKeywords, type Taint } from "./shell-analysis.ts";
import { handlerFor } from "./shell-handlers.ts";
import { scanShell } from "./shell-scan.ts";
import { type Arithmetic, EMPTY, literalOf, type Problem, type ScanResult, type SimpleCommand, type Word } from "./shell-syntax.ts";
import { followValues } from "./shell-taint.ts";

export interface Analysis {
  readonly problems: Problem[];
  /** Occurrences of references that start an argument with no `--` before: a leading '-' is refused. */
  readonly optionGuards: Set<number>;
}

const POSITIONAL = /^([1-9][0-9]*|[@*])$/;
/** Paths that are the standard input. */
const STDIN_PATH = /^(-|\/dev\/stdin|\/dev\/fd\/[0-9]+|\/proc\/[^/]+\/fd\/[0-9]+)$/;

/** Refuses the value-carrying words a script's commands would evaluate. */
export function analyseScript(scan: ScanResult, taint: Taint): Analysis {
  if (scan.functions) taint.positional = true; // a function's $1… are whatever it is called with
  const a = new Analyser(taint);
  // Twice, so that a variable assigned late in a loop taints its uses earlier in the loop.
  for (let pass = 0; pass < 2; pass++) for (const c of scan.commands) followValues(c, a);
  for (const c of scan.commands) a.noteWrites(c);
  for (const c of scan.commands) a.command(c);
  for (const ar of scan.arithmetic) a.arithmetic(ar);
  return { problems: a.problems, optionGuards: a.guards };
}

/** The same for one argv (local:command without a shell): its words are already separate arguments. */
export function analyseArgv(words: Word[], taint: Taint, onScript?: (script: Word, rest: Word[]) => boolean): Analysis {
  const a = new Analyser(taint, onScript);
  a.command({ kind: "simple", words, redirects: [], writes: [], offset: 0 });
  return { problems: a.problems, optionGuards: a.guards };
}

class Analyser implements CommandAnalysis {
  readonly taint: Taint;
  readonly problems: Problem[] = [];
  readonly guards = new Set<number>();
  readonly onScript: ((script: Word, rest: Word[]) => boolean) | undefined;

  constructor(taint: Taint, onScript?: (script: Word, rest: Word[]) => boolean) {
    this.taint = taint;
    this.onScript = onScript;
  }

  /** Files the script writes (`> f`, `tee f`): what it writes may be a value, so they never run as code. */
  readonly #written = new Set<string>();

  noteWrites(c: SimpleCommand): void {
    const words = skipKeywords(c.words);
    const targets = [...c.writes, ...(literalOf(words[0] ?? EMPTY) === "tee" ? words.slice(1) : [])];
    for (const w of targets) {
      const path = literalOf(w);
      if (path !== undefined && !path.startsWith("-") && path !== "/dev/null") this.#written.add(path);
    }
  }

  /** A literal path the script writes earlier (or later, in a loop). */
  #isWritten(word: Word): boolean {
    const path = literalOf(word);
    return path !== undefined && this.#written.has(path);
  }

  /** The command being read, for problems about the command as a whole. */
  #current: Word = EMPTY;

  problem(word: Word, message: string): void {
    this.problems.push({ offset: word.offset, message });
  }

  problemHere(message: string): void {
    this.problem(this.#current, message);
  }

  carries(word: Word): boolean {
    for (const p of word.parts) {
      if (p.kind === "ref") return true;
      if (p.kind !== "exp") continue;
      if (p.subst === true) return true; // a command's output may be an event value
      if (p.name === undefined) continue;
      if (this.taint.names.has(p.name) || (this.taint.positional && POSITIONAL.test(p.name))) return true;
    }
    return false;
  }

  evaluated(word: Word | undefined, what: string): void {
    if (word !== undefined && this.carries(word)) {
      this.problem(
        word,
        `${what} is evaluated as code, so an event value must not reach it; pass the value as an argument or in the environment and read it there`,
      );
    }
  }

  /** Words a shell runs as a script (eval's, trap's, sh -c's): refused when they carry a value, and read in
   * turn when literal, since the script they make may evaluate a variable that holds one. */
  shellText(words: Word[], what: string): void {
    let text = "";
    for (const w of words) {
      const literal = literalOf(w);
      if (literal === undefined) {
        this.evaluated(w, what);
        if (!this.carries(w)) this.problem(w, `${what} is built from expansions, so what it runs cannot be told; write it literally`);
        return;
      }
      text += `${text === "" ? "" : " "}${literal}`;
    }
    if (text === "") return;
    this.nestedScript(words[0]!, text, { names: new Set(this.taint.names), positional: this.taint.positional }, what);
  }

  nestedScript(at: Word, text: string, taint: Taint, what: string): void {
    const inner = analyseScript(scanShell(text), taint);
    for (const p of inner.problems) this.problems.push({ offset: at.offset, message: `in ${what}: ${p.message}` });
  }

  program(word: Word | undefined, what: string): void {
    if (word === undefined) return;
    if (this.carries(word)) this.problem(word, `an event value must not choose ${what}`);
    else if (STDIN_PATH.test(literalOf(word) ?? ""))
      this.problem(word, `${what} is read from standard input, which may carry an event value; give it as a file`);
    else if (this.#isWritten(word)) this.problem(word, `${what} is a file this script writes, so what it runs may be an event value`);
  }

  /** A name like a[$(cmd)] runs code. */
  name(word: Word | undefined, what: string): void {
    if (word !== undefined && this.carries(word)) {
      this.problem(word, `${what} takes a variable name, and a name such as a[$(cmd)] runs code: an event value must not be one`);
    }
  }

  command(c: SimpleCommand): void {
    if (c.kind === "test") {
      this.#doubleBracket(c.words);
      return;
    }
    const words = this.#afterAssignments(skipKeywords(c.words));
    const first = words[0];
    if (first === undefined) return;
    const name = literalOf(first);
    if (name === "for" || name === "select" || name === "case") return;
    this.#guardOptions(words);
    this.run(words);
  }

  /** The words after the command's leading assignments (checked) and a `function f {` header. */
  #afterAssignments(command: Word[]): Word[] {
    let words = command;
    while (words.length > 0) {
      const asg = assignment(words[0]!);
      if (asg === undefined) break;
      checkAssignment(words[0]!, asg, this);
      words = words.slice(1);
    }
    return literalOf(words[0] ?? EMPTY) === "function" ? skipKeywords(words.slice(2)) : words; // function f { body
  }

  run(words: Word[]): void {
    const first = words[0];
    if (first === undefined) return;
    const args = words.slice(1);
    const name = literalOf(first);
    if (name === undefined) {
      this.#computedProgram(first, args);
      return;
    }
    if (this.#isWritten(first)) this.problem(first, "the program is a file this script writes, so what it runs may be an event value");
    const handler = handlerFor(basename(name));
    this.#current = first;
    handler?.(args, this);
  }

  /** A program named by an expansion: refused when a value chooses it, or when values are passed to it. */
  #computedProgram(first: Word, args: Word[]): void {
    this.program(first, "the program to run");
    if (!this.carries(first) && args.some((w) => this.carries(w))) {
      this.problem(
        first,
        "the program's name is computed ($SHELL, $cmd…), so whether it evaluates the event values it is given cannot be told; name the program literally",
      );
    }
  }

  #doubleBracket(words: Word[]): void {
    const numeric = words.some((w) => /^-(eq|ne|lt|le|gt|ge|v|R)$/.test(literalOf(w) ?? ""));
    if (!numeric) return;
    for (const w of words) {
      if (this.carries(w)) {
        this.problem(
          w,
          "[[ … ]] with -eq, -lt, … evaluates its operands as arithmetic (a[$(cmd)] runs code); compare with [ … ] or case, which read numbers as text",
        );
      }
    }
  }

  arithmetic(ar: Arithmetic): void {
    if (/\$\(|`/.test(ar.text)) {
      this.problems.push({
        offset: ar.offset,
        message: "a command substitution inside an arithmetic expression is refused in a script that carries event values",
      });
      return;
    }
    for (const m of ar.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*])|\b([A-Za-z_][A-Za-z0-9_]*)\b/g)) {
      const name = m[1] ?? m[2]!;
      if (this.taint.names.has(name) || (this.taint.positional && POSITIONAL.test(name))) {
        this.problems.push({
          offset: ar.offset,
          message: `'${name}' holds an event value and is used in an arithmetic expression, which evaluates it as code; check it is a number first (case $${name} in ''|*[!0-9]*) exit 1;; esac) into another variable`,
        });
        return;
      }
    }
  }

  /** A reference that starts an argument, with no `--` before, could be read as an option. */
  #guardOptions(words: Word[]): void {
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      if (literalOf(w) === "--") return;
      const head = w.parts[0];
      if (head?.kind === "ref") this.guards.add(head.ref);
    }
  }
}
