// Event values never become shell source. A script a rule gives to a shell (kubernetes:exec's command,
// kubernetes:script, local:command's `sh -c`) is fixed when the rules load: each `${VAR}` is replaced by a
// reference to a shell variable, and the values travel beside the script as positional parameters:
//
//   cat ${FD_NAME}     →  __kestrel_1=$1; shift 1; cat "${__kestrel_1}"      argv: sh -c SCRIPT kestrel VALUE
//   cat '${FD_NAME}'   →  … cat ''"${__kestrel_1}"''
//   echo "f=${FD_NAME}" → … echo "f=${__kestrel_1}"
//
// The first line copies the values out of $1… and shifts them away, so the script's own $1 and "$@" mean
// what they meant before (nothing for kubernetes:exec, the rule's own arguments for local:command), and
// line numbers in the shell's errors stay right. A variable's expansion is never read again as code by the
// shell itself; what could still read it as code (eval, sh -c "$x", arithmetic, an interpreter's program
// text, …) is refused when the rules load (shell-commands.ts), with the line and column and what to write
// instead. A reference at the start of an argument with no `--` before is refused at run time when its
// value starts with '-': a program would take it as an option.
import { KestrelError } from "../errors.ts";
import { DANGEROUS_VARIABLE, type Taint } from "./shell-analysis.ts";
import { analyseArgv, analyseScript } from "./shell-commands.ts";
import { isShell } from "./shell-interpreters.ts";
import { scanShell } from "./shell-scan.ts";
import { PartList, type Problem, type Quote, REF_BASE, REF_LIMIT, refAt, type Word } from "./shell-syntax.ts";
import { templatePieces, type Variables } from "./template.ts";

export { isShell };

/** A script ready for a shell: its text holds no event value, only references to its positional parameters. */
export interface ShellScript {
  readonly text: string;
  /** The template variables whose values follow the script ($1 is the first), in this order. */
  readonly variables: readonly string[];
  /** Variables whose value must not start with '-' (they start an argument with no `--` before). */
  readonly guarded: ReadonlySet<string>;
}

export interface ShellCompilation {
  readonly script: ShellScript;
  /** Why the script is refused, each with its line and column in the parameter. Empty when it is safe. */
  readonly problems: readonly string[];
}

export interface ScriptOptions {
  /** Values also reach the script otherwise: its positional parameters, these environment variables, or the
   * event's JSON on its standard input. The script is then checked even without any `${VAR}`. */
  readonly positional?: boolean;
  readonly env?: readonly string[];
  readonly stdinEvent?: boolean;
}

const PREFIX = "__kestrel_";

interface Template {
  /** The text with each reference as one private-use character (U+E000 + occurrence). */
  text: string;
  /** The variable of each occurrence. */
  readonly refs: string[];
  /** Where each character of `text` was in the parameter as written. */
  readonly origin: number[];
  readonly problems: string[];
}

/** Reads a template (template.ts templatePieces) into a script's text, keeping where each character came from. */
function readTemplate(source: string): Template {
  const t: Template = { text: "", refs: [], origin: [], problems: [] };
  const at = (offset: number): string => position(source, offset);
  for (const piece of templatePieces(source)) {
    if (piece.kind === "text") readLiteral(source, piece.from, piece.to, t);
    else if (piece.kind === "escape") {
      t.text += "${";
      t.origin.push(piece.at, piece.at + 1);
    } else if (piece.kind === "variable") {
      if (t.refs.length >= REF_LIMIT) {
        t.problems.push(`${at(piece.at)}: more than ${REF_LIMIT} variables in one script`);
        break;
      }
      t.text += String.fromCharCode(REF_BASE + t.refs.length);
      t.origin.push(piece.at);
      t.refs.push(piece.name);
    } else {
      t.problems.push(
        `${at(piece.at)}: ${piece.kind === "unterminated" ? 'unterminated "${"' : `invalid variable name "\${${piece.name}}"`}`,
      );
    }
  }
  return t;
}

/** Literal text of a script: a private-use character there would read as a reference, so it is refused. */
function readLiteral(source: string, from: number, to: number, t: Template): void {
  for (let i = from; i < to; i++) {
    if (refAt(source, i) !== undefined)
      t.problems.push(
        `${position(source, i)}: the character U+${source.charCodeAt(i).toString(16).toUpperCase()} is not allowed in a script`,
      );
    t.text += source[i];
    t.origin.push(i);
  }
}

/**
 * Problems of a script written in the configuration (no templates: `${X}` there is the shell's own) whose
 * standard input carries event data, such as the program notifier's: `sh`, `eval "$(cat)"`, … would run it.
 */
export function stdinScriptProblems(script: string): readonly string[] {
  return compileShellScript(script.replaceAll("${", "$${"), { stdinEvent: true }).problems;
}

