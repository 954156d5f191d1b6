// The per-command rules for builtins and wrappers: which arguments `eval`, `trap`, `let`… evaluate, which
// name variables (read, unset, printf -v), and where env, timeout, nice, sudo, find -exec, xargs or
// kubectl exec start the command they run. Shells and interpreters are in shell-interpreters.ts.
import { assignedValue, assignment, checkAssignment, type Handler, optionText } from "./shell-analysis.ts";
import { INTERPRETERS, interpreterFor } from "./shell-interpreters.ts";
import { EMPTY, literalOf, type Word } from "./shell-syntax.ts";

/** env, timeout, nice…: options (`valued` take a value), `skip` more operands, then a command. */
function wrapper(valued: Readonly<Record<string, number>>, skip = 0): Handler {
  return (args, a) => {
    const end = wrapperOptionsEnd(args, valued);
    for (let k = 0; k < end; k++) a.program(args[k], "an option of a command wrapper");
    a.run(args.slice(end + skip));
  };
}

/** The index after a wrapper's options (and after `--`). */
function wrapperOptionsEnd(args: Word[], valued: Readonly<Record<string, number>>): number {
  let i = 0;
  for (; i < args.length; i++) {
    const text = literalOf(args[i]!);
    if (text === "--") return i + 1;
    if (text === undefined || !text.startsWith("-") || text === "-") break;
    if (!text.includes("=") && valued[text] !== undefined) i += valued[text];
  }
  return i;
}

/** env's options that take the next word as their value. */
const ENV_VALUED = new Set(["-u", "--unset", "-C", "--chdir"]);

/** env -S, --split-string, or a cluster ending in S: its string is split into a command. */
const splitsString = (text: string | undefined): boolean =>
  text === "-S" || text?.startsWith("--split-string") === true || /^-[a-zA-Z0-9]*S/.test(text ?? "");

const env: Handler = (args, a) => {
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    const text = literalOf(w);
    if (splitsString(text)) {
      a.evaluated(text === "-S" ? args[++i] : w, "env -S's string (it is split into a command)");
      continue;
    }
    if (text !== undefined && ENV_VALUED.has(text)) {
      i++;
      continue;
    }
    if (text?.startsWith("-") && text !== "-") continue;
    const asg = assignment(w);
    if (asg === undefined) break;
    checkAssignment(w, asg, a);
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
    if (skipOptions) while (i < args.length && optionText(args[i]).startsWith("-")) i++;
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
    checkAssignment(w, asg, a);
    // -i evaluates the value as arithmetic, -n makes it a name, -a/-A may read it as a list.
    if (/[inaA]/.test(flags)) a.evaluated(assignedValue(w), `the value of declare -${flags}`);
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
    if (!/^-(exec|execdir|ok|okdir)$/.test(optionText(args[i]))) continue;
    let end = i + 1;
    while (end < args.length && !/^[;+]$/.test(optionText(args[end]))) end++;
    a.run(args.slice(i + 1, end));
    i = end;
  }
};

/** xargs's options that take the next word as their value. */
const XARGS_VALUED = new Set(["-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter"]);

const xargs: Handler = (args, a) => {
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
    if (XARGS_VALUED.has(text)) i++;
  }
  a.run(args.slice(i));
};

const sqlite: Handler = (args, a) => {
  const operands = args.filter((w) => !optionText(w).startsWith("-"));
  for (const w of operands.slice(1)) a.evaluated(w, "sqlite3's SQL");
};

/** kubectl/docker/podman … exec: the command after `--` (or after the container) is a command. */
const containerExec: Handler = (args, a) => {
  const dashes = args.findIndex((w) => literalOf(w) === "--");
  if (dashes !== -1) {
    a.run(args.slice(dashes + 1));
    return;
  }
  const sub = args.findIndex((w) => /^(exec|run|debug)$/.test(optionText(w)));
  if (sub === -1) return;
  let i = sub + 1;
  while (i < args.length && optionText(args[i]).startsWith("-"))
    i += /^-(e|u|w|-env|-user|-workdir|c|-container|n|-namespace)$/.test(optionText(args[i])) ? 2 : 1;
  a.run(args.slice(i + 1));
};

/** The word after the first `flag` (`mapfile -C callback`, `wait -p name`), if any. */
function afterFlag(args: Word[], flag: string): Word | undefined {
  const at = args.findIndex((w) => literalOf(w) === flag);
  return at === -1 ? undefined : args[at + 1];
}

const sudo: Handler = (args, a) => {
  // sudo -s / -i runs the command through the target user's shell, which evaluates it.
  if (args.some((w) => /^-[A-Za-z]*[si]$|^--(shell|login)$/.test(optionText(w))))
    runsAsScript("sudo -s's command (run by a shell)", true)(args, a);
  else wrapper({ "-u": 1, "-g": 1, "-C": 1, "-D": 1, "-h": 1, "-p": 1, "-r": 1, "-t": 1, "-T": 1, "-U": 1 })(args, a);
};

const flock: Handler = (args, a) => {
  const c = args.findIndex((w) => /^(-c|--command)$/.test(optionText(w)));
  if (c !== -1) {
    a.evaluated(args[c + 1], "flock -c's command (run by sh -c)");
    return;
  }
  wrapper({ "-w": 1, "--timeout": 1, "-E": 1, "--conflict-exit-code": 1 }, 1)(args, a);
};

const BUILTINS: Record<string, Handler> = {
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
    a.evaluated(afterFlag(args, "-C"), "mapfile -C's callback");
    names("mapfile", ["-d", "-n", "-O", "-s", "-u", "-C", "-c"])(args, a);
  },
  getopts: (args, a) => a.name(args[1], "getopts"),
  wait: (args, a) => a.name(afterFlag(args, "-p"), "wait -p"),
  printf,
  test,
  "[": test,
  find,
  xargs,
  env,
  exec: wrapper({ "-a": 1 }),
  command: (args, a) => {
    if (/^-[pvV]*[vV]/.test(optionText(args[0]))) return; // command -v only looks the name up
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
  sudo,
  doas: wrapper({ "-u": 1, "-C": 1 }),
  flock,
  sqlite3: sqlite,
  kubectl: containerExec,
  docker: containerExec,
  podman: containerExec,
  nerdctl: containerExec,
  crictl: containerExec,
};

/** The handler of a command by its name (without its directory); undefined: it takes its arguments as data. */
export function handlerFor(name: string): Handler | undefined {
  // Own properties only: a command named `constructor` or `hasOwnProperty` is no handler of the tables.
  if (Object.hasOwn(BUILTINS, name)) return BUILTINS[name];
  if (Object.hasOwn(INTERPRETERS, name)) return INTERPRETERS[name];
  return interpreterFor(name);
}
