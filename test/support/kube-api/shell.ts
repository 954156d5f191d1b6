// The sh interpreter for exec: expansion (parameters, command substitution, arithmetic, field splitting,
// globbing on the fake file system), redirections, pipelines that run concurrently, && || ; &, if/while/
// for, and the special built-ins. Every command it runs, built-ins included, goes to the exec log with
// its final argv, which is how tests prove what did (and did not) run.
import { CAPTURE_COMMANDS } from "./capture.ts";
import { CORE_COMMANDS } from "./commands.ts";
import { type ContainerState, normalizePath } from "./fakefs.ts";
import { BufferInput, bytes, Collector, emptyInput, type Input, NULL_OUTPUT, type Output, Pipe, readAll, text } from "./io.ts";
import { type Node, parseScript, parseWord, type Redirect, ShellSyntaxError, type Word } from "./shell-parse.ts";

export interface Io {
  stdin: Input;
  stdout: Output;
  stderr: Output;
}

/** One exec session's view of its container. */
export interface Session {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly state: ContainerState;
  /** Multiplies every duration (sleep, timeout, capture lengths): below 1 makes tests fast. */
  readonly timeScale: number;
  log(argv: string[]): void;
  /** Commands the test defined (they take precedence over the built-in ones). */
  readonly custom: ReadonlyMap<string, Command>;
}

export interface CommandContext {
  argv: string[];
  io: Io;
  env: Record<string, string>;
  cwd: string;
  session: Session;
  /** Aborts on SIGTERM/SIGKILL (timeout, kill, client gone, pod deleted). */
  signal: AbortSignal;
  /** Runs another program as the command would (logged, looked up on PATH). */
  run(argv: string[], io: Io, signal: AbortSignal): Promise<number>;
}

export type Command = (ctx: CommandContext) => Promise<number>;

/** `exit N`, or a fatal shell error, unwinding to the enclosing (sub)shell. */
export class ShellExit extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

/** The exec'd program itself does not exist: the runtime fails the exec (no shell to say "not found"). */
export class ExecNotFound extends Error {
  readonly program: string;

  constructor(program: string) {
    super(`exec: "${program}": executable file not found in $PATH`);
    this.program = program;
  }
}

const PATH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const SHELLS = new Set(["sh", "bash", "ash", "dash"]);

type Resolved = { kind: "command"; fn: Command } | { kind: "script"; path: string };

function resolve(name: string, cwd: string, session: Session): Resolved | undefined {
  const state = session.state;
  if (name.includes("/")) {
    const path = normalizePath(name, cwd);
    if (state.fs.isFile(path)) return { kind: "script", path };
    const slash = path.lastIndexOf("/");
    const dir = path.slice(0, slash) || "/";
    const base = path.slice(slash + 1);
    if (PATH_DIRS.includes(dir)) return resolve(base, cwd, session);
    return undefined;
  }
  if (name === "" || state.missing.has(name)) return undefined;
  const custom = session.custom.get(name);
  if (custom !== undefined) return { kind: "command", fn: custom };
  for (const dir of PATH_DIRS) if (state.fs.isFile(`${dir}/${name}`)) return { kind: "script", path: `${dir}/${name}` };
  if (SHELLS.has(name)) return { kind: "command", fn: shellCommand };
  if (name === "which") return { kind: "command", fn: whichCommand };
  const fn = CORE_COMMANDS[name] ?? CAPTURE_COMMANDS[name];
  return fn === undefined ? undefined : { kind: "command", fn };
}

/**
 * Runs a program in the container: logs it, looks it up, registers a process for `ps`/`kill`.
 * `how` is "exec" for the command of the exec request itself (a missing program is the runtime's error).
 */
