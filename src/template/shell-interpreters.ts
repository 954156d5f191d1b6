// The programs that run code they are given: shells (`sh -c`, a script file, a script on stdin) and
// interpreters and query tools (python -c, awk programs, jq filters, psql -c…). Each reads its options by
// the table below: which options take program text, which load code, which splice a value into code, and
// what its first operand is. A value-carrying word in any of those places is refused.
import { basename } from "node:path";
import type { CommandAnalysis, Handler, Taint } from "./shell-analysis.ts";
import { literalOf, type Word } from "./shell-syntax.ts";

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

/** What one option of an interpreter did: how many words after it are its value, and whether it gave the code. */
interface OptionRead {
  readonly takes: number;
  readonly code: boolean;
}

/** Reads an interpreter's command line after its name. */
function interpreter(spec: OptionSpec, what: string): Handler {
  return (args, a) => {
    const { end, codeGiven } = readInterpreterOptions(spec, what, args, a);
    if (!codeGiven) interpreterOperand(spec, what, args[end], a);
  };
}

/** The options before the first operand; `end` is the index of that operand. */
function readInterpreterOptions(spec: OptionSpec, what: string, args: Word[], a: CommandAnalysis): { end: number; codeGiven: boolean } {
  let codeGiven = false;
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    const text = literalOf(w);
    if (text === "--") return { end: i + 1, codeGiven };
    if (text === undefined || !text.startsWith("-") || text === "-") {
      if (!computedOption(w, text)) break;
      a.program(w, `an option of ${what}`);
      continue;
    }
    const read = interpreterOption(spec, what, text, args[i + 1], a);
    if (read.code) codeGiven = true;
    i += read.takes;
  }
  return { end: i, codeGiven };
}

/** An option whose name is partly an expansion (`-$opt`): which option it is cannot be told. */
function computedOption(word: Word, text: string | undefined): boolean {
  const head = word.parts[0];
  return text === undefined && head?.kind === "lit" && head.text.startsWith("-");
}

/** One literal option `text` (followed by the word `next`), checked by the spec. */
function interpreterOption(spec: OptionSpec, what: string, text: string, next: Word | undefined, a: CommandAnalysis): OptionRead {
  const eq = text.indexOf("=");
  const inline = text.startsWith("--") && eq !== -1;
  const flag = inline ? text.slice(0, eq) : text;
  const option = optionKind(spec, text, flag);
  if (option === undefined) {
    const takes = spec.valued?.[flag];
    return { takes: takes !== undefined && !inline ? takes : 0, code: false };
  }
  const code = option.kind === "code" || (option.kind === "load" && (flag === "-f" || flag === "--file" || flag === "--from-file"));
  if (inline || option.attached) return { takes: 0, code };
  CHECK_OPTION_VALUE[option.kind](a, next, `${what} ${flag}`);
  return { takes: 1, code };
}

type OptionKind = "code" | "load" | "spliced";

/** Which of the spec's lists the option is in, and whether its value is attached to it (`-cCODE`). */
function optionKind(spec: OptionSpec, text: string, flag: string): { kind: OptionKind; attached: boolean } | undefined {
  for (const kind of ["code", "load"] as const) {
    const attached = attachedValue(spec, text, spec[kind]);
    if (spec[kind]?.includes(flag) || attached) return { kind, attached };
  }
  return spec.spliced?.includes(flag) ? { kind: "spliced", attached: false } : undefined;
}

/** How the word after an option is checked; `option` is the interpreter and the option (`python -c`). */
const CHECK_OPTION_VALUE: Record<OptionKind, (a: CommandAnalysis, value: Word | undefined, option: string) => void> = {
  code: (a, value, option) => a.evaluated(value, `the program text of ${option}`),
  load: (a, value, option) => a.program(value, `the code ${option} loads`),
  spliced: (a, value, option) => a.evaluated(value, `the value of ${option}`),
};

/** Whether `text` is one of the short options of `list` with its value attached (`-cCODE`). */
function attachedValue(spec: OptionSpec, text: string, list: readonly string[] | undefined): boolean {
  if (spec.attached !== true || text.startsWith("--")) return false;
  return list?.some((o) => o.length === 2 && text.startsWith(o) && text.length > 2) === true;
}

/** The first operand, when no option gave the code: a script file, a program text, or data. */
function interpreterOperand(spec: OptionSpec, what: string, operand: Word | undefined, a: CommandAnalysis): void {
  if (operand === undefined) {
    if (spec.operand === "script")
      a.problemHere(
        `${what} reading its program from standard input is refused where event values are around: the input could be one; give the program as a file or with its option`,
      );
    return;
  }
  if (spec.operand === "script") a.program(operand, `the script ${what} runs`);
  else if (spec.operand === "program") a.evaluated(operand, `the program of ${what}`);
}

