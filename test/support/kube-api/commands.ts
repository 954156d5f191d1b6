// Stand-ins for the coreutils/procps a container image has, working on the fake file system, with GNU
// wording for errors and exit codes (1 for failures, 2 for misuse) so that callers' error handling is
// exercised as it would be in a Debian-based container.
import { normalizePath } from "./fakefs.ts";
import { sleep, text } from "./io.ts";
import type { Command, CommandContext } from "./shell.ts";

/** "5", "0.5", "2s", "1m", "1h", "1d" → milliseconds; undefined when malformed. */
export function parseDuration(value: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)([smhd]?)$/.exec(value ?? "");
  if (m === null) return undefined;
  const unit = { "": 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!]!;
  return Number(m[1]) * unit;
}

function err(ctx: CommandContext, message: string): void {
  ctx.io.stderr.write(`${message}\n`);
}

function pathOf(ctx: CommandContext, p: string): string {
  return normalizePath(p, ctx.cwd);
}

/** Splits `-abc` style flags from operands; `--` ends options. Options in `withValue` take the next word. */
function options(args: string[], withValue: string[] = []): { flags: Set<string>; values: Map<string, string>; operands: string[] } {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq !== -1) values.set(a.slice(0, eq), a.slice(eq + 1));
      else if (withValue.includes(a)) values.set(a, args[++i] ?? "");
      else flags.add(a);
    } else if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      for (let j = 1; j < a.length; j++) {
        const f = `-${a[j]}`;
        if (withValue.includes(f)) {
          values.set(f, a.slice(j + 1) || (args[++i] ?? ""));
          break;
        }
        flags.add(f);
      }
    } else operands.push(a);
  }
  return { flags, values, operands };
}

/** Reads each operand (or stdin for none or "-"), reporting missing files the way `name` does. */
async function* sources(ctx: CommandContext, name: string, files: string[], status: { code: number }): AsyncGenerator<Uint8Array> {
  const list = files.length === 0 ? ["-"] : files;
  for (const f of list) {
    if (f === "-") {
      for (;;) {
        const chunk = await ctx.io.stdin.read(ctx.signal);
        if (chunk === null) break;
        yield chunk;
      }
      continue;
    }
    const p = pathOf(ctx, f);
    const fs = ctx.session.state.fs;
    if (fs.isDir(p)) {
      err(ctx, `${name}: ${f}: Is a directory`);
      status.code = 1;
    } else if (f !== "/dev/null") {
      const data = fs.read(p);
      if (data === undefined) {
        err(ctx, `${name}: ${f}: No such file or directory`);
        status.code = 1;
      } else yield data;
    }
  }
}

async function collect(ctx: CommandContext, name: string, files: string[], status: { code: number }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of sources(ctx, name, files, status)) parts.push(c);
  return Buffer.concat(parts);
}

function unescapeEcho(s: string): { text: string; stop: boolean } {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\" || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[++i]!;
    const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", e: "\x1b" };
    if (n === "c") return { text: out, stop: true };
    if (map[n] !== undefined) out += map[n];
    else if (n === "0") {
      const oct = /^[0-7]{0,3}/.exec(s.slice(i + 1))![0];
      out += String.fromCharCode(Number.parseInt(oct || "0", 8));
      i += oct.length;
    } else out += `\\${n}`;
  }
  return { text: out, stop: false };
}

const echo: Command = async (ctx) => {
  let args = ctx.argv.slice(1);
  let newline = true;
  let escapes = false;
  while (args[0] !== undefined && /^-[neE]+$/.test(args[0])) {
    if (args[0].includes("n")) newline = false;
    if (args[0].includes("e")) escapes = true;
    if (args[0].includes("E")) escapes = false;
    args = args.slice(1);
  }
  let s = args.join(" ");
  if (escapes) {
    const r = unescapeEcho(s);
    s = r.text;
    if (r.stop) newline = false;
  }
  ctx.io.stdout.write(newline ? `${s}\n` : s);
  return 0;
};