export async function runProgram(
  argv: string[],
  io: Io,
  env: Record<string, string>,
  cwd: string,
  session: Session,
  parent: AbortSignal,
  how: "exec" | "shell",
): Promise<number> {
  session.log(argv);
  const name = argv[0] ?? "";
  const found = resolve(name, cwd, session);
  if (found === undefined) {
    if (how === "exec") throw new ExecNotFound(name);
    io.stderr.write(`sh: 1: ${name}: not found\n`);
    return 127;
  }
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener("abort", onParentAbort, { once: true });
  const proc = session.state.spawn(argv.join(" "), controller);
  const ctx: CommandContext = {
    argv,
    io,
    env,
    cwd,
    session,
    signal: controller.signal,
    run: (next, nextIo, signal) => runProgram(next, nextIo, env, cwd, session, signal, "shell"),
  };
  const killed = new Promise<number>((resolveKilled) => {
    const onKill = () => resolveKilled(128 + 15);
    if (controller.signal.aborted) onKill();
    else controller.signal.addEventListener("abort", onKill, { once: true });
  });
  try {
    const work = found.kind === "command" ? found.fn(ctx) : shellCommand({ ...ctx, argv: ["sh", found.path, ...argv.slice(1)] });
    // A command that ignores the signal still "dies" for its parent; its later output is dropped by exec.
    return await Promise.race([work.catch((err: unknown) => (err instanceof ShellExit ? err.code : Promise.reject(err))), killed]);
  } finally {
    parent.removeEventListener("abort", onParentAbort);
    session.state.exit(proc.pid);
  }
}

async function whichCommand(ctx: CommandContext): Promise<number> {
  let code = 0;
  for (const name of ctx.argv.slice(1).filter((a) => !a.startsWith("-"))) {
    const found = resolve(name, ctx.cwd, ctx.session);
    if (found === undefined) code = 1;
    else ctx.io.stdout.write(`${found.kind === "script" ? found.path : name.includes("/") ? name : `/usr/bin/${name}`}\n`);
  }
  return code;
}

/** sh/bash: `-c script [name [args]]`, `script-file [args]`, or a script on stdin (`-s [args]`). */
export async function shellCommand(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let i = 0;
  let commandMode = false;
  let stdinMode = false;
  let errexit = false;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      i++;
      break;
    }
    // Long options (--login, --norc…) change nothing here.
    if (a.startsWith("--")) continue;
    if (!/^[-+][a-zA-Z]+$/.test(a)) break;
    if (a.startsWith("-")) {
      if (a.includes("c")) commandMode = true;
      if (a.includes("s")) stdinMode = true;
      if (a.includes("e")) errexit = true;
    }
  }
  let script: string;
  let arg0 = ctx.argv[0]!;
  let positional: string[];
  if (commandMode) {
    if (args[i] === undefined) {
      ctx.io.stderr.write(`${arg0}: 0: -c requires an argument\n`);
      return 2;
    }
    script = args[i]!;
    arg0 = args[i + 1] ?? arg0;
    positional = args.slice(i + 2);
  } else if (stdinMode) {
    // POSIX sh -s: the script is read from stdin and the operands are the positional parameters.
    script = text(await readAll(ctx.io.stdin, ctx.signal));
    positional = args.slice(i);
  } else if (args[i] !== undefined) {
    const data = ctx.session.state.fs.read(normalizePath(args[i]!, ctx.cwd));
    if (data === undefined) {
      ctx.io.stderr.write(`${arg0}: 0: cannot open ${args[i]}: No such file\n`);
      return 2;
    }
    script = text(data);
    arg0 = args[i]!;
    positional = args.slice(i + 1);
  } else {
    script = text(await readAll(ctx.io.stdin, ctx.signal));
    positional = [];
  }
  const shell = new Shell({ env: ctx.env, cwd: ctx.cwd, session: ctx.session, signal: ctx.signal, arg0, positional, errexit });
  return shell.runScript(script, ctx.io);
}

const leftovers = new WeakMap<Input, Uint8Array>();

