// The `kestrel` command line, run as a process: exit codes and output.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "bin/kestrel.js");

function kestrel(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", ...env } });
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "kestrel-cli-")), name);
  writeFileSync(file, text);
  return file;
}

describe("kestrel rules check", () => {
  it("accepts the example rules", () => {
    const r = kestrel(["rules", "check", "-r", "examples/rules.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rules valid: 3 rules/);
  });

  it("exits 1 with compiler-style file:line:col diagnostics", () => {
    const file = tempFile(
      "bad.yaml",
      `- rule: Bad actionner
  match:
    rules: [x]
  actions:
    - action: Tests
      actionner: local:comand
- rule: Bad continue
  continue: yes
  match:
    priority: ">=Nope"
  actions:
    - action: Echo
      actionner: local:command
      parameters: { command: [/bin/true] }
`,
    );
    const r = kestrel(["rules", "check", "-r", file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${file}:6:\\d+: error .*unknown actionner "local:comand".*did you mean "local:command"`));
    assert.match(r.stderr, new RegExp(`${file}:8:\\d+: error .*'continue' setting can be 'true' or 'false' only`));
    assert.match(r.stderr, /incorrect priority '>=Nope'/);
    assert.match(r.stderr, /the rules are invalid/);
  });
});

describe("kestrel rules print", () => {
  it("prints the merged rules as YAML", () => {
    const override = tempFile("override.yaml", "- action: Record the alert\n  description: overridden\n");
    const r = kestrel(["rules", "print", "-r", "examples/rules.yaml", "-r", override]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rule: Terminal shell in container/);
    assert.match(r.stdout, /description: overridden/);
  });
});

describe("kestrel lists, version and completion", () => {
  it("lists actionners and notifiers with parameters and examples", () => {
    const a = kestrel(["actionners", "list"]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /--- local:command ---/);
    assert.match(a.stdout, /name: command/);
    const n = kestrel(["notifiers", "list", "--json"]);
    const list = JSON.parse(n.stdout) as { name: string; parameters: { name: string; required: boolean }[] }[];
    const webhook = list.find((p) => p.name === "webhook")!;
    assert.ok(webhook.parameters.some((p) => p.name === "url" && p.required));
    assert.equal(kestrel(["outputs", "list"]).status, 0);
  });

  it("prints the version and a completion script", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.match(kestrel(["version"]).stdout, new RegExp(`Kestrel ${pkg.version.replaceAll(".", "\\.")}`));
    assert.match(kestrel(["completion"]).stdout, /complete -F _kestrel kestrel/);
    assert.match(kestrel(["completion", "--shell", "zsh"]).stdout, /compdef _kestrel kestrel/);
  });

  it("refuses an invalid configuration with file:line:col", () => {
    const config = tempFile("config.yaml", "listen_port: 2803\nlisten_adress: 0.0.0.0\n");
    const r = kestrel(["server", "-c", config, "-r", "examples/rules.yaml"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${config}:2:1: error .*listen_adress.*did you mean "listen_address"`));
  });
});

function waitForLine(child: ChildProcessWithoutNullStreams, pattern: RegExp, lines: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in:\n${lines.join("\n")}`)), timeoutMs);
    const check = () => {
      const line = lines.find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout.off("data", check);
        resolve(line);
      }
    };
    child.stdout.on("data", check);
    check();
  });
}

describe("kestrel server", () => {
  it("serves the quick start: acts on an example event, then drains and prints a summary on SIGTERM", async () => {
    const child = spawn(process.execPath, [BIN, "server", "-c", "examples/config.yaml", "-r", "examples/rules.yaml"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", LISTEN_PORT: "0", LOG_FORMAT: "json" },
    });
    const lines: string[] = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
    });
    try {
      const ready = JSON.parse(await waitForLine(child, /Kestrel is listening/, lines)) as { url: string };
      const event = readFileSync(join(ROOT, "examples/events/terminal-shell.json"), "utf8");
      const res = await fetch(`${ready.url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: event });
      assert.equal(res.status, 200);
      const result = await waitForLine(child, /Success rule="Terminal shell in container"/, lines);
      assert.match(result, /pod nginx-7c5ddbdf54-x2x9z of namespace default/);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const out = lines.join("\n") + buffer;
      assert.match(out, /Events received: 1/);
      assert.match(out, /Terminal shell in container: 1/);
      assert.match(out, /success: 1/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("warns loudly when it listens on the network without authentication, and not with tokens", async () => {
    const start = async (env: Record<string, string>): Promise<string[]> => {
      const child = spawn(process.execPath, [BIN, "server", "-c", "examples/config.yaml", "-r", "examples/rules.yaml"], {
        cwd: ROOT,
        env: { PATH: process.env["PATH"] ?? "", LISTEN_ADDRESS: "0.0.0.0", LISTEN_PORT: "0", LOG_FORMAT: "json", ...env },
      });
      const lines: string[] = [];
      child.stdout.on("data", (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n")));
      try {
        await waitForLine(child, /Kestrel is listening/, lines);
        const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${code} ${signal}`)));
        child.kill("SIGTERM");
        assert.equal(await exited, "0 null", lines.join("\n"));
        return lines;
      } finally {
        child.kill("SIGKILL");
      }
    };
    const open = await start({});
    const warning = open.find((l) => l.includes("SECURITY"));
    assert.ok(warning, "a warning about the open intake");
    assert.equal((JSON.parse(warning) as { level: string }).level, "warn");
    assert.match(warning, /auth\.tokens/);
    const closed = await start({ AUTH_TOKENS: "s3cret-token" });
    assert.equal(closed.filter((l) => l.includes("SECURITY")).length, 0);
    assert.ok(!closed.join("\n").includes("s3cret-token"), "the token is never printed");
  });

  it("reloads the rules when the file changes (watch_rules) and on SIGHUP, keeping the last good rules", async () => {
    const rules = tempFile("rules.yaml", readFileSync(join(ROOT, "examples/rules.yaml"), "utf8"));
    const child = spawn(process.execPath, [BIN, "server", "-c", "examples/config.yaml", "-r", rules], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", LISTEN_PORT: "0", LOG_FORMAT: "json" },
    });
    const lines: string[] = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
    });
    const count = (msg: string) => lines.filter((l) => l.includes(`"msg":"${msg}"`)).length;
    const waitCount = async (msg: string, n: number) => {
      const end = Date.now() + 10_000;
      while (count(msg) < n) {
        if (Date.now() > end) throw new Error(`no ${n}× "${msg}" in:\n${lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      const ready = JSON.parse(await waitForLine(child, /Kestrel is listening/, lines)) as { url: string; watch_rules: boolean };
      assert.equal(ready.watch_rules, true);
      let posted = 0;
      const post = async (rule: string) => {
        const body = JSON.stringify({ rule, priority: "Warning", output: `event ${++posted}`, output_fields: {}, source: "syscall", time: "2026-11-23T10:00:00.000000000Z" });
        const res = await fetch(`${ready.url}/`, { method: "POST", headers: { "content-type": "application/json" }, body });
        return ((await res.json()) as { result: string }).result;
      };
      assert.equal(await post("Reloaded rule"), "unmatched");
      writeFileSync(rules, `- rule: Reloaded\n  match: { rules: [Reloaded rule] }\n  actions:\n    - action: Note\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`);
      await waitCount("rules reloaded", 1);
      assert.equal(await post("Reloaded rule"), "queued");
      writeFileSync(rules, "- rule: Broken\n  match: { rules: [Reloaded rule] }\n");
      await waitCount("the new rules are invalid: the previous rules stay in force", 1);
      assert.equal(await post("Reloaded rule"), "queued", "the last good rules");
      child.kill("SIGHUP");
      await waitCount("the new rules are invalid: the previous rules stay in force", 2);
      const metrics = await (await fetch(`${ready.url}/metrics`)).text();
      assert.match(metrics, /kestrel_rules_reload_total\{result="success"\} 1/);
      assert.match(metrics, /kestrel_rules_reload_total\{result="failure"\} 2/);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