const printf: Command = async (ctx) => {
  const [format, ...args] = ctx.argv.slice(1);
  if (format === undefined) {
    err(ctx, "printf: usage: printf format [argument...]");
    return 2;
  }
  let i = 0;
  let out = "";
  let status = 0;
  do {
    const startI = i;
    out += format.replace(/%([-+ #0]*\d*(?:\.\d+)?)([sdiouxXcb%])|\\(.)/g, (_m, flags: string, conv: string, esc: string) => {
      if (esc !== undefined) return unescapeEcho(`\\${esc}`).text;
      if (conv === "%") return "%";
      const arg = args[i++] ?? "";
      const width = Number(/\d+/.exec(flags ?? "")?.[0] ?? "0");
      const pad = (v: string) => (flags?.includes("-") ? v.padEnd(width) : v.padStart(width, flags?.includes("0") ? "0" : " "));
      switch (conv) {
        case "s":
          return pad(arg);
        case "b":
          return pad(unescapeEcho(arg).text);
        case "c":
          return arg.slice(0, 1);
        default: {
          const n = arg === "" ? 0 : Number(arg);
          if (!Number.isFinite(n)) {
            err(ctx, `printf: ${arg}: expected numeric value`);
            status = 1;
            return pad("0");
          }
          const int = Math.trunc(n);
          return pad(
            conv === "x" ? int.toString(16) : conv === "X" ? int.toString(16).toUpperCase() : conv === "o" ? int.toString(8) : String(int),
          );
        }
      }
    });
    if (i === startI) break;
  } while (i < args.length);
  ctx.io.stdout.write(out);
  return status;
};

const cat: Command = async (ctx) => {
  const { operands } = options(ctx.argv.slice(1));
  const status = { code: 0 };
  for await (const chunk of sources(ctx, "cat", operands, status)) ctx.io.stdout.write(chunk);
  return status.code;
};

const tee: Command = async (ctx) => {
  const { flags, operands } = options(ctx.argv.slice(1));
  const fs = ctx.session.state.fs;
  let code = 0;
  const targets: string[] = [];
  for (const f of operands) {
    if (f === "/dev/null") continue;
    const p = pathOf(ctx, f);
    const e = fs.write(p, new Uint8Array(), flags.has("-a"));
    if (e !== undefined) {
      err(ctx, `tee: ${f}: ${e === "EISDIR" ? "Is a directory" : "No such file or directory"}`);
      code = 1;
    } else targets.push(p);
  }
  for (;;) {
    const chunk = await ctx.io.stdin.read(ctx.signal);
    if (chunk === null) break;
    ctx.io.stdout.write(chunk);
    for (const p of targets) fs.write(p, chunk, true);
  }
  return code;
};

function modeString(isDir: boolean): string {
  return isDir ? "drwxr-xr-x" : "-rw-r--r--";
}

const ls: Command = async (ctx) => {
  const { flags, operands } = options(ctx.argv.slice(1));
  const fs = ctx.session.state.fs;
  const long = flags.has("-l");
  const all = flags.has("-a") || flags.has("-A");
  let code = 0;
  const lines: string[] = [];
  const entry = (name: string, p: string) =>
    long ? `${modeString(fs.isDir(p))} 1 root root ${String(fs.size(p)).padStart(6)} Jan  1 00:00 ${name}` : name;
  const targets = operands.length === 0 ? ["."] : operands;
  for (const t of targets) {
    const p = pathOf(ctx, t);
    if (!fs.exists(p)) {
      err(ctx, `ls: cannot access '${t}': No such file or directory`);
      code = 2;
      continue;
    }
    if (fs.isFile(p) || flags.has("-d")) {
      lines.push(entry(t, p));
      continue;
    }
    if (targets.length > 1) lines.push(`${t}:`);
    const names = fs.list(p).filter((n) => all || !n.startsWith("."));
    if (long) lines.push(`total ${names.length * 4}`);
    for (const n of names) lines.push(entry(n, normalizePath(n, p)));
  }
  if (lines.length > 0) ctx.io.stdout.write(`${lines.join("\n")}\n`);
  return code;
};

const ps: Command = async (ctx) => {
  const args = ctx.argv.slice(1).join(" ");
  const procs = [...ctx.session.state.procs.values()].sort((a, b) => a.pid - b.pid);
  const time = (started: number) => new Date(started).toISOString().slice(11, 16);
  let lines: string[];
  if (/\baux\b|-aux/.test(args)) {
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"];
    for (const p of procs)
      lines.push(
        `${p.user.padEnd(8)} ${String(p.pid).padStart(7)}  0.0  0.1  11400  7400 ?        ${p.pid === 1 ? "Ss" : "R "}   ${time(p.started)}   0:00 ${p.command}`,
      );
  } else if (/(^|\s)-e?f\b/.test(args)) {
    lines = ["UID          PID    PPID  C STIME TTY          TIME CMD"];
    for (const p of procs)
      lines.push(
        `${p.user.padEnd(8)} ${String(p.pid).padStart(7)} ${String(p.pid === 1 ? 0 : 1).padStart(7)}  0 ${time(p.started)} ?        00:00:00 ${p.command}`,
      );
  } else {
    lines = ["    PID TTY          TIME CMD"];
    for (const p of procs) lines.push(`${String(p.pid).padStart(7)} ?        00:00:00 ${p.command.split(" ")[0]!.split("/").at(-1)}`);
  }
  ctx.io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
};

/** Accepts `-n N`, `-N`, `-c N` (head/tail). */
function countOption(args: string[]): { lines?: number; bytes?: number; operands: string[] } | string {
  const operands: string[] = [];
  let lines: number | undefined;
  let byteCount: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let v: string | undefined;
    if (/^-\d+$/.test(a)) lines = Number(a.slice(1));
    else if (a === "-n" || a === "-c") {
      v = args[++i];
      const n = Number((v ?? "").replace(/^\+/, ""));
      if (!Number.isInteger(n)) return `invalid number of ${a === "-n" ? "lines" : "bytes"}: '${v ?? ""}'`;
      if (a === "-n") lines = n;
      else byteCount = n;
    } else if (/^-[nc]\d+$/.test(a)) {
      if (a[1] === "n") lines = Number(a.slice(2));
      else byteCount = Number(a.slice(2));
    } else operands.push(a);
  }
  return { lines, bytes: byteCount, operands };
}