/** "line L, column C" of an offset in a (possibly multi-line) parameter. */
function position(source: string, offset: number): string {
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - before.lastIndexOf("\n")}`;
}

const scriptCache = new Map<string, ShellCompilation>();

/**
 * Compiles a shell script of a rule (cached: scripts come from the rules, a fixed set per load). Its
 * problems are what `rules check` reports; a script with problems must not run.
 */
export function compileShellScript(source: string, options: ScriptOptions = {}): ShellCompilation {
  const key = `${options.positional === true ? 1 : 0}${options.stdinEvent === true ? 1 : 0}${(options.env ?? []).join(",")}\u0000${source}`;
  let compiled = scriptCache.get(key);
  if (compiled === undefined) {
    compiled = compile(source, options);
    if (scriptCache.size >= 4096) scriptCache.clear();
    scriptCache.set(key, compiled);
  }
  return compiled;
}

function compile(source: string, options: ScriptOptions): ShellCompilation {
  const t = readTemplate(source);
  const valuesPresent = t.refs.length > 0 || options.positional === true || (options.env?.length ?? 0) > 0 || options.stdinEvent === true;
  if (!valuesPresent) return { script: { text: t.text, variables: [], guarded: new Set() }, problems: t.problems };
  const scan = scanShell(t.text);
  const variables = [...new Set(t.refs)];
  const taint: Taint = {
    names: new Set([...variables.map((_, i) => `${PREFIX}${i + 1}`), ...(options.env ?? [])]),
    positional: options.positional === true,
  };
  const analysis = analyseScript(scan, taint);
  const problems = [...t.problems, ...locatedProblems(source, t, scan.problems, analysis.problems)];
  const body = scriptBody(t, scan.quotes, variables);
  const copies = variables.map((_, i) => `${PREFIX}${i + 1}="\${${i + 1}}"`).join(" ");
  // On the script's first line, so that the shell's line numbers stay those of the rule.
  const text = variables.length === 0 ? body : `${copies}; shift ${variables.length}; ${body}`;
  const guarded = new Set([...analysis.optionGuards].map((ref) => t.refs[ref]!));
  return { script: { text, variables, guarded }, problems };
}

/** The scanner's and the analysis's problems with their line and column in the parameter as written. */
function locatedProblems(source: string, t: Template, scanned: readonly Problem[], analysed: readonly Problem[]): string[] {
  const where = (offset: number): string => position(source, t.origin[Math.min(offset, t.origin.length - 1)] ?? source.length);
  const problems: string[] = [];
  for (const p of scanned) {
    const ref = refAt(t.text, p.offset);
    problems.push(`${where(p.offset)}: ${ref === undefined ? "" : `\${${t.refs[ref]}} is `}${p.message}`);
  }
  for (const p of analysed) problems.push(`${where(p.offset)}: ${p.message}`);
  return problems;
}

/** How a reference is written in each quoting: the shell variable holding its value, expanded as one word. */
const REFERENCE: Readonly<Record<Quote, (name: string) => string>> = {
  double: (name) => `\${${name}}`,
  single: (name) => `'"\${${name}}"'`,
  comment: (name) => name,
  bare: (name) => `"\${${name}}"`,
};

/** The script's text with each reference replaced by its shell variable (`__kestrel_N`, N by first use). */
function scriptBody(t: Template, quotes: ReadonlyMap<number, Quote>, variables: readonly string[]): string {
  let body = "";
  for (let i = 0; i < t.text.length; i++) {
    const ref = refAt(t.text, i);
    if (ref === undefined) body += t.text[i];
    else body += REFERENCE[quotes.get(ref) ?? "bare"](`${PREFIX}${variables.indexOf(t.refs[ref]!) + 1}`);
  }
  return body;
}

/** The values of a script's variables for one event, in positional order. Throws ERR_TEMPLATE. */
export function scriptValues(script: ShellScript, vars: Variables): string[] {
  return script.variables.map((name) => checkedValue(name, vars, script.guarded.has(name)));
}

function checkedValue(name: string, vars: Variables, guarded: boolean): string {
  const value = vars.get(name);
  if (value === undefined) throw new KestrelError("ERR_TEMPLATE", `the variable \${${name}} is not defined for this event`);
  if (value.includes("\u0000"))
    throw new KestrelError("ERR_TEMPLATE", `the value of \${${name}} holds a NUL byte, which no argument can carry`);
  if (guarded && value.startsWith("-")) {
    throw new KestrelError(
      "ERR_TEMPLATE",
      `the value of \${${name}} starts with '-', which the program would read as an option: the action is refused (write -- before the value in the rule to pass it as an argument)`,
    );
  }
  return value;
}

// ---- local:command: an argv, perhaps a shell with a script --------------------------------------------

export interface CompiledCommand {
  /** Index of the `sh -c` script in the argv, when the program (perhaps through wrappers) is a shell. */
  readonly scriptIndex: number | undefined;
  readonly script: ShellScript | undefined;
  /** Variables whose value must not start with '-' in the argv elements that are not the script. */
  readonly guarded: readonly string[];
  readonly problems: readonly string[];
}

const commandCache = new Map<string, CompiledCommand>();

/**
 * Checks a local:command argv: the program is never an event value, a `sh -c` script (found through
 * wrappers such as env, timeout, nice, busybox) is compiled as above, and an interpreter's program text,
 * an awk or sed program, `eval`-like arguments never hold one. `env` are the environment's templates.
 */
export function compileCommand(argv: readonly string[], env: Readonly<Record<string, string>>, stdinEvent: boolean): CompiledCommand {
  const key = JSON.stringify([argv, env, stdinEvent]);
  let compiled = commandCache.get(key);
  if (compiled === undefined) {
    compiled = compileArgv(argv, env, stdinEvent);
    if (commandCache.size >= 4096) commandCache.clear();
    commandCache.set(key, compiled);
  }
  return compiled;
}

function compileArgv(argv: readonly string[], env: Readonly<Record<string, string>>, stdinEvent: boolean): CompiledCommand {
  const problems: string[] = [];
  const refs: string[] = []; // the variable of each reference in the argv, in order
  const words = argv.map((element, index) => argvWord(element, index, refs, problems));
  const envTemplated = templatedEnv(env, problems);
  let scriptWord: Word | undefined;
  let rest: Word[] = [];
  const taint: Taint = { names: new Set(envTemplated), positional: false };
  const analysis = analyseArgv(words, taint, (script, after) => {
    if (scriptWord !== undefined || !words.includes(script)) return false;
    scriptWord = script;
    rest = after;
    return true;
  });
  for (const p of analysis.problems) problems.push(`command[${p.offset}]: ${p.message}`);
  let script: ShellScript | undefined;
  const scriptIndex = scriptWord === undefined ? undefined : words.indexOf(scriptWord);
  if (scriptIndex !== undefined) {
    const positional = rest.some((w) => w.parts.some((p) => p.kind === "ref"));
    const compiled = compileShellScript(argv[scriptIndex]!, { positional, env: envTemplated, stdinEvent });
    for (const p of compiled.problems) problems.push(`command[${scriptIndex}] ${p}`);
    script = compiled.script;
  }
  const guarded = [...new Set([...analysis.optionGuards].map((ref) => refs[ref]!))];
  return { scriptIndex, script, guarded, problems: [...new Set(problems)] };
}

/** One argv element as a word whose references are numbered across the argv (their variables in `refs`). */
function argvWord(element: string, index: number, refs: string[], problems: string[]): Word {
  const t = readTemplate(element);
  for (const p of t.problems) problems.push(`command[${index}] ${p}`);
  const acc = new PartList();
  for (let i = 0; i < t.text.length; i++) {
    const ref = refAt(t.text, i);
    if (ref === undefined) {
      acc.lit += t.text[i];
      continue;
    }
    acc.push({ kind: "ref", ref: refs.length });
    refs.push(t.refs[ref]!);
  }
  if (acc.lit !== "" || acc.parts.length === 0) acc.parts.push({ kind: "lit", text: acc.lit });
  return { parts: acc.parts, offset: index };
}

/** The environment variables whose value is a template (their values are event values). */
function templatedEnv(env: Readonly<Record<string, string>>, problems: string[]): string[] {
  const templated: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (name.includes("${"))
      problems.push(`env: the variable name '${name}' cannot use \${…}: an event value must not choose which variable is set`);
    else if (value.includes("${")) {
      templated.push(name);
      if (DANGEROUS_VARIABLE.test(name))
        problems.push(`env.${name}: ${name} changes how programs run, so it cannot be set from an event value`);
    }
  }
  return templated;
}

/**
 * The argv of a local:command for one event. `rendered` is the argv with its templates rendered as data
 * (each element one argument); the script element is replaced by the compiled script, and the script's
 * values follow its $0.
 */
export function commandArgv(compiled: CompiledCommand, rendered: readonly string[], vars: Variables): string[] {
  for (const name of compiled.guarded) checkedValue(name, vars, true);
  for (const value of rendered) {
    if (value.includes("\u0000")) throw new KestrelError("ERR_TEMPLATE", "an argument holds a NUL byte, which no argument can carry");
  }
  const i = compiled.scriptIndex;
  if (i === undefined || compiled.script === undefined) return [...rendered];
  const values = scriptValues(compiled.script, vars);
  const after = rendered.slice(i + 1);
  const arg0 = after.length > 0 ? after[0]! : "kestrel";
  return [...rendered.slice(0, i), compiled.script.text, arg0, ...values, ...after.slice(1)];
}
