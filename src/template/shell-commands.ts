// Which words of a command a program evaluates as code. Event values reach a script only as data (see
// shell.ts), but a program can still turn data back into code: `eval "$x"`, `sh -c "$x"`, `python3 -c
// "…$x…"`, an awk or sed program, arithmetic on a variable (`$((x))` evaluates `a[$(cmd)]`). This module
// follows every value through the script (a variable assigned from one carries it) and refuses each place
// where a value-carrying word would be evaluated, names a program, or names a variable. The list covers
// the shells, interpreters, query tools and wrappers a response script uses; a program it does not know
// takes its arguments as data.
import { basename } from "node:path";
import { type Arithmetic, literalOf, type Problem, type ScanResult, type SimpleCommand, scanShell, type Word } from "./shell-scan.ts";

export interface Taint {
  /** Shell variables that hold event values (assigned from one, read from the event's JSON on stdin). */
  readonly names: Set<string>;
  /** The positional parameters ($1, "$@") hold event values. */
  positional: boolean;
}

export interface Analysis {
  readonly problems: Problem[];
  /** Occurrences of references that start an argument with no `--` before: a leading '-' is refused. */
  readonly optionGuards: Set<number>;
}

/** Variables that change how a shell or program runs: never set from an event value. */
export const DANGEROUS_VARIABLE =
  /^(PATH|IFS|ENV|BASH_ENV|CDPATH|GLOBIGNORE|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|LD_.*|BASH_FUNC_.*|NODE_OPTIONS|NODE_PATH|PYTHON.*|PERL5?(LIB|OPT|DB)|RUBYOPT|RUBYLIB|GCONV_PATH|HOSTALIASES|LOCPATH|NLSPATH|MALLOC_.*|GIT_.*|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS)$/;

const POSITIONAL = /^([1-9][0-9]*|[@*])$/;
/** Paths that are the standard input. */
const STDIN_PATH = /^(-|\/dev\/stdin|\/dev\/fd\/[0-9]+|\/proc\/[^/]+\/fd\/[0-9]+)$/;

/** Refuses the value-carrying words a script's commands would evaluate. */
export function analyseScript(scan: ScanResult, taint: Taint): Analysis {
  if (scan.functions) taint.positional = true; // a function's $1… are whatever it is called with
  const a = new Analyser(taint);
  // Twice, so that a variable assigned late in a loop taints its uses earlier in the loop.
  for (let pass = 0; pass < 2; pass++) for (const c of scan.commands) a.taintFrom(c);
  for (const c of scan.commands) a.noteWrites(c);
  for (const c of scan.commands) a.command(c);
  for (const ar of scan.arithmetic) a.arithmetic(ar);
  return { problems: a.problems, optionGuards: a.guards };
}

/** The same for one argv (local:command without a shell): its words are already separate arguments. */
export function analyseArgv(words: Word[], taint: Taint, onScript?: (script: Word, rest: Word[]) => boolean): Analysis {
  const a = new Analyser(taint);
  a.onScript = onScript;
  a.command({ kind: "simple", words, redirects: [], writes: [], offset: 0 });
  return { problems: a.problems, optionGuards: a.guards };
}

type Handler = (args: Word[], a: Analyser) => void;

class Analyser {
  readonly taint: Taint;
  readonly problems: Problem[] = [];
  readonly guards = new Set<number>();
  /** Takes the script of a `sh -c` found in an argv (local:command), which shell.ts compiles itself. */
  onScript: ((script: Word, rest: Word[]) => boolean) | undefined;

  constructor(taint: Taint) {
    this.taint = taint;
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

  /** Whether the word holds an event value: a reference, or an expansion of something that holds one. */
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

  /** A word the program evaluates as code (a script, a program text, an expression). */
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
    const inner = analyseScript(scanShell(text), { names: new Set(this.taint.names), positional: this.taint.positional });
    for (const p of inner.problems) this.problems.push({ offset: words[0]!.offset, message: `in ${what}: ${p.message}` });
  }