const head: Command = async (ctx) => {
  const opt = countOption(ctx.argv.slice(1));
  if (typeof opt === "string") {
    err(ctx, `head: ${opt}`);
    return 1;
  }
  const status = { code: 0 };
  let remainingBytes = opt.bytes;
  let remainingLines = opt.bytes === undefined ? (opt.lines ?? 10) : undefined;
  const fromStdin = opt.operands.length === 0 || opt.operands.includes("-");
  for await (const chunk of sources(ctx, "head", opt.operands, status)) {
    let out = chunk;
    if (remainingBytes !== undefined) {
      out = chunk.subarray(0, remainingBytes);
      remainingBytes -= out.length;
    } else if (remainingLines !== undefined) {
      let end = 0;
      while (end < chunk.length && remainingLines > 0) {
        const nl = chunk.indexOf(10, end);
        if (nl === -1) {
          end = chunk.length;
          break;
        }
        end = nl + 1;
        remainingLines--;
      }
      out = chunk.subarray(0, end);
    }
    ctx.io.stdout.write(out);
    if (remainingBytes === 0 || remainingLines === 0) break;
  }
  // Leaving early closes the pipe: the writer upstream gets SIGPIPE, as with the real head.
  if (fromStdin) ctx.io.stdin.close();
  return status.code;
};

const tail: Command = async (ctx) => {
  const opt = countOption(ctx.argv.slice(1));
  if (typeof opt === "string") {
    err(ctx, `tail: ${opt}`);
    return 1;
  }
  const status = { code: 0 };
  const data = await collect(ctx, "tail", opt.operands, status);
  if (opt.bytes !== undefined) ctx.io.stdout.write(data.subarray(Math.max(0, data.length - opt.bytes)));
  else {
    const n = opt.lines ?? 10;
    const lines = text(data).split("\n");
    const trailing = lines.at(-1) === "" ? lines.pop() : undefined;
    const kept = n === 0 ? [] : lines.slice(-n);
    ctx.io.stdout.write(kept.length === 0 ? "" : kept.join("\n") + (trailing === undefined ? "" : "\n"));
  }
  return status.code;
};