/** One line from an input (for `read`), or null at end of file. */
async function readLine(input: Input, signal: AbortSignal): Promise<string | null> {
  let buf = leftovers.get(input) ?? new Uint8Array();
  for (;;) {
    const nl = buf.indexOf(10);
    if (nl !== -1) {
      leftovers.set(input, buf.subarray(nl + 1));
      return text(buf.subarray(0, nl));
    }
    const chunk = await input.read(signal);
    if (chunk === null) {
      leftovers.set(input, new Uint8Array());
      return buf.length > 0 ? text(buf) : null;
    }
    buf = Buffer.concat([buf, chunk]);
  }
}

interface ShellInit {
  env: Record<string, string>;
  cwd: string;
  session: Session;
  signal: AbortSignal;
  arg0: string;
  positional: string[];
  errexit?: boolean;
}

interface Field {
  text: string;
  pattern: string;
  glob: boolean;
  started: boolean;
}

const SPECIAL_BUILTINS = new Set([
  "exit",
  "export",
  "unset",
  "cd",
  "set",
  "shift",
  "wait",
  "eval",
  ".",
  "source",
  "read",
  "exec",
  "trap",
  "readonly",
  "return",
]);

class Shell {
  private readonly vars = new Map<string, string>();
  private readonly exported = new Set<string>();
  private positional: string[];
  private readonly arg0: string;
  private cwd: string;
  private status = 0;
  private errexit: boolean;
  private readonly jobs: Promise<number>[] = [];
  private lastBackground = 0;
  private readonly session: Session;
  private readonly signal: AbortSignal;

  constructor(init: ShellInit) {
    for (const [k, v] of Object.entries(init.env)) {
      this.vars.set(k, v);
      this.exported.add(k);
    }
    this.vars.set("PWD", init.cwd);
    this.cwd = init.cwd;
    this.session = init.session;
    this.signal = init.signal;
    this.arg0 = init.arg0;
    this.positional = init.positional;
    this.errexit = init.errexit ?? false;
  }

  private subshell(signal = this.signal): Shell {
    const s = new Shell({
      env: {},
      cwd: this.cwd,
      session: this.session,
      signal,
      arg0: this.arg0,
      positional: [...this.positional],
      errexit: this.errexit,
    });
    for (const [k, v] of this.vars) s.vars.set(k, v);
    for (const k of this.exported) s.exported.add(k);
    s.status = this.status;
    return s;
  }

