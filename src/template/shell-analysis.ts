// What a command handler (shell-handlers.ts, shell-interpreters.ts) sees of the analysis of a script
// (shell-commands.ts), and the word helpers they share.
import { EMPTY, literalOf, type Word } from "./shell-syntax.ts";

export interface Taint {
  /** Shell variables that hold event values (assigned from one, read from the event's JSON on stdin). */
  readonly names: Set<string>;
  /** The positional parameters ($1, "$@") hold event values. */
  positional: boolean;
}

/** Variables that change how a shell or program runs: never set from an event value. */
export const DANGEROUS_VARIABLE =
  /^(PATH|IFS|ENV|BASH_ENV|CDPATH|GLOBIGNORE|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|LD_.*|BASH_FUNC_.*|NODE_OPTIONS|NODE_PATH|PYTHON.*|PERL5?(LIB|OPT|DB)|RUBYOPT|RUBYLIB|GCONV_PATH|HOSTALIASES|LOCPATH|NLSPATH|MALLOC_.*|GIT_.*|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS)$/;

/** The checks a handler applies to the words of the command it reads. */
export interface CommandAnalysis {
  readonly taint: Taint;
  /** Takes the script of a `sh -c` found in an argv (local:command), which shell.ts compiles itself. */
  readonly onScript: ((script: Word, rest: Word[]) => boolean) | undefined;
  /** Whether the word holds an event value: a reference, or an expansion of something that holds one. */
  carries(word: Word): boolean;
  /** A word the program evaluates as code (a script, a program text, an expression). */
  evaluated(word: Word | undefined, what: string): void;
  /** Words a shell runs as a script (eval's, trap's); read in turn when literal. */
  shellText(words: Word[], what: string): void;
  /** A literal script run by a nested shell with `taint`: its problems are reported at `at`. */
  nestedScript(at: Word, text: string, taint: Taint, what: string): void;
  /** A word that chooses the program (or a file or module of code) to run. */
  program(word: Word | undefined, what: string): void;
  /** A word that names a shell variable (read, unset, printf -v). */
  name(word: Word | undefined, what: string): void;
  problem(word: Word, message: string): void;
  /** A problem about the command being read as a whole. */
  problemHere(message: string): void;
  /** A command from its name on (also a command a wrapper runs). */
  run(words: Word[]): void;
}

/** Reads a command's arguments (after its name). */
export type Handler = (args: Word[], a: CommandAnalysis) => void;

/** The variable a `NAME=value` (or `NAME+=`, `NAME[i]=`) word assigns, if it is one. */
export function assignment(word: Word): string | undefined {
  const head = word.parts[0];
  if (head?.kind !== "lit") return undefined;
  return /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(head.text)?.[1];
}

/** The value side of an assignment word: its parts after the literal `NAME=`. */
export function assignedValue(word: Word): Word {
  return { parts: word.parts.slice(1), offset: word.offset };
}

/** Refuses `NAME=value` where NAME changes how programs run and the value carries an event value. */
export function checkAssignment(word: Word, name: string, a: CommandAnalysis): void {
  if (DANGEROUS_VARIABLE.test(name) && a.carries(assignedValue(word))) {
    a.problem(word, `${name} changes how programs run: an event value must not set it`);
  }
}

const KEYWORDS = new Set(["if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done", "esac", "time", "coproc"]);

/** The words from the command's name on, past the reserved words before it (`if`, `do`, `! `, `time -p`…). */
export function skipKeywords(words: Word[]): Word[] {
  let i = 0;
  while (i < words.length && KEYWORDS.has(literalOf(words[i]!) ?? "")) i++;
  if (literalOf(words[i - 1] ?? EMPTY) === "time" && literalOf(words[i] ?? EMPTY) === "-p") i++;
  return i === 0 ? words : words.slice(i);
}

/** The literal text of a word, or "" when it has expansions (for matching option names). */
export const optionText = (word: Word | undefined): string => literalOf(word ?? EMPTY) ?? "";