const base64: Command = async (ctx) => {
  const { flags, values, operands } = options(ctx.argv.slice(1), ["-w", "--wrap"]);
  const status = { code: 0 };
  const data = await collect(ctx, "base64", operands, status);
  if (status.code !== 0) return status.code;
  if (flags.has("-d") || flags.has("--decode")) {
    const clean = text(data).replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
      ctx.io.stdout.write(Buffer.from(clean.replace(/[^A-Za-z0-9+/=]/g, ""), "base64"));
      err(ctx, "base64: invalid input");
      return 1;
    }
    ctx.io.stdout.write(Buffer.from(clean, "base64"));
    return 0;
  }
  const wrap = Number(values.get("-w") ?? values.get("--wrap") ?? "76");
  const encoded = Buffer.from(data).toString("base64");
  const lines = wrap > 0 ? (encoded.match(new RegExp(`.{1,${wrap}}`, "g")) ?? []) : [encoded];
  ctx.io.stdout.write(encoded === "" ? "" : `${lines.join("\n")}\n`);
  return 0;
};

const wc: Command = async (ctx) => {
  const { flags, operands } = options(ctx.argv.slice(1));
  const status = { code: 0 };
  const data = await collect(ctx, "wc", operands, status);
  const counts: number[] = [];
  const none = !flags.has("-c") && !flags.has("-l") && !flags.has("-w") && !flags.has("-m");
  if (none || flags.has("-l")) counts.push(data.filter((b) => b === 10).length);
  if (none || flags.has("-w"))
    counts.push(
      text(data)
        .split(/\s+/)
        .filter((w) => w !== "").length,
    );
  if (flags.has("-m")) counts.push([...text(data)].length);
  if (none || flags.has("-c")) counts.push(data.length);
  const width = counts.length > 1 || operands.length > 0 ? 7 : 0;
  const line = counts.map((c) => String(c).padStart(width)).join(" ");
  ctx.io.stdout.write(`${line}${operands.length > 0 ? ` ${operands.join(" ")}` : ""}\n`);
  return status.code;
};

const sleepCommand: Command = async (ctx) => {
  const args = ctx.argv.slice(1);
  if (args.length === 0) {
    err(ctx, "sleep: missing operand");
    return 1;
  }
  let total = 0;
  for (const a of args) {
    const ms = a === "infinity" ? 2 ** 31 - 1 : parseDuration(a);
    if (ms === undefined) {
      err(ctx, `sleep: invalid time interval '${a}'`);
      return 1;
    }
    total += ms;
  }
  const completed = await sleep(Math.min(2 ** 31 - 1, total * ctx.session.timeScale), ctx.signal);
  return completed ? 0 : 128 + 15;
};