  private env(extra: Record<string, string> = {}): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of this.exported) {
      const v = this.vars.get(k);
      if (v !== undefined) out[k] = v;
    }
    return { ...out, ...extra };
  }

  async runScript(src: string, io: Io): Promise<number> {
    let ast: Node;
    try {
      ast = parseScript(src);
    } catch (err) {
      if (err instanceof ShellSyntaxError) {
        io.stderr.write(`${this.arg0}: 1: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    try {
      return await this.run(ast, io);
    } catch (err) {
      if (err instanceof ShellExit) return err.code;
      throw err;
    }
  }

  private async run(node: Node, io: Io): Promise<number> {
    if (this.signal.aborted) throw new ShellExit(128 + 15);
    switch (node.t) {
      case "simple":
        this.status = await this.simple(node, io);
        return this.status;
      case "pipeline":
        this.status = await this.pipeline(node.commands, io);
        if (node.negate) this.status = this.status === 0 ? 1 : 0;
        return this.status;
      case "andor": {
        let status = await this.runGuarded(node.first, io, node.rest.length > 0);
        for (const [i, step] of node.rest.entries()) {
          if ((step.op === "&&") === (status === 0)) status = await this.runGuarded(step.node, io, i < node.rest.length - 1);
        }
        this.status = status;
        return status;
      }
      case "list": {
        let status = 0;
        for (const item of node.items) {
          if (item.background) {
            // A background job outlives this shell (and the exec session), as in a container: only the
            // container's end stops it.
            const sub = this.subshell(this.session.state.lifetime.signal);
            const job = sub
              .run(item.node, { ...io, stdin: emptyInput() })
              .catch((err: unknown) => (err instanceof ShellExit ? err.code : 1));
            this.jobs.push(job);
            this.lastBackground = 1000 + this.jobs.length;
            status = 0;
          } else {
            status = await this.run(item.node, io);
            if (this.errexit && status !== 0 && item.node.t !== "andor") throw new ShellExit(status);
          }
          this.status = status;
        }
        return status;
      }
      case "subshell": {
        const redirected = await this.redirected(node.redirects, io);
        if (typeof redirected === "number") return redirected;
        try {
          this.status = await this.subshell().run(node.body, redirected);
        } catch (err) {
          if (!(err instanceof ShellExit)) throw err;
          this.status = err.code;
        }
        return this.status;
      }
      case "group": {
        const redirected = await this.redirected(node.redirects, io);
        if (typeof redirected === "number") return redirected;
        return this.run(node.body, redirected);
      }
      case "if": {
        const redirected = await this.redirected(node.redirects, io);
        if (typeof redirected === "number") return redirected;
        for (const clause of node.clauses) {
          if ((await this.runGuarded(clause.cond, redirected, true)) === 0) return this.run(clause.body, redirected);
        }
        this.status = node.otherwise === undefined ? 0 : await this.run(node.otherwise, redirected);
        return this.status;
      }
      case "loop": {
        const redirected = await this.redirected(node.redirects, io);
        if (typeof redirected === "number") return redirected;
        let status = 0;
        for (;;) {
          await yieldToEventLoop();
          const c = await this.runGuarded(node.cond, redirected, true);
          if ((c === 0) === node.until) break;
          status = await this.run(node.body, redirected);
        }
        this.status = status;
        return status;
      }
      case "for": {
        const redirected = await this.redirected(node.redirects, io);
        if (typeof redirected === "number") return redirected;
        const items = node.items === undefined ? [...this.positional] : await this.expandWords(node.items, redirected);
        let status = 0;
        for (const item of items) {
          await yieldToEventLoop();
          this.vars.set(node.name, item);
          status = await this.run(node.body, redirected);
        }
        this.status = status;
        return status;
      }
    }
  }

  /** Runs a node whose failure must not trigger `set -e` (conditions, left of && and ||). */
  private async runGuarded(node: Node, io: Io, guarded: boolean): Promise<number> {
    if (!guarded) return this.run(node, io);
    const saved = this.errexit;
    this.errexit = false;
    try {
      return await this.run(node, io);
    } finally {
      this.errexit = saved;
    }
  }

  private async pipeline(commands: Node[], io: Io): Promise<number> {
    if (commands.length === 1) return this.run(commands[0]!, io);
    const pipes = commands.slice(1).map(() => new Pipe());
    const stages = commands.map(async (cmd, i) => {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      this.signal.addEventListener("abort", onAbort, { once: true });
      const input = i === 0 ? io.stdin : pipes[i - 1]!;
      const output = i === commands.length - 1 ? io.stdout : pipes[i]!;
      // Writing into a pipe nobody reads any more is SIGPIPE for this stage.
      if (output instanceof Pipe) output.onBroken = () => controller.abort();
      let status: number;
      try {
        status = await this.subshell(controller.signal).run(cmd, { stdin: input, stdout: output, stderr: io.stderr });
      } catch (err) {
        if (!(err instanceof ShellExit)) throw err;
        status = err.code;
      } finally {
        this.signal.removeEventListener("abort", onAbort);
      }
      if (output instanceof Pipe) output.end();
      if (input instanceof Pipe) input.close();
      return controller.signal.aborted && output instanceof Pipe ? 128 + 13 : status;
    });
    const statuses = await Promise.all(stages);
    return statuses.at(-1)!;
  }

  private async simple(node: Extract<Node, { t: "simple" }>, io: Io): Promise<number> {
    const argv = await this.expandWords(node.words, io);
    const assigned: Record<string, string> = {};
    for (const a of node.assigns) assigned[a.name] = (await this.expandWord(a.value, io, false)).join("");
    const redirected = await this.redirected(node.redirects, io);
    if (typeof redirected === "number") return redirected;
    if (argv.length === 0) {
      for (const [k, v] of Object.entries(assigned)) this.vars.set(k, v);
      return this.status;
    }
    const name = argv[0]!;
    if (SPECIAL_BUILTINS.has(name)) {
      this.session.log(argv);
      return this.builtin(argv, redirected);
    }
    return runProgram(argv, redirected, this.env(assigned), this.cwd, this.session, this.signal, "shell");
  }

  private async builtin(argv: string[], io: Io): Promise<number> {
    const [name, ...args] = argv as [string, ...string[]];
    switch (name) {
      case "exit":
      case "return": {
        const code = args[0] === undefined ? this.status : Number(args[0]);
        if (!Number.isInteger(code)) {
          io.stderr.write(`${this.arg0}: 1: exit: Illegal number: ${args[0]}\n`);
          throw new ShellExit(2);
        }
        throw new ShellExit(code & 0xff);
      }
      case "export":
      case "readonly":
        for (const a of args) {
          const eq = a.indexOf("=");
          const key = eq === -1 ? a : a.slice(0, eq);
          if (eq !== -1) this.vars.set(key, a.slice(eq + 1));
          if (name === "export") this.exported.add(key);
        }
        return 0;
      case "unset":
        for (const a of args) if (a !== "-v" && a !== "-f") this.vars.delete(a);
        return 0;
      case "cd": {
        const target = normalizePath(args[0] ?? this.vars.get("HOME") ?? "/", this.cwd);
        if (!this.session.state.fs.isDir(target)) {
          io.stderr.write(`${this.arg0}: 1: cd: can't cd to ${args[0]}\n`);
          return 2;
        }
        this.cwd = target;
        this.vars.set("PWD", target);
        return 0;
      }
      case "set":
        for (const a of args) {
          if (/^-[a-z]*e/.test(a)) this.errexit = true;
          if (/^\+[a-z]*e/.test(a)) this.errexit = false;
        }
        if (args[0] === "--") this.positional = args.slice(1);
        return 0;
      case "shift": {
        const n = args[0] === undefined ? 1 : Number(args[0]);
        if (n > this.positional.length) {
          io.stderr.write(`${this.arg0}: 1: shift: can't shift that many\n`);
          return 2;
        }
        this.positional = this.positional.slice(n);
        return 0;
      }
      case "wait": {
        const results = await Promise.all(this.jobs.splice(0));
        return results.at(-1) ?? 0;
      }
      case "eval":
        return this.evalSource(args.join(" "), io);
      case ".":
      case "source": {
        const data = args[0] === undefined ? undefined : this.session.state.fs.read(normalizePath(args[0], this.cwd));
        if (data === undefined) {
          io.stderr.write(`${this.arg0}: 1: .: cannot open ${args[0] ?? ""}: No such file\n`);
          throw new ShellExit(2);
        }
        return this.evalSource(text(data), io);
      }
      case "read": {
        const names = args.filter((a) => !a.startsWith("-"));
        const line = await readLine(io.stdin, this.signal);
        if (line === null) return 1;
        const words = line.trim().split(/[ \t]+/);
        names.forEach((n, i) => {
          this.vars.set(n, i === names.length - 1 ? words.slice(i).join(" ") : (words[i] ?? ""));
        });
        if (names.length === 0) this.vars.set("REPLY", line);
        return 0;
      }
      case "exec":
        if (args.length === 0) return 0;
        throw new ShellExit(await runProgram(args, io, this.env(), this.cwd, this.session, this.signal, "shell"));
      default:
        // trap: accepted and ignored (no signals are delivered to scripts here).
        return 0;
    }
  }

  private async evalSource(src: string, io: Io): Promise<number> {
    let ast: Node;
    try {
      ast = parseScript(src);
    } catch (err) {
      if (!(err instanceof ShellSyntaxError)) throw err;
      io.stderr.write(`${this.arg0}: 1: ${err.message}\n`);
      return 2;
    }
    return this.run(ast, io);
  }

  // --- expansion ---------------------------------------------------------------------------------

  private async expandWords(words: Word[], io: Io): Promise<string[]> {
    const out: string[] = [];
    for (const w of words) out.push(...(await this.expandWord(w, io, true)));
    return out;
  }

  private param(name: string): string | undefined {
    switch (name) {
      case "?":
        return String(this.status);
      case "$":
        return "1";
      case "#":
        return String(this.positional.length);
      case "@":
      case "*":
        return this.positional.join(" ");
      case "!":
        return this.lastBackground === 0 ? "" : String(this.lastBackground);
      case "-":
        return this.errexit ? "e" : "";
      case "0":
        return this.arg0;
      default:
        if (/^[0-9]+$/.test(name)) return this.positional[Number(name) - 1];
        return this.vars.get(name);
    }
  }

  private async paramValue(part: Extract<Word[number], { t: "param" }>, io: Io): Promise<string> {
    const value = this.param(part.name);
    if (part.op === "#len") return String((value ?? "").length);
    if (part.op === undefined) return value ?? "";
    const colon = part.op.startsWith(":");
    const unsetOrNull = value === undefined || (colon && value === "");
    const arg = async () => (await this.expandWord(parseWord(part.arg ?? ""), io, false)).join("");
    switch (part.op.replace(":", "")) {
      case "-":
        return unsetOrNull ? arg() : value!;
      case "=": {
        if (!unsetOrNull) return value!;
        const v = await arg();
        this.vars.set(part.name, v);
        return v;
      }
      case "+":
        return unsetOrNull ? "" : arg();
      default: {
        if (!unsetOrNull) return value!;
        const msg = part.arg ? await arg() : "parameter not set";
        io.stderr.write(`${this.arg0}: 1: ${part.name}: ${msg}\n`);
        throw new ShellExit(2);
      }
    }
  }

  private async commandSubstitution(src: string, io: Io): Promise<string> {
    const out = new Collector();
    const sub = this.subshell();
    const status = await sub.runScript(src, { stdin: io.stdin, stdout: out, stderr: io.stderr });
    this.status = status;
    return text(out.data).replace(/\n+$/, "");
  }

  /** Expands a word into fields; without `split`, into exactly one (assignments, redirect targets). */
  private async expandWord(word: Word, io: Io, split: boolean): Promise<string[]> {
    const fields: Field[] = [];
    let cur: Field = { text: "", pattern: "", glob: false, started: false };
    const addLiteral = (s: string, quoted: boolean) => {
      cur.text += s;
      cur.pattern += quoted ? s.replace(/[*?[\]\\]/g, "\\$&") : s;
      if (!quoted && /[*?[]/.test(s)) cur.glob = true;
      if (quoted || s !== "") cur.started = true;
    };
    const addExpansion = (s: string, quoted: boolean) => {
      if (quoted || !split) return addLiteral(s, true);
      const pieces = s.split(/[ \t\n]+/);
      pieces.forEach((p, i) => {
        if (i > 0 && cur.started) {
          fields.push(cur);
          cur = { text: "", pattern: "", glob: false, started: false };
        }
        if (p !== "") addLiteral(p, false);
      });
    };
    for (const part of word) {
      switch (part.t) {
        case "lit":
          addLiteral(part.v, part.q);
          break;
        case "param":
          if (part.name === "@" && part.q && split && part.op === undefined) {
            this.positional.forEach((p, i) => {
              if (i > 0) {
                fields.push(cur);
                cur = { text: "", pattern: "", glob: false, started: false };
              }
              addLiteral(p, true);
            });
          } else addExpansion(await this.paramValue(part, io), part.q);
          break;
        case "cmdsub":
          addExpansion(await this.commandSubstitution(part.src, io), part.q);
          break;
        case "arith":
          addExpansion(String(this.arithmetic(part.src, io)), part.q);
          break;
      }
    }
    if (cur.started) fields.push(cur);
    if (!split) return [fields.map((f) => f.text).join(" ")];
    const out: string[] = [];
    for (const f of fields) out.push(...(f.glob ? this.glob(f) : [f.text]));
    return out;
  }

  private glob(field: Field): string[] {
    const fs = this.session.state.fs;
    const absolute = field.pattern.startsWith("/");
    const segments = field.pattern.split("/").filter((s) => s !== "");
    let candidates = [absolute ? "/" : this.cwd];
    for (const seg of segments) {
      const next: string[] = [];
      const isPattern = /(^|[^\\])[*?[]/.test(seg);
      for (const dir of candidates) {
        if (!isPattern) {
          const p = normalizePath(seg.replace(/\\(.)/g, "$1"), dir);
          if (fs.exists(p)) next.push(p);
          continue;
        }
        const re = globRegExp(seg);
        for (const name of fs.list(dir)) {
          if (name.startsWith(".") && !seg.startsWith(".")) continue;
          if (re.test(name)) next.push(normalizePath(name, dir));
        }
      }
      candidates = next;
    }
    if (candidates.length === 0) return [field.text];
    const prefix = absolute ? "" : `${this.cwd.replace(/\/$/, "")}/`;
    return candidates.sort().map((p) => (absolute ? p : p.slice(prefix.length)));
  }

  private arithmetic(src: string, io: Io): number {
    try {
      return evaluateArithmetic(src, (name) => Number.parseInt(this.param(name) ?? "0", 10) || 0);
    } catch (err) {
      io.stderr.write(`${this.arg0}: 1: arithmetic expression: ${(err as Error).message}: "${src}"\n`);
      throw new ShellExit(2);
    }
  }

  // --- redirections ------------------------------------------------------------------------------

  /** The io after redirections, or the exit status when one fails (after its message). */
  private async redirected(redirects: Redirect[], io: Io): Promise<Io | number> {
    if (redirects.length === 0) return io;
    const fds = new Map<number, Input | Output>([
      [0, io.stdin],
      [1, io.stdout],
      [2, io.stderr],
    ]);
    const fs = this.session.state.fs;
    const openWrite = (target: string, append: boolean): Output => {
      if (target === "/dev/null") return NULL_OUTPUT;
      if (target === "/dev/stdout") return fds.get(1) as Output;
      if (target === "/dev/stderr") return fds.get(2) as Output;
      const path = normalizePath(target, this.cwd);
      const err = fs.write(path, new Uint8Array(), append);
      if (err !== undefined)
        throw new RedirectError(`cannot create ${target}: ${err === "EISDIR" ? "Is a directory" : "Directory nonexistent"}`);
      return { write: (chunk) => void fs.write(path, bytes(chunk), true) };
    };
    try {
      for (const r of redirects) {
        const target = (await this.expandWord(r.target, io, false)).join("");
        switch (r.op) {
          case ">":
          case ">|":
          case ">>":
            fds.set(r.fd, openWrite(target, r.op === ">>"));
            break;
          case "&>": {
            const out = openWrite(target, false);
            fds.set(1, out);
            fds.set(2, out);
            break;
          }
          case ">&":
          case "<&":
            if (target === "-") fds.set(r.fd, r.op === ">&" ? NULL_OUTPUT : emptyInput());
            else if (/^[0-9]+$/.test(target)) {
              const src = fds.get(Number(target));
              if (src === undefined) throw new RedirectError(`${target}: Bad file descriptor`);
              fds.set(r.fd, src);
            } else {
              const out = openWrite(target, false);
              fds.set(1, out);
              fds.set(2, out);
            }
            break;
          case "<": {
            if (target === "/dev/null") {
              fds.set(r.fd, emptyInput());
              break;
            }
            const data = fs.read(normalizePath(target, this.cwd));
            if (data === undefined) throw new RedirectError(`cannot open ${target}: No such file`);
            fds.set(r.fd, new BufferInput(data));
            break;
          }
          case "<<":
            fds.set(r.fd, new BufferInput(target));
            break;
        }
      }
    } catch (err) {
      if (!(err instanceof RedirectError)) throw err;
      io.stderr.write(`${this.arg0}: 1: ${err.message}\n`);
      return 2;
    }
    const asInput = (v: Input | Output | undefined): Input => (v !== undefined && "read" in v ? v : emptyInput());
    const asOutput = (v: Input | Output | undefined): Output => (v !== undefined && "write" in v ? v : NULL_OUTPUT);
    return { stdin: asInput(fds.get(0)), stdout: asOutput(fds.get(1)), stderr: asOutput(fds.get(2)) };
  }
}

class RedirectError extends Error {}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function globRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "\\" && i + 1 < seg.length) re += seg[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    else if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 1);
      if (end === -1) re += "\\[";
      else {
        re += `[${seg.slice(i + 1, end).replace(/^!/, "^")}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** $(( )) over integers: + - * / % **, comparisons, && || !, parentheses, variables. */
export function evaluateArithmetic(src: string, lookup: (name: string) => number): number {
  const tokens = src.match(/\s*(0x[0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*|\*\*|<=|>=|==|!=|&&|\|\||<<|>>|[-+*/%()<>!~&|^$])/g);
  const toks = (tokens ?? []).map((t) => t.trim());
  if (toks.join("") !== src.replace(/\s+/g, "")) throw new Error("syntax error");
  let pos = 0;
  const peek = () => toks[pos];
  const binary: [string[], (a: number, b: number, op: string) => number][] = [
    [["||"], (a, b) => (a || b ? 1 : 0)],
    [["&&"], (a, b) => (a && b ? 1 : 0)],
    [["|"], (a, b) => a | b],
    [["^"], (a, b) => a ^ b],
    [["&"], (a, b) => a & b],
    [["==", "!="], (a, b, op) => ((op === "==") === (a === b) ? 1 : 0)],
    [["<", ">", "<=", ">="], (a, b, op) => ((op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b) ? 1 : 0)],
    [["<<", ">>"], (a, b, op) => (op === "<<" ? a << b : a >> b)],
    [["+", "-"], (a, b, op) => (op === "+" ? a + b : a - b)],
    [
      ["*", "/", "%"],
      (a, b, op) => {
        if (op !== "*" && b === 0) throw new Error("division by zero");
        return op === "*" ? a * b : op === "/" ? Math.trunc(a / b) : a % b;
      },
    ],
  ];
  const level = (n: number): number => {
    if (n === binary.length) return power();
    const [ops, fn] = binary[n]!;
    let left = level(n + 1);
    while (ops.includes(peek() ?? "")) {
      const op = toks[pos++]!;
      left = fn(left, level(n + 1), op);
    }
    return left;
  };
  const power = (): number => {
    const base = unary();
    if (peek() === "**") {
      pos++;
      return base ** power();
    }
    return base;
  };
  const unary = (): number => {
    const t = peek();
    if (t === "-" || t === "+" || t === "!" || t === "~") {
      pos++;
      const v = unary();
      return t === "-" ? -v : t === "+" ? v : t === "!" ? (v === 0 ? 1 : 0) : ~v;
    }
    if (t === "(") {
      pos++;
      const v = level(0);
      if (toks[pos++] !== ")") throw new Error("expecting ')'");
      return v;
    }
    if (t === undefined) throw new Error("syntax error");
    pos++;
    if (t === "$") return unary();
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) return Number(t);
    if (/^[A-Za-z_]/.test(t)) return lookup(t);
    throw new Error("syntax error");
  };
  const v = level(0);
  if (pos !== toks.length) throw new Error("syntax error");
  return v;
}