/** A shell's command line: whether it runs `-c script` or reads stdin (`-s`), and where its operands start. */
interface ShellInvocation {
  cMode: boolean;
  sMode: boolean;
  end: number;
}

/** sh, bash, …: `-c script` (a literal script is read in turn), `-s`, or a script file. */
const shell: Handler = (args, a) => {
  const { cMode, sMode, end } = readShellOptions(args, a);
  for (let k = 0; k < end; k++) a.program(args[k], "an option of the shell");
  if (cMode) {
    shellScript(args[end], args.slice(end + 1), a);
    return;
  }
  if (sMode || args[end] === undefined) {
    a.problemHere(
      "a shell reading its script from standard input (sh, sh -s, … | sh) is refused where event values are around: the input could be one; give the script with -c '…' or as a file",
    );
    return;
  }
  a.program(args[end], "the script file the shell runs");
};

function readShellOptions(args: Word[], a: CommandAnalysis): ShellInvocation {
  const inv: ShellInvocation = { cMode: false, sMode: false, end: 0 };
  for (; inv.end < args.length; inv.end++) {
    const text = literalOf(args[inv.end]!);
    if (text === "--" || text === "-") {
      inv.end++;
      break;
    }
    if (text === undefined || !/^[-+]/.test(text)) break;
    if (text === "--rcfile" || text === "--init-file") a.program(args[++inv.end], "the startup file of the shell");
    else if (!text.startsWith("--")) shortShellOptions(text, inv);
  }
  return inv;
}

/** A cluster of short options (`-ec`, `-xo pipefail`). */
function shortShellOptions(text: string, inv: ShellInvocation): void {
  if (text.includes("c")) inv.cMode = true;
  if (text.includes("s")) inv.sMode = true;
  if (text.includes("o") || text.includes("O")) inv.end++; // -o pipefail
}

/** The script of `sh -c`, followed by `rest` ($0, $1…). */
function shellScript(script: Word | undefined, rest: Word[], a: CommandAnalysis): void {
  if (script === undefined) return;
  if (a.onScript?.(script, rest) === true) return;
  const text = literalOf(script);
  if (text === undefined) {
    a.evaluated(script, "the script of sh -c");
    return;
  }
  // The inner script gets the next words as $0, $1…: its values arrive as positional parameters.
  // Variables the outer script exported reach it too: inherit every tainted name, to be safe.
  const taint: Taint = { names: new Set(a.taint.names), positional: rest.some((w) => a.carries(w)) };
  a.nestedScript(script, text, taint, "the script of sh -c");
}

const SHELL_NAMES = new Set(["sh", "bash", "dash", "ash", "ksh", "mksh", "pdksh", "lksh", "oksh", "zsh", "yash", "posh", "rbash", "hush"]);

/** Whether `program` (a path or a name) is a POSIX-style shell that runs `-c script`. */
export function isShell(program: string): boolean {
  return SHELL_NAMES.has(basename(program));
}

export const INTERPRETERS: Record<string, Handler> = {
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
};

/** The handler of a shell or interpreter known under a versioned or variant name (python3.12, gawk, gojq…). */
export function interpreterFor(name: string): Handler | undefined {
  if (SHELL_NAMES.has(name)) return shell;
  if (/^(python|pypy)[0-9.]*$/.test(name)) return INTERPRETERS["python"];
  if (/^perl[0-9.]*$/.test(name)) return INTERPRETERS["perl"];
  if (/^ruby[0-9.]*$/.test(name)) return INTERPRETERS["ruby"];
  if (/^(nodejs|bun|deno)$/.test(name)) return INTERPRETERS["node"];
  if (/^php[0-9.]*$/.test(name)) return INTERPRETERS["php"];
  if (/^(lua[0-9.]*|luajit)$/.test(name)) return INTERPRETERS["lua"];
  if (/^(g|m|n|original-|busybox-)?awk$/.test(name)) return INTERPRETERS["awk"];
  if (/^g?sed$/.test(name)) return INTERPRETERS["sed"];
  if (/^(gojq|jaq)$/.test(name)) return INTERPRETERS["jq"];
  if (/^(mariadb|mysqlsh)$/.test(name)) return INTERPRETERS["mysql"];
  if (/^(wish|tclsh[0-9.]*)$/.test(name)) return INTERPRETERS["tclsh"];
  if (/^(powershell)$/.test(name)) return INTERPRETERS["pwsh"];
  return undefined;
}