const timeout: Command = async (ctx) => {
  // timeout's own options end at the duration; everything after it belongs to the command.
  const args = ctx.argv.slice(1);
  let i = 0;
  let preserve = false;
  for (; i < args.length && args[i]!.startsWith("-") && args[i] !== "-"; i++) {
    const a = args[i]!;
    if (a === "--preserve-status") preserve = true;
    else if (["-s", "--signal", "-k", "--kill-after"].includes(a)) i++;
    else if (a === "--") {
      i++;
      break;
    }
  }
  const duration = args[i];
  const command = args.slice(i + 1);
  const ms = parseDuration(duration);
  if (duration === undefined || ms === undefined) {
    err(ctx, duration === undefined ? "timeout: missing operand" : `timeout: invalid time interval '${duration}'`);
    return 125;
  }
  if (command.length === 0) {
    err(ctx, "timeout: missing operand");
    return 125;
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer =
    ms > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, ms * ctx.session.timeScale)
      : undefined;
  try {
    const code = await ctx.run(command, ctx.io, controller.signal);
    return timedOut && !preserve ? 124 : code;
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
};

const INT = /^-?\d+$/;

/** test / [ with POSIX's argument-count rules (so that `[ "$x" = -n ]` means what it says). */
function evalTest(ctx: CommandContext, args: string[]): number {
  const fs = ctx.session.state.fs;
  const illegal = (v: string) => {
    err(ctx, `sh: 1: ${ctx.argv[0]}: Illegal number: ${v}`);
    throw new TestError();
  };
  const unary = (op: string, v: string): boolean | undefined => {
    const p = pathOf(ctx, v);
    switch (op) {
      case "-n":
        return v !== "";
      case "-z":
        return v === "";
      case "-e":
      case "-r":
      case "-w":
        return fs.exists(p);
      case "-f":
        return fs.isFile(p);
      case "-d":
        return fs.isDir(p);
      case "-s":
        return fs.isFile(p) && fs.read(p)!.length > 0;
      case "-x":
        return fs.isDir(p) || (fs.isFile(p) && /^\/(usr\/)?(local\/)?s?bin\//.test(p));
      case "-L":
      case "-h":
        return false;
      default:
        return undefined;
    }
  };
  const binary = (a: string, op: string, b: string): boolean | undefined => {
    switch (op) {
      case "=":
      case "==":
        return a === b;
      case "!=":
        return a !== b;
      case "-eq":
      case "-ne":
      case "-lt":
      case "-le":
      case "-gt":
      case "-ge": {
        if (!INT.test(a.trim())) illegal(a);
        if (!INT.test(b.trim())) illegal(b);
        const x = Number(a);
        const y = Number(b);
        return { "-eq": x === y, "-ne": x !== y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y }[op];
      }
      default:
        return undefined;
    }
  };
  const evaluate = (a: string[]): boolean => {
    switch (a.length) {
      case 0:
        return false;
      case 1:
        return a[0] !== "";
      case 2: {
        if (a[0] === "!") return !evaluate(a.slice(1));
        const r = unary(a[0]!, a[1]!);
        if (r === undefined) {
          err(ctx, `sh: 1: ${ctx.argv[0]}: ${a[0]}: unexpected operator`);
          throw new TestError();
        }
        return r;
      }
      case 3: {
        const r = binary(a[0]!, a[1]!, a[2]!);
        if (r !== undefined) return r;
        if (a[1] === "-a") return evaluate([a[0]!]) && evaluate([a[2]!]);
        if (a[1] === "-o") return evaluate([a[0]!]) || evaluate([a[2]!]);
        if (a[0] === "!") return !evaluate(a.slice(1));
        if (a[0] === "(" && a[2] === ")") return evaluate([a[1]!]);
        err(ctx, `sh: 1: ${ctx.argv[0]}: ${a[1]}: unexpected operator`);
        throw new TestError();
      }
      default: {
        if (a[0] === "!") return !evaluate(a.slice(1));
        const or = a.indexOf("-o");
        if (or > 0) return evaluate(a.slice(0, or)) || evaluate(a.slice(or + 1));
        const and = a.indexOf("-a");
        if (and > 0) return evaluate(a.slice(0, and)) && evaluate(a.slice(and + 1));
        if (a[0] === "(" && a.at(-1) === ")") return evaluate(a.slice(1, -1));
        err(ctx, `sh: 1: ${ctx.argv[0]}: ${a[0]}: unexpected operator`);
        throw new TestError();
      }
    }
  };
  try {
    return evaluate(args) ? 0 : 1;
  } catch (e) {
    if (e instanceof TestError) return 2;
    throw e;
  }
}

class TestError extends Error {}

const test: Command = async (ctx) => {
  let args = ctx.argv.slice(1);
  if (ctx.argv[0] === "[") {
    if (args.at(-1) !== "]") {
      err(ctx, "sh: 1: [: missing ]");
      return 2;
    }
    args = args.slice(0, -1);
  }
  return evalTest(ctx, args);
};

const mkdir: Command = async (ctx) => {
  const { flags, operands } = options(ctx.argv.slice(1), ["-m"]);
  const fs = ctx.session.state.fs;
  let code = 0;
  for (const d of operands) {
    const p = pathOf(ctx, d);
    if (flags.has("-p")) {
      if (fs.isFile(p)) {
        err(ctx, `mkdir: cannot create directory '${d}': File exists`);
        code = 1;
      } else fs.mkdirs(p);
      continue;
    }
    const e = fs.mkdir(p);
    if (e !== undefined) {
      err(ctx, `mkdir: cannot create directory '${d}': ${e === "EEXIST" ? "File exists" : "No such file or directory"}`);
      code = 1;
    }
  }
  return code;
};

const rm: Command = async (ctx) => {
  const { flags, operands } = options(ctx.argv.slice(1));
  const recursive = flags.has("-r") || flags.has("-R") || flags.has("--recursive");
  const force = flags.has("-f") || flags.has("--force");
  const fs = ctx.session.state.fs;
  let code = 0;
  if (operands.length === 0 && !force) {
    err(ctx, "rm: missing operand");
    return 1;
  }
  for (const t of operands) {
    const p = pathOf(ctx, t);
    if (p === "/" && recursive && !flags.has("--no-preserve-root")) {
      err(ctx, "rm: it is dangerous to operate recursively on '/'\nrm: use --no-preserve-root to override this failsafe");
      code = 1;
      continue;
    }
    const e = fs.remove(p, recursive);
    if (e === "ENOENT" && !force) {
      err(ctx, `rm: cannot remove '${t}': No such file or directory`);
      code = 1;
    } else if (e === "EISDIR") {
      err(ctx, `rm: cannot remove '${t}': Is a directory`);
      code = 1;
    }
  }
  return code;
};

const touch: Command = async (ctx) => {
  const fs = ctx.session.state.fs;
  let code = 0;
  for (const t of options(ctx.argv.slice(1)).operands) {
    const p = pathOf(ctx, t);
    if (fs.exists(p)) continue;
    if (fs.write(p, new Uint8Array(), true) !== undefined) {
      err(ctx, `touch: cannot touch '${t}': No such file or directory`);
      code = 1;
    }
  }
  return code;
};

function copyOrMove(name: "cp" | "mv"): Command {
  return async (ctx) => {
    const { operands } = options(ctx.argv.slice(1));
    const fs = ctx.session.state.fs;
    if (operands.length < 2) {
      err(ctx, `${name}: missing destination file operand after '${operands[0] ?? ""}'`);
      return 1;
    }
    const dest = operands.at(-1)!;
    let code = 0;
    for (const src of operands.slice(0, -1)) {
      const from = pathOf(ctx, src);
      const data = fs.read(from);
      if (data === undefined) {
        err(
          ctx,
          fs.isDir(from)
            ? `${name}: -r not specified; omitting directory '${src}'`
            : `${name}: cannot stat '${src}': No such file or directory`,
        );
        code = 1;
        continue;
      }
      let to = pathOf(ctx, dest);
      if (fs.isDir(to)) to = normalizePath(from.split("/").at(-1)!, to);
      if (fs.write(to, data, false) !== undefined) {
        err(ctx, `${name}: cannot create regular file '${dest}': No such file or directory`);
        code = 1;
      } else if (name === "mv") fs.remove(from, false);
    }
    return code;
  };
}

const chmod: Command = async (ctx) => {
  const { operands } = options(ctx.argv.slice(1));
  const fs = ctx.session.state.fs;
  let code = 0;
  for (const t of operands.slice(1)) {
    if (!fs.exists(pathOf(ctx, t))) {
      err(ctx, `${ctx.argv[0]}: cannot access '${t}': No such file or directory`);
      code = 1;
    }
  }
  return code;
};

const grep: Command = async (ctx) => {
  const { flags, values, operands } = options(ctx.argv.slice(1), ["-e", "-m"]);
  const pattern = values.get("-e") ?? operands.shift();
  if (pattern === undefined) {
    err(ctx, "Usage: grep [OPTION]... PATTERNS [FILE]...");
    return 2;
  }
  let re: RegExp;
  try {
    const source = flags.has("-F")
      ? pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      : flags.has("-E")
        ? pattern
        : pattern.replace(/\\([|+?(){}])/g, "$1");
    re = new RegExp(source, flags.has("-i") ? "i" : "");
  } catch {
    err(ctx, "grep: Invalid regular expression");
    return 2;
  }
  const status = { code: 0 };
  const data = await collect(ctx, "grep", operands, status);
  const lines = text(data).split("\n");
  if (lines.at(-1) === "") lines.pop();
  const matched = lines.map((l, i) => ({ l, i })).filter(({ l }) => re.test(l) !== flags.has("-v"));
  if (flags.has("-q")) return matched.length > 0 ? 0 : status.code === 0 ? 1 : 2;
  if (flags.has("-c")) ctx.io.stdout.write(`${matched.length}\n`);
  else for (const { l, i } of matched) ctx.io.stdout.write(`${flags.has("-n") ? `${i + 1}:` : ""}${l}\n`);
  if (status.code !== 0) return 2;
  return matched.length > 0 ? 0 : 1;
};

const date: Command = async (ctx) => {
  const now = new Date();
  const fmt = ctx.argv.slice(1).find((a) => a.startsWith("+"));
  if (fmt === undefined) {
    const s = now.toUTCString().replace(/GMT$/, "UTC");
    const [wd, d, mon, y, t] = s.replace(",", "").split(" ");
    ctx.io.stdout.write(`${wd} ${mon} ${d!.padStart(2)} ${t} UTC ${y}\n`);
    return 0;
  }
  const iso = now.toISOString();
  const map: Record<string, string> = {
    Y: iso.slice(0, 4),
    m: iso.slice(5, 7),
    d: iso.slice(8, 10),
    H: iso.slice(11, 13),
    M: iso.slice(14, 16),
    S: iso.slice(17, 19),
    s: String(Math.floor(now.getTime() / 1000)),
    N: `${iso.slice(20, 23)}000000`,
    Z: "UTC",
    z: "+0000",
    F: iso.slice(0, 10),
    T: iso.slice(11, 19),
    "%": "%",
  };
  ctx.io.stdout.write(`${fmt.slice(1).replace(/%(.)/g, (m, c: string) => map[c] ?? m)}\n`);
  return 0;
};

const uname: Command = async (ctx) => {
  const { flags } = options(ctx.argv.slice(1));
  const host = ctx.session.state.hostname;
  if (flags.has("-a"))
    ctx.io.stdout.write(`Linux ${host} 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n`);
  else if (flags.has("-r")) ctx.io.stdout.write("6.1.0-18-amd64\n");
  else if (flags.has("-m")) ctx.io.stdout.write("x86_64\n");
  else if (flags.has("-n")) ctx.io.stdout.write(`${host}\n`);
  else ctx.io.stdout.write("Linux\n");
  return 0;
};

const id: Command = async (ctx) => {
  const { flags } = options(ctx.argv.slice(1));
  if (flags.has("-u") || flags.has("-g")) ctx.io.stdout.write(flags.has("-n") ? "root\n" : "0\n");
  else ctx.io.stdout.write("uid=0(root) gid=0(root) groups=0(root)\n");
  return 0;
};

const env: Command = async (ctx) => {
  const args = ctx.argv.slice(1);
  const vars: Record<string, string> = args[0] === "-i" ? {} : { ...ctx.env };
  let i = args[0] === "-i" ? 1 : 0;
  for (; i < args.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i]!); i++) {
    const a = args[i]!;
    vars[a.slice(0, a.indexOf("="))] = a.slice(a.indexOf("=") + 1);
  }
  if (i < args.length) return ctx.run(args.slice(i), ctx.io, ctx.signal);
  ctx.io.stdout.write(
    Object.entries(vars)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(""),
  );
  return 0;
};

