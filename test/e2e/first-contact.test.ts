// First contact (issue 16 §1), as a new user meets Kestrel, with real processes: on a machine whose only
// Node is older than engines.node, `./kestrel` fetches Node 24 into its cache, runs the bundled example and
// drains and exits 0 on SIGTERM or SIGINT to the PID the user started (the wrapper execs Node); `npm start`
// lets SIGTERM reach the server too; bin/kestrel.js and `npm test` under the old Node print one line, no
// stack; log_format is color on a pseudo-terminal (util-linux `script`) and text in a pipe; a missing
// Debian daemon or promtool skips its tests with the package's name, and fails them under CI.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { locate, missingMessage, PROMTOOL, requireTool, skipReason } from "../support/debian.ts";
import { until } from "../support/wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const WRAPPER = join(ROOT, "kestrel");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
const [NEED_MAJOR, NEED_MINOR] = /^>=\s*(\d+)\.(\d+)/.exec(pkg.engines.node)!.slice(1).map(Number) as [number, number];
const TERMINAL_SHELL = readFileSync(join(ROOT, "examples/events/terminal-shell.json"), "utf8");

const temps: string[] = [];
function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** The environment of a user's shell: this one without the test runner's own variables. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env["NODE_TEST_CONTEXT"];
  delete env["NODE_OPTIONS"];
  return env;
}

function tooOld(version: string): boolean {
  const [major, minor] = version.split(".").map(Number) as [number, number];
  return major < NEED_MAJOR || (major === NEED_MAJOR && minor < NEED_MINOR);
}

/** A Node older than engines.node on this machine (the system's, e.g. Debian's /usr/bin/node 20), with the
 * npm next to it, or undefined. $KESTREL_OLD_NODE points at one elsewhere. */
function findOldNode(): { node: string; version: string; npm: string | undefined } | undefined {
  const candidates = [
    process.env["KESTREL_OLD_NODE"],
    "/usr/bin/node",
    "/usr/local/bin/node",
    ...(process.env["PATH"] ?? "").split(delimiter).map((d) => join(d, "node")),
  ];
  for (const node of candidates) {
    if (node === undefined || !existsSync(node)) continue;
    const r = spawnSync(node, ["-p", "process.versions.node"], { encoding: "utf8" });
    const version = r.stdout?.trim() ?? "";
    if (r.status !== 0 || !tooOld(version)) continue;
    const npm = join(dirname(node), "npm");
    return { node, version, npm: existsSync(npm) ? npm : undefined };
  }
  return undefined;
}
const OLD = findOldNode();
const NO_OLD_NODE = OLD === undefined ? `no Node older than ${NEED_MAJOR}.${NEED_MINOR} here (set KESTREL_OLD_NODE)` : undefined;
const NO_OLD_NPM = NO_OLD_NODE ?? (OLD?.npm === undefined ? `no npm next to ${OLD?.node}` : undefined);

/** PATH of a machine where the old Node and its npm are the only ones: a folder with both, then the
 * system's folders for sh, sed, uname… (where the old Node may be too, never a newer one first). */
function oldNodePath(): string {
  const bin = temp("kestrel-old-node-");
  symlinkSync(OLD!.node, join(bin, "node"));
  if (OLD!.npm !== undefined) symlinkSync(OLD!.npm, join(bin, "npm"));
  return [bin, "/usr/bin", "/bin"].join(delimiter);
}

interface Run {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its stdout and stderr are read to the end (unless what it left behind holds them open). */
  readonly closed: Promise<void>;
  /** SIGKILL to the process group: whatever the command left behind (an orphaned server) goes too. */
  kill(): void;
}

/** Starts `command` in its own process group (so that kill() reaches what it leaves behind). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")));
  // "exit", not "close": a server left behind would hold the pipes open.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const kill = (): void => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is gone
    }
  };
  return { child, output: () => output, exit, closed, kill };
}

async function exited(r: Run, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit after ${timeoutMs} ms:\n${r.output()}`)), timeoutMs);
  });
  try {
    const result = await Promise.race([r.exit, timeout]);
    // The last output: once the pipes close, or after a second when a server left behind holds them open.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([r.closed, new Promise((res) => (grace = setTimeout(res, 1000)))]);
    clearTimeout(grace);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for "Kestrel is listening" and returns the intake URL from it. */
async function listening(r: Run, timeoutMs: number): Promise<string> {
  const url = (): string | undefined => /Kestrel is listening.*"url":"(http:\/\/[^"]+)"/.exec(r.output())?.[1];
  await until(() => url() !== undefined, "Kestrel to listen", timeoutMs, {
    intervalMs: 50,
    failIf: () => (r.child.exitCode !== null || r.child.signalCode !== null ? "exited before listening" : undefined),
    detail: r.output,
  });
  return url()!;
}

function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to the PID the user started and checks the drain: exit 0, the summary, nothing listening. */
async function stopAndCheck(r: Run, url: string, signal: NodeJS.Signals): Promise<void> {
  const pid = r.child.pid!;
  process.kill(pid, signal);
  const { code, signal: killedBy } = await exited(r, 30_000);
  assert.equal(killedBy, null, r.output());
  assert.equal(code, 0, r.output());
  assert.match(r.output(), /stopping: no new events, draining queued actions/);
  assert.match(r.output(), /Events received: 1\n/);
  assert.equal(alive(pid), false);
  assert.ok(await refused(url), `something still listens on ${url}`);
}