  /** A word that chooses the program (or a file or module of code) to run. */
  program(word: Word | undefined, what: string): void {
    if (word === undefined) return;
    if (this.carries(word)) this.problem(word, `an event value must not choose ${what}`);
    else if (STDIN_PATH.test(literalOf(word) ?? ""))
      this.problem(word, `${what} is read from standard input, which may carry an event value; give it as a file`);
    else if (this.#isWritten(word)) this.problem(word, `${what} is a file this script writes, so what it runs may be an event value`);
  }

  /** A word that names a shell variable (read, unset, printf -v): a name like a[$(cmd)] runs code. */
  name(word: Word | undefined, what: string): void {
    if (word !== undefined && this.carries(word)) {
      this.problem(word, `${what} takes a variable name, and a name such as a[$(cmd)] runs code: an event value must not be one`);
    }
  }

  /** Follows values into variables: assignments, read, for. */
  taintFrom(c: SimpleCommand): void {
    if (c.kind !== "simple") return;
    const words = skipKeywords(c.words);
    let i = 0;
    for (; i < words.length; i++) {
      const asg = assignment(words[i]!);
      if (asg === undefined) break;
      if (this.#valueCarries(words[i]!)) this.taint.names.add(asg);
    }
    const name = literalOf(words[i] ?? EMPTY);
    if (name === undefined) return;
    const args = words.slice(i + 1);
    switch (basename(name)) {
      case "for":
      case "select": {
        const v = literalOf(args[0] ?? EMPTY);
        const list = args.slice(2);
        if (v !== undefined && (list.some((w) => this.carries(w)) || (args.length === 1 && this.taint.positional))) this.taint.names.add(v);
        break;
      }
      case "read":
      case "mapfile":
      case "readarray":
      case "getopts":
        // What they read may be the event itself (local:command writes it on stdin).
        for (const w of args) {
          const n = literalOf(w);
          if (n !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) this.taint.names.add(n);
        }
        if (args.length === 0 || name === "read") this.taint.names.add("REPLY").add("MAPFILE");
        break;
      case "declare":
      case "typeset":
      case "local":
      case "export":
      case "readonly":
        for (const w of args) {
          const asg = assignment(w);
          if (asg !== undefined && this.#valueCarries(w)) this.taint.names.add(asg);
        }
        break;
      case "set":
        if (args.some((w) => this.carries(w))) this.taint.positional = true; // set -- "$x" makes $1 a value
        break;
      case "printf": {
        const v = args.findIndex((w) => literalOf(w) === "-v");
        const target = v === -1 ? undefined : literalOf(args[v + 1] ?? EMPTY);
        if (target !== undefined && args.some((w) => this.carries(w))) this.taint.names.add(target);
        break;
      }
    }
  }

  #valueCarries(word: Word): boolean {
    return this.carries({ parts: word.parts.slice(1), offset: word.offset }) || word.parts[0]?.kind !== "lit";
  }

  command(c: SimpleCommand): void {
    if (c.kind === "test") {
      this.#doubleBracket(c.words);
      return;
    }
    let words = skipKeywords(c.words);
    while (words.length > 0) {
      const asg = assignment(words[0]!);
      if (asg === undefined) break;
      if (DANGEROUS_VARIABLE.test(asg) && this.#valueCarries(words[0]!)) {
        this.problem(words[0]!, `${asg} changes how programs run: an event value must not set it`);
      }
      words = words.slice(1);
    }
    if (literalOf(words[0] ?? EMPTY) === "function") words = skipKeywords(words.slice(2)); // function f { body
    const first = words[0];
    if (first === undefined) return;
    const name = literalOf(first);
    if (name === "for" || name === "select" || name === "case") return;
    this.#guardOptions(words);
    this.run(words);
  }

  /** A command from its name on (also a command a wrapper runs). */
  run(words: Word[]): void {
    const first = words[0];
    if (first === undefined) return;
    const args = words.slice(1);
    const name = literalOf(first);
    if (name === undefined) {
      this.program(first, "the program to run");
      if (!this.carries(first) && args.some((w) => this.carries(w))) {
        this.problem(
          first,
          "the program's name is computed ($SHELL, $cmd…), so whether it evaluates the event values it is given cannot be told; name the program literally",
        );
      }
      return;
    }
    if (this.#isWritten(first)) this.problem(first, "the program is a file this script writes, so what it runs may be an event value");
    const handler = handlerFor(basename(name));
    this.#current = first;
    handler?.(args, this);
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

const EMPTY: Word = { parts: [], offset: 0 };
const KEYWORDS = new Set(["if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done", "esac", "time", "coproc"]);

function skipKeywords(words: Word[]): Word[] {
  let i = 0;
  while (i < words.length && KEYWORDS.has(literalOf(words[i]!) ?? "")) i++;
  if (literalOf(words[i - 1] ?? EMPTY) === "time" && literalOf(words[i] ?? EMPTY) === "-p") i++;
  return i === 0 ? words : words.slice(i);
}

/** The variable a `NAME=value` (or `NAME+=`, `NAME[i]=`) word assigns, if it is one. */
function assignment(word: Word): string | undefined {
  const head = word.parts[0];
  if (head?.kind !== "lit") return undefined;
  return /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(head.text)?.[1];
}

// ---- options -------------------------------------------------------------------------------------------

interface OptionSpec {
  /** Options whose value is program text. */
  readonly code?: readonly string[];
  /** Options whose value chooses code to load (a file, a module, a library). */
  readonly load?: readonly string[];
  /** Options whose value is rewritten (escapes processed) or spliced into code. */
  readonly spliced?: readonly string[];
  /** Options that take a value that is data; a number says how many words. */
  readonly valued?: Readonly<Record<string, number>>;
  /** What the first operand is when no code option was given. */
  readonly operand: "script" | "program" | "data";
  /** Short options that take their value attached (`-cCODE`, `-Mmodule`). */
  readonly attached?: boolean;
}

/** Reads an interpreter's command line after its name. */
function interpreter(spec: OptionSpec, what: string): Handler {
  return (args, a) => {
    let codeGiven = false;
    let i = 0;
    for (; i < args.length; i++) {
      const w = args[i]!;
      const text = literalOf(w);
      if (text === "--") {
        i++;
        break;
      }
      if (text === undefined || !text.startsWith("-") || text === "-") {
        if (text === undefined && w.parts[0]?.kind !== "ref" && w.parts[0]?.kind === "lit" && (w.parts[0].text as string).startsWith("-")) {
          a.program(w, `an option of ${what}`);
          continue;
        }
        break;
      }
      const eq = text.indexOf("=");
      const flag = text.startsWith("--") && eq !== -1 ? text.slice(0, eq) : text;
      const inline = text.startsWith("--") && eq !== -1;
      const attachedTo = (list: readonly string[] | undefined): string | undefined =>
        spec.attached === true && !text.startsWith("--")
          ? list?.find((o) => o.length === 2 && text.startsWith(o) && text.length > 2)
          : undefined;
      if (spec.code?.includes(flag) || attachedTo(spec.code) !== undefined) {
        codeGiven = true;
        if (!inline && attachedTo(spec.code) === undefined) a.evaluated(args[++i], `the program text of ${what} ${flag}`);
        continue;
      }
      if (spec.load?.includes(flag) || attachedTo(spec.load) !== undefined) {
        if (flag === "-f" || flag === "--file" || flag === "--from-file") codeGiven = true;
        if (!inline && attachedTo(spec.load) === undefined) a.program(args[++i], `the code ${what} ${flag} loads`);
        continue;
      }
      if (spec.spliced?.includes(flag)) {
        if (!inline) a.evaluated(args[++i], `the value of ${what} ${flag}`);
        continue;
      }
      const takes = spec.valued?.[flag];
      if (takes !== undefined && !inline) i += takes;
    }
    if (codeGiven) return;
    if (i >= args.length) {
      if (spec.operand === "script")
        a.problemHere(
          `${what} reading its program from standard input is refused where event values are around: the input could be one; give the program as a file or with its option`,
        );
      return;
    }
    if (spec.operand === "script") a.program(args[i], `the script ${what} runs`);
    else if (spec.operand === "program") a.evaluated(args[i], `the program of ${what}`);
  };
}

/** sh, bash, …: `-c script` (a literal script is read in turn), `-s`, or a script file. */
const shell: Handler = (args, a) => {
  let cMode = false;
  let sMode = false;
  let i = 0;
  for (; i < args.length; i++) {
    const text = literalOf(args[i]!);
    if (text === undefined) break;
    if (text === "--" || text === "-") {
      i++;
      break;
    }
    if (!/^[-+]/.test(text)) break;
    if (text === "--rcfile" || text === "--init-file") {
      a.program(args[++i], "the startup file of the shell");
      continue;
    }
    if (text.startsWith("--")) continue;
    if (text.includes("c")) cMode = true;
    if (text.includes("s")) sMode = true;
    if (text.includes("o") || text.includes("O")) i++; // -o pipefail
  }
  for (let k = 0; k < i; k++) a.program(args[k], "an option of the shell");
  if (cMode) {
    const script = args[i];
    if (script === undefined) return;
    if (a.onScript?.(script, args.slice(i + 1)) === true) return;
    const text = literalOf(script);
    if (text === undefined) {
      a.evaluated(script, "the script of sh -c");
      return;
    }
    // The inner script gets the next words as $0, $1…: its values arrive as positional parameters.
    const inner = scanShell(text);
    // Variables the outer script exported reach it too: inherit every tainted name, to be safe.
    const taint: Taint = { names: new Set(a.taint.names), positional: args.slice(i + 1).some((w) => a.carries(w)) };
    const nested = analyseScript(inner, taint);
    for (const p of nested.problems) a.problems.push({ offset: script.offset, message: `in the script of sh -c: ${p.message}` });
    return;
  }
  if (sMode || args[i] === undefined) {
    a.problemHere(
      "a shell reading its script from standard input (sh, sh -s, … | sh) is refused where event values are around: the input could be one; give the script with -c '…' or as a file",
    );
    return;
  }
  a.program(args[i], "the script file the shell runs");
};

/** env, timeout, nice…: options (`valued` take a value), `skip` more operands, then a command. */
function wrapper(valued: Readonly<Record<string, number>>, skip = 0): Handler {
  return (args, a) => {
    let i = 0;
    for (; i < args.length; i++) {
      const text = literalOf(args[i]!);
      if (text === "--") {
        i++;
        break;
      }
      if (text === undefined || !text.startsWith("-") || text === "-") break;
      const eq = text.indexOf("=");
      const flag = eq === -1 ? text : text.slice(0, eq);
      if (valued[flag] !== undefined && eq === -1) i += valued[flag];
    }
    for (let k = 0; k < i; k++) a.program(args[k], "an option of a command wrapper");
    a.run(args.slice(i + skip));
  };
}

const env: Handler = (args, a) => {
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    const text = literalOf(w);
    if (text === "-S" || text?.startsWith("--split-string") || /^-[a-zA-Z0-9]*S/.test(text ?? "")) {
      a.evaluated(text === "-S" ? args[++i] : w, "env -S's string (it is split into a command)");
      continue;
    }
    if (text === "-u" || text === "--unset" || text === "-C" || text === "--chdir") {
      i++;
      continue;
    }
    if (text?.startsWith("-") && text !== "-") continue;
    const asg = assignment(w);
    if (asg === undefined) break;
    if (DANGEROUS_VARIABLE.test(asg) && a.carries({ parts: w.parts.slice(1), offset: w.offset })) {
      a.problem(w, `${asg} changes how programs run: an event value must not set it`);
    }
  }
  a.run(args.slice(i));
};

/** Every argument is evaluated (let, alias, parallel). */
function evaluatesAll(what: string): Handler {
  return (args, a) => {
    for (const w of args) a.evaluated(w, what);
  };
}

/** The arguments, joined, are a shell script (eval, trap, watch, ssh's remote command, sudo -s). */
function runsAsScript(what: string, skipOptions = false): Handler {
  return (args, a) => {
    let i = 0;
    if (skipOptions) while (i < args.length && (literalOf(args[i]!) ?? "").startsWith("-")) i++;
    for (let k = 0; k < i; k++) a.program(args[k], `an option of ${what}`);
    a.shellText(args.slice(i), what);
  };
}

/** Arguments that are variable names (after options; `valued` options take a value). */
function names(what: string, valued: readonly string[] = []): Handler {
  return (args, a) => {
    for (let i = 0; i < args.length; i++) {
      const text = literalOf(args[i]!);
      if (text?.startsWith("-")) {
        if (valued.includes(text)) i++;
        continue;
      }
      a.name(args[i], what);
    }
  };
}

const declare: Handler = (args, a) => {
  let flags = "";
  for (const w of args) {
    const text = literalOf(w);
    if (text !== undefined && /^[-+]/.test(text)) {
      flags += text.slice(1);
      continue;
    }
    const asg = assignment(w);
    if (asg === undefined) {
      a.name(w, "declare");
      continue;
    }
    if (DANGEROUS_VARIABLE.test(asg) && a.carries({ parts: w.parts.slice(1), offset: w.offset })) {
      a.problem(w, `${asg} changes how programs run: an event value must not set it`);
    }
    // -i evaluates the value as arithmetic, -n makes it a name, -a/-A may read it as a list.
    if (/[inaA]/.test(flags)) a.evaluated({ parts: w.parts.slice(1), offset: w.offset }, `the value of declare -${flags}`);
  }
};

const printf: Handler = (args, a) => {
  let i = 0;
  if (literalOf(args[0] ?? EMPTY) === "-v") {
    a.name(args[1], "printf -v");
    i = 2;
  }
  if (literalOf(args[i] ?? EMPTY) === "--") i++;
  const format = args[i];
  if (format?.parts.some((p) => p.kind === "ref" || (p.kind === "exp" && a.carries({ parts: [p], offset: format.offset })))) {
    a.problem(format, "printf reads its first argument as a format (% and \\ sequences); write printf '%s' followed by the value");
  }
};

const test: Handler = (args, a) => {
  args.forEach((w, i) => {
    const text = literalOf(w);
    if (text === "-v" || text === "-R") a.name(args[i + 1], `test ${text}`);
  });
};

const find: Handler = (args, a) => {
  for (let i = 0; i < args.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(literalOf(args[i]!) ?? "")) continue;
    let end = i + 1;
    while (end < args.length && !/^[;+]$/.test(literalOf(args[end]!) ?? "")) end++;
    a.run(args.slice(i + 1, end));
    i = end;
  }
};

const xargs: Handler = (args, a) => {
  const valued: Record<string, number> = {
    "-a": 1,
    "-d": 1,
    "-E": 1,
    "-I": 1,
    "-L": 1,
    "-n": 1,
    "-P": 1,
    "-s": 1,
    "--arg-file": 1,
    "--delimiter": 1,
  };
  let i = 0;
  for (; i < args.length; i++) {
    const text = literalOf(args[i]!);
    if (text === undefined || !text.startsWith("-")) break;
    if (text === "-I" || text === "-i" || text.startsWith("-I") || text.startsWith("--replace")) {
      a.problem(
        args[i]!,
        "xargs -I splices its input (which may be the event) into the command's words; let the command read the input as arguments",
      );
    }
    if (valued[text] !== undefined) i++;
  }
  a.run(args.slice(i));
};

const sqlite: Handler = (args, a) => {
  const operands = args.filter((w) => !(literalOf(w) ?? "").startsWith("-"));
  for (const w of operands.slice(1)) a.evaluated(w, "sqlite3's SQL");
};

/** kubectl/docker/podman … exec: the command after `--` (or after the container) is a command. */
const containerExec: Handler = (args, a) => {
  const dashes = args.findIndex((w) => literalOf(w) === "--");
  if (dashes !== -1) {
    a.run(args.slice(dashes + 1));
    return;
  }
  const sub = args.findIndex((w) => /^(exec|run|debug)$/.test(literalOf(w) ?? ""));
  if (sub === -1) return;
  let i = sub + 1;
  while (i < args.length && (literalOf(args[i]!) ?? "").startsWith("-"))
    i += /^-(e|u|w|-env|-user|-workdir|c|-container|n|-namespace)$/.test(literalOf(args[i]!) ?? "") ? 2 : 1;
  a.run(args.slice(i + 1));
};

const HANDLERS: Record<string, Handler> = {
  eval: runsAsScript("eval's argument"),
  let: evaluatesAll("let's expression"),
  trap: (args, a) => a.shellText(args.slice(0, 1), "trap's command"),
  alias: evaluatesAll("an alias"),
  watch: runsAsScript("watch's command (run by sh -c)", true),
  ssh: evaluatesAll("ssh's remote command (run by the remote shell)"),
  parallel: evaluatesAll("parallel's command"),
  source: (args, a) => a.program(args[0], "the file that source runs"),
  ".": (args, a) => a.program(args[0], "the file that . runs"),
  enable: (args, a) => {
    for (const w of args) a.program(w, "the builtin that enable loads");
  },
  declare,
  typeset: declare,
  local: declare,
  export: declare,
  readonly: declare,
  unset: names("unset"),
  read: names("read", ["-d", "-n", "-N", "-p", "-t", "-u", "-i"]),
  mapfile: (args, a) => {
    const c = args.findIndex((w) => literalOf(w) === "-C");
    if (c !== -1) a.evaluated(args[c + 1], "mapfile -C's callback");
    names("mapfile", ["-d", "-n", "-O", "-s", "-u", "-C", "-c"])(args, a);
  },
  getopts: (args, a) => a.name(args[1], "getopts"),
  wait: (args, a) => {
    const p = args.findIndex((w) => literalOf(w) === "-p");
    if (p !== -1) a.name(args[p + 1], "wait -p");
  },
  printf,
  test,
  "[": test,
  find,
  xargs,
  env,
  exec: wrapper({ "-a": 1 }),
  command: (args, a) => {
    if (/^-[pvV]*[vV]/.test(literalOf(args[0] ?? EMPTY) ?? "")) return; // command -v only looks the name up
    wrapper({})(args, a);
  },
  builtin: wrapper({}),
  nohup: wrapper({}),
  setsid: wrapper({}),
  time: wrapper({ "-f": 1, "-o": 1, "--format": 1, "--output": 1 }),
  nice: wrapper({ "-n": 1, "--adjustment": 1 }),
  ionice: wrapper({ "-c": 1, "-n": 1, "-p": 1, "-P": 1, "-u": 1, "--class": 1, "--classdata": 1 }),
  chrt: wrapper({}, 1),
  taskset: wrapper({}, 1),
  stdbuf: wrapper({ "-i": 1, "-o": 1, "-e": 1 }),
  timeout: wrapper({ "-s": 1, "-k": 1, "--signal": 1, "--kill-after": 1 }, 1),
  chroot: wrapper({ "--userspec": 1, "--groups": 1 }, 1),
  nsenter: wrapper({ "-t": 1, "--target": 1, "-S": 1, "-G": 1 }),
  unshare: wrapper({}),
  setpriv: wrapper({}),
  strace: wrapper({ "-e": 1, "-o": 1, "-p": 1, "-s": 1, "-u": 1 }),
  busybox: (args, a) => a.run(args),
  sudo: (args, a) => {
    // sudo -s / -i runs the command through the target user's shell, which evaluates it.
    if (args.some((w) => /^-[A-Za-z]*[si]$|^--(shell|login)$/.test(literalOf(w) ?? "")))
      runsAsScript("sudo -s's command (run by a shell)", true)(args, a);
    else wrapper({ "-u": 1, "-g": 1, "-C": 1, "-D": 1, "-h": 1, "-p": 1, "-r": 1, "-t": 1, "-T": 1, "-U": 1 })(args, a);
  },
  doas: wrapper({ "-u": 1, "-C": 1 }),
  su: interpreter(
    { code: ["-c", "--command", "--session-command"], load: ["-s", "--shell"], valued: { "-g": 1, "-G": 1, "-w": 1 }, operand: "data" },
    "su",
  ),
  runuser: interpreter(
    { code: ["-c", "--command"], load: ["-s", "--shell"], valued: { "-u": 1, "-g": 1, "-G": 1, "-w": 1 }, operand: "data" },
    "runuser",
  ),
  script: interpreter(
    { code: ["-c", "--command"], valued: { "-t": 1, "-T": 1, "-I": 1, "-O": 1, "-B": 1, "-E": 1, "-m": 1 }, operand: "data" },
    "script",
  ),
  flock: (args, a) => {
    const c = args.findIndex((w) => /^(-c|--command)$/.test(literalOf(w) ?? ""));
    if (c !== -1) {
      a.evaluated(args[c + 1], "flock -c's command (run by sh -c)");
      return;
    }
    wrapper({ "-w": 1, "--timeout": 1, "-E": 1, "--conflict-exit-code": 1 }, 1)(args, a);
  },
  python: interpreter({ code: ["-c"], load: ["-m"], valued: { "-W": 1, "-X": 1, "-Q": 1 }, operand: "script", attached: true }, "python"),
  perl: interpreter(
    {
      code: ["-e", "-E"],
      load: ["-M", "-m", "-I", "-x"],
      valued: { "-F": 0, "-l": 0, "-0": 0, "-i": 0 },
      operand: "script",
      attached: true,
    },
    "perl",
  ),
  ruby: interpreter(
    { code: ["-e"], load: ["-r", "-I", "--require"], valued: { "-C": 1, "-E": 1 }, operand: "script", attached: true },
    "ruby",
  ),
  node: interpreter(
    {
      code: ["-e", "--eval", "-p", "--print"],
      load: ["-r", "--require", "--import", "--loader", "--experimental-loader"],
      operand: "script",
    },
    "node",
  ),
  php: interpreter({ code: ["-r", "-B", "-R", "-E"], load: ["-f", "-d", "-c", "-z"], operand: "script", attached: true }, "php"),
  lua: interpreter({ code: ["-e"], load: ["-l"], operand: "script", attached: true }, "lua"),
  Rscript: interpreter({ code: ["-e"], operand: "script" }, "Rscript"),
  osascript: interpreter({ code: ["-e"], operand: "script" }, "osascript"),
  pwsh: interpreter({ code: ["-c", "-Command", "-command", "-EncodedCommand", "-e"], load: ["-File", "-f"], operand: "script" }, "pwsh"),
  tclsh: interpreter({ operand: "script" }, "tclsh"),
  expect: interpreter({ code: ["-c"], load: ["-f"], operand: "script" }, "expect"),
  gdb: interpreter(
    { code: ["-ex", "-iex", "--eval-command", "--init-eval-command"], load: ["-x", "-ix", "--command", "--init-command"], operand: "data" },
    "gdb",
  ),
  awk: interpreter(
    {
      code: ["-e", "--source"],
      load: ["-f", "--file", "-i", "--include", "-l", "--load"],
      spliced: ["-v", "--assign"],
      valued: { "-F": 1, "--field-separator": 1 },
      operand: "program",
      attached: true,
    },
    'awk (use ENVIRON["NAME"] for values)',
  ),
  sed: interpreter(
    { code: ["-e", "--expression"], load: ["-f", "--file"], valued: { "-l": 1, "--line-length": 1 }, operand: "program", attached: true },
    "sed",
  ),
  jq: interpreter(
    {
      load: ["-f", "--from-file", "-L"],
      valued: { "--arg": 2, "--argjson": 2, "--slurpfile": 2, "--rawfile": 2, "--indent": 1 },
      operand: "program",
    },
    "jq (use --arg name value)",
  ),
  yq: interpreter({ load: ["--from-file"], valued: { "--arg": 2, "-I": 1, "--indent": 1, "-p": 1, "-o": 1 }, operand: "program" }, "yq"),
  psql: interpreter(
    { code: ["-c", "--command"], load: ["-f", "--file"], spliced: ["-v", "--set", "--variable"], operand: "data", attached: true },
    "psql",
  ),
  mysql: interpreter({ code: ["-e", "--execute"], operand: "data", attached: true }, "mysql"),
  sqlite3: sqlite,
  kubectl: containerExec,
  docker: containerExec,
  podman: containerExec,
  nerdctl: containerExec,
  crictl: containerExec,
};

const SHELL_NAMES = new Set(["sh", "bash", "dash", "ash", "ksh", "mksh", "pdksh", "lksh", "oksh", "zsh", "yash", "posh", "rbash", "hush"]);

/** Whether `program` (a path or a name) is a POSIX-style shell that runs `-c script`. */
export function isShell(program: string): boolean {
  return SHELL_NAMES.has(basename(program));
}

function handlerFor(name: string): Handler | undefined {
  if (SHELL_NAMES.has(name)) return shell;
  const own = HANDLERS[name];
  if (own !== undefined) return own;
  // Versioned names: python3.12, pypy3, perl5.36, gawk, mawk, nawk, gsed, nodejs, php8.2, lua5.4, luajit, gojq.
  if (/^(python|pypy)[0-9.]*$/.test(name)) return HANDLERS["python"];
  if (/^perl[0-9.]*$/.test(name)) return HANDLERS["perl"];
  if (/^ruby[0-9.]*$/.test(name)) return HANDLERS["ruby"];
  if (/^(nodejs|bun|deno)$/.test(name)) return HANDLERS["node"];
  if (/^php[0-9.]*$/.test(name)) return HANDLERS["php"];
  if (/^(lua[0-9.]*|luajit)$/.test(name)) return HANDLERS["lua"];
  if (/^(g|m|n|original-|busybox-)?awk$/.test(name)) return HANDLERS["awk"];
  if (/^g?sed$/.test(name)) return HANDLERS["sed"];
  if (/^(gojq|jaq)$/.test(name)) return HANDLERS["jq"];
  if (/^(mariadb|mysqlsh)$/.test(name)) return HANDLERS["mysql"];
  if (/^(wish|tclsh[0-9.]*)$/.test(name)) return HANDLERS["tclsh"];
  if (/^(powershell)$/.test(name)) return HANDLERS["pwsh"];
  return undefined;
}