const kill: Command = async (ctx) => {
  const args = ctx.argv.slice(1).filter((a, i, all) => !a.startsWith("-") && all[i - 1] !== "-s");
  let code = 0;
  for (const a of args) {
    const pid = Number(a);
    const proc = ctx.session.state.procs.get(pid);
    if (!Number.isInteger(pid) || proc === undefined) {
      err(ctx, `sh: 1: kill: No such process`);
      code = 1;
    } else proc.controller?.abort();
  }
  return code;
};

export const CORE_COMMANDS: Record<string, Command> = {
  echo,
  printf,
  cat,
  tee,
  ls,
  ps,
  head,
  tail,
  base64,
  wc,
  true: async () => 0,
  false: async () => 1,
  ":": async () => 0,
  sleep: sleepCommand,
  timeout,
  test,
  "[": test,
  mkdir,
  rm,
  touch,
  cp: copyOrMove("cp"),
  mv: copyOrMove("mv"),
  chmod,
  chown: chmod,
  grep,
  date,
  uname,
  id,
  whoami: async (ctx) => {
    ctx.io.stdout.write("root\n");
    return 0;
  },
  hostname: async (ctx) => {
    ctx.io.stdout.write(`${ctx.session.state.hostname}\n`);
    return 0;
  },
  pwd: async (ctx) => {
    ctx.io.stdout.write(`${ctx.cwd}\n`);
    return 0;
  },
  env,
  kill,
  nproc: async (ctx) => {
    ctx.io.stdout.write("2\n");
    return 0;
  },
};