describe("./kestrel on a machine with only an old Node", { skip: NO_OLD_NPM }, () => {
  const cache = temp("kestrel-node-cache-");

  it("fetches Node 24 into its cache, runs the example, and drains and exits 0 on SIGTERM to its PID", { timeout: 600_000 }, async () => {
    const r = run(WRAPPER, [], userEnv({ PATH: oldNodePath(), KESTREL_NODE_CACHE: cache, LISTEN_PORT: "0" }));
    try {
      const url = await listening(r, 540_000);
      assert.match(
        r.output(),
        new RegExp(
          `Kestrel needs Node\\.js >= ${NEED_MAJOR}\\.${NEED_MINOR} \\(found ${OLD!.version.replaceAll(".", "\\.")}\\): fetching Node 24`,
        ),
      );
      const fetched = readdirSync(join(cache, "node_modules"));
      assert.equal(fetched.length, 1, fetched.join());
      assert.match(fetched[0]!, /^node-(linux|darwin)-(x64|arm64)$/);
      assert.ok(!readdirSync(cache).some((f) => f.startsWith(".fetch.")), "no scratch folder left");
      if (existsSync("/proc/self/exe")) {
        // The wrapper exec'd: the PID the user started is Node 24 from the cache.
        assert.equal(readlinkSync(`/proc/${r.child.pid}/exe`), join(cache, "node_modules", fetched[0]!, "bin/node"));
      }
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: TERMINAL_SHELL });
      assert.equal(res.status, 200, await res.text());
      await stopAndCheck(r, url, "SIGTERM");
      assert.match(r.output(), /Events matched: 1\n/);
    } finally {
      r.kill();
    }
  });

  it("runs from the cache the next time, and drains and exits 0 on SIGINT", async () => {
    const r = run(WRAPPER, [], userEnv({ PATH: oldNodePath(), KESTREL_NODE_CACHE: cache, LISTEN_PORT: "0" }));
    try {
      const url = await listening(r, 60_000);
      assert.doesNotMatch(r.output(), /fetching|npm ci/);
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: TERMINAL_SHELL });
      assert.equal(res.status, 200);
      await stopAndCheck(r, url, "SIGINT");
    } finally {
      r.kill();
    }
  });
});

describe("an old Node gets one line", { skip: NO_OLD_NODE }, () => {
  it("bin/kestrel.js: one line on stderr, exit 1, nothing imported", () => {
    const r = spawnSync(OLD!.node, [join(ROOT, "bin/kestrel.js"), "server", "-c", "examples/config.yaml", "-r", "examples/rules.yaml"], {
      cwd: ROOT,
      encoding: "utf8",
      env: userEnv({}),
    });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `Kestrel needs Node.js >= ${NEED_MAJOR}.${NEED_MINOR} (found ${OLD!.version}); run ./kestrel (it fetches Node 24 into a cache) or install Node 24\n`,
    );
  });

  it("bin/kestrel.js from another folder names the wrapper's path from there", () => {
    const r = spawnSync(OLD!.node, [join(ROOT, "bin/kestrel.js"), "version"], {
      cwd: join(ROOT, "examples"),
      encoding: "utf8",
      env: userEnv({}),
    });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `Kestrel needs Node.js >= ${NEED_MAJOR}.${NEED_MINOR} (found ${OLD!.version}); run ../kestrel (it fetches Node 24 into a cache) or install Node 24\n`,
    );
  });

  it("npm test: the line, and no test runner error or stack", { skip: NO_OLD_NPM }, () => {
    const r = spawnSync(OLD!.npm!, ["test"], { cwd: ROOT, encoding: "utf8", env: userEnv({ PATH: oldNodePath() }) });
    const output = r.stdout + r.stderr;
    assert.notEqual(r.status, 0, output);
    assert.ok(output.includes(`Kestrel needs Node.js >= ${NEED_MAJOR}.${NEED_MINOR} (found ${OLD!.version}); run ./kestrel test`), output);
    assert.doesNotMatch(output, /Could not find|ERR_|^\s+at /m);
  });
});

describe("npm start", () => {
  const npm = locate({ command: "npm", pkg: "npm" });
  it("lets SIGTERM to npm reach the server: drained, exit 0, nothing left listening", {
    skip: npm === undefined ? "npm is not on PATH" : false,
  }, async () => {
    const r = run(
      npm!,
      ["start"],
      userEnv({ PATH: `${dirname(process.execPath)}${delimiter}${process.env["PATH"] ?? ""}`, LISTEN_PORT: "0" }),
    );
    try {
      const url = await listening(r, 60_000);
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: TERMINAL_SHELL });
      assert.equal(res.status, 200);
      await stopAndCheck(r, url, "SIGTERM");
    } finally {
      r.kill();
    }
  });
});

describe("log_format default", () => {
  // An address no interface has: the server logs (a SECURITY warning, then the failed listen) and exits 1.
  const dir = temp("kestrel-log-format-");
  const config = join(dir, "config.yaml");
  writeFileSync(config, "listen_address: 192.0.2.1\nlisten_port: 0\nwatch_rules: false\n");
  const args = [join(ROOT, "bin/kestrel.js"), "server", "-c", config, "-r", join(ROOT, "examples/rules.yaml")];

  it("is text when the output is a pipe", () => {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", env: userEnv({}) });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /WARN: SECURITY/);
    assert.doesNotMatch(r.stdout, /\u001b\[/);
  });

  const script = locate({ command: "script", pkg: "util-linux" });
  it("is color on a terminal", { skip: script === undefined ? "script (util-linux) is not installed" : false }, () => {
    const command = args.map((a) => `'${a}'`).join(" ");
    const r = spawnSync(script!, ["-qec", `'${process.execPath}' ${command}`, "/dev/null"], {
      cwd: ROOT,
      encoding: "utf8",
      env: userEnv({}),
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\u001b\[\d+mWARN\u001b\[\d+m: /);
  });
});

describe("a missing Debian tool", () => {
  const missing = { command: "/nonexistent/rsyslogd", pkg: "rsyslog", env: "RSYSLOGD_BIN" };

  it("skips with a message naming the package; under CI, there is no skip and starting throws the message", () => {
    assert.equal(skipReason(missing, { PATH: "" }), missingMessage(missing));
    assert.match(missingMessage(missing), /^\/nonexistent\/rsyslogd is not installed \(Debian package rsyslog\): apt-get install rsyslog/);
    assert.equal(skipReason(missing, { PATH: "", CI: "true" }), undefined);
    assert.throws(() => requireTool(missing, {}), { message: missingMessage(missing) });
    assert.equal(skipReason({ command: "sh", pkg: "dash" }, { PATH: "/bin" }), undefined);
    assert.match(skipReason(PROMTOOL, { PATH: "/nonexistent" }) ?? "", /promtool is not installed \(Debian package prometheus\)/);
  });

  /** Runs test files in a child test runner (TAP) with `env`. */
  function testRun(files: string[], env: Record<string, string>, pattern?: string): { status: number | null; output: string } {
    const args = [
      "--test",
      "--test-reporter=tap",
      "--test-timeout=60000",
      ...(pattern === undefined ? [] : [`--test-name-pattern=${pattern}`]),
      ...files,
    ];
    const base = userEnv(env);
    if (env["CI"] === undefined) delete base["CI"];
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", env: base });
    return { status: r.status, output: r.stdout + r.stderr };
  }

  it("rsyslogd: the syslog tests are skipped naming rsyslog, and fail under CI without a spawn ENOENT", { timeout: 240_000 }, () => {
    const skipped = testRun(["test/integration/notify-syslog.test.ts"], { RSYSLOGD_BIN: "/nonexistent/rsyslogd" }, "against rsyslog");
    assert.equal(skipped.status, 0, skipped.output);
    assert.match(skipped.output, /# SKIP \/nonexistent\/rsyslogd is not installed \(Debian package rsyslog\)/);
    const ci = testRun(
      ["test/integration/notify-syslog.test.ts"],
      { RSYSLOGD_BIN: "/nonexistent/rsyslogd", CI: "true" },
      "against rsyslog",
    );
    assert.notEqual(ci.status, 0, ci.output);
    assert.match(ci.output, /\/nonexistent\/rsyslogd is not installed \(Debian package rsyslog\)/);
    assert.doesNotMatch(ci.output, /ENOENT/);
  });

  it("promtool: the metrics format check is skipped naming prometheus, and fails under CI", { timeout: 240_000 }, () => {
    // PATH with this Node only: no promtool.
    const env = { PATH: dirname(process.execPath) };
    const skipped = testRun(["test/integration/intake.test.ts"], env);
    assert.equal(skipped.status, 0, skipped.output);
    assert.match(skipped.output, /# SKIP the exposition format is not checked: promtool is not installed \(Debian package prometheus\)/);
    const ci = testRun(["test/integration/intake.test.ts"], { ...env, CI: "true" });
    assert.notEqual(ci.status, 0, ci.output);
    assert.match(ci.output, /promtool is not installed \(Debian package prometheus\)/);
  });
});

describe("the repository", () => {
  // The checkout's path and the folder it is in (e.g. a shared folder of the development machine).
  const checkout = resolve(ROOT);
  const parent = dirname(checkout);
  const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  it("names no path of the machine it was written on", { skip: files.status !== 0 ? "not a git checkout" : false }, () => {
    const needles = [checkout, ...(parent === "/" ? [] : [`${parent}/`])];
    const found: string[] = [];
    for (const file of files.stdout.split("\0")) {
      if (file === "" || !existsSync(join(ROOT, file))) continue;
      const text = readFileSync(join(ROOT, file), "latin1");
      if (text.includes("\0")) continue; // binary
      for (const needle of needles) if (text.includes(needle)) found.push(`${file}: ${needle}`);
    }
    assert.deepEqual(found, []);
  });
});
