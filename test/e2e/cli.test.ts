// The `kestrel` command line, run as a process: exit codes and output.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type ModuleTrace, moduleTrace } from "../support/module-trace.ts";
import { KESTREL_BIN, startKestrelProcess } from "../support/process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function kestrel(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [KESTREL_BIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...env },
  });
}

/** The client libraries (≈ 0.5 s and 85 MB for client-node, 60 ms for nodemailer) are loaded only when a rule or notifier needs them. */
const CLIENT_LIBRARIES = [
  "/node_modules/@kubernetes/client-node/",
  "/node_modules/@aws-sdk/",
  "/node_modules/@google-cloud/",
  "/node_modules/nodemailer/",
];

/** The client libraries the traced process loaded, after a check that the trace works. */
function clientLibrariesLoaded(trace: ModuleTrace): string[] {
  assert.ok(trace.loaded("/src/cli/main.ts").length > 0, "the module trace records what the process loads");
  return CLIENT_LIBRARIES.filter((library) => trace.loaded(library).length > 0);
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "kestrel-cli-")), name);
  writeFileSync(file, text);
  return file;
}

describe("kestrel rules check", () => {
  it("accepts the example rules, without loading a client library", () => {
    const trace = moduleTrace();
    const r = kestrel(["rules", "check", "-r", "examples/rules.yaml"], trace.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rules valid: 3 rules/);
    assert.deepEqual(clientLibrariesLoaded(trace), []);
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
  it("stops quietly with exit code 0 when the reader closes the pipe (kestrel actionners list | head)", async () => {
    for (const args of [
      ["actionners", "list"],
      ["rules", "print", "-r", "examples/rules.yaml"],
    ]) {
      const child = spawn(process.execPath, [KESTREL_BIN, ...args], {
        cwd: ROOT,
        env: { PATH: process.env["PATH"] ?? "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.destroy(); // the reader is gone before the first write: that write fails with EPIPE
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      assert.equal(code, 0, `${args.join(" ")}: ${stderr}`);
      assert.equal(stderr, "");
    }
  });

  it("lists actionners and notifiers with parameters and examples", () => {
    const trace = moduleTrace();
    const a = kestrel(["actionners", "list"], trace.env);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /--- local:command ---/);
    assert.match(a.stdout, /name: command/);
    const n = kestrel(["notifiers", "list", "--json"]);
    const list = JSON.parse(n.stdout) as { name: string; parameters: { name: string; required: boolean }[] }[];
    const webhook = list.find((p) => p.name === "webhook")!;
    assert.ok(webhook.parameters.some((p) => p.name === "url" && p.required));
    assert.equal(kestrel(["outputs", "list"]).status, 0);
    assert.deepEqual(clientLibrariesLoaded(trace), [], "listing the plugins loads no client library");
  });

  it("prints the version and a completion script", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.match(kestrel(["version"]).stdout, new RegExp(`Kestrel ${pkg.version.replaceAll(".", "\\.")}`));
    assert.match(kestrel(["completion"]).stdout, /complete -F _kestrel kestrel/);
    assert.match(kestrel(["completion", "--shell", "zsh"]).stdout, /compdef _kestrel kestrel/);
  });

  it("takes the completion shell as its argument, as Talon's CLI and the script's own comment say", () => {
    const bash = kestrel(["completion", "bash"]);
    assert.equal(bash.status, 0, bash.stderr);
    assert.match(bash.stdout, /^# kestrel bash completion: source <\(kestrel completion bash\)/);
    assert.match(bash.stdout, /'rules'\) words="check print test/, "nested commands are completed");
    assert.equal(spawnSync("bash", ["-n"], { input: bash.stdout }).status, 0, "the bash script parses");
    assert.match(kestrel(["completion", "zsh"]).stdout, /^#compdef kestrel\n# kestrel zsh completion: source <\(kestrel completion zsh\)/);
    const fish = kestrel(["completion", "fish"]).stdout;
    assert.match(fish, /^# kestrel fish completion: kestrel completion fish \| source/);
    assert.match(fish, /complete -c kestrel -n '__fish_seen_subcommand_from rules' -a test /);
    const bad = kestrel(["completion", "powershell"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /value 'powershell' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish/);
  });

  it("shows the global flags -c and -r in every command's help, as Talon's Global Flags", () => {
    for (const args of [
      ["server"],
      ["rules"],
      ["rules", "check"],
      ["rules", "print"],
      ["rules", "test"],
      ["actionners", "list"],
      ["outputs", "list"],
      ["notifiers", "list"],
      ["version"],
      ["completion"],
    ]) {
      const r = kestrel([...args, "--help"]);
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /Global Options:\n(.*\n)*\s+-c, --config <file>/, args.join(" "));
      assert.match(r.stdout, /Global Options:\n(.*\n)*\s+-r, --rules <file>/, args.join(" "));
    }
  });

  it("lists only the plugins named (full name or category), as YAML or --format json", () => {
    const one = kestrel(["actionners", "list", "kubernetes:terminate", "local"]);
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual(
      [...one.stdout.matchAll(/^--- (.+) ---$/gm)].map((m) => m[1]),
      ["kubernetes:terminate", "local:command"],
    );
    const json = JSON.parse(kestrel(["notifiers", "list", "slack", "webhook", "--format", "json"]).stdout) as { name: string }[];
    assert.deepEqual(
      json.map((p) => p.name),
      ["webhook", "slack"],
    );
    const category = JSON.parse(kestrel(["actionners", "list", "kubernetes", "--format", "json"]).stdout) as { name: string }[];
    assert.ok(category.length > 5 && category.every((p) => p.name.startsWith("kubernetes:")));
    const unknown = kestrel(["outputs", "list", "aws:s4"]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no output "aws:s4" \(did you mean "aws:s3"\?\)/);
  });

  it("reads the rules files from RULES_FILES (comma-separated) when no -r is given, as Talon", () => {
    const override = tempFile("override.yaml", "- action: Record the alert\n  description: from RULES_FILES\n");
    const r = kestrel(["rules", "print"], { RULES_FILES: `examples/rules.yaml, ${override}` });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /description: from RULES_FILES/);
    const flag = kestrel(["rules", "print", "-r", "examples/rules.yaml"], { RULES_FILES: override });
    assert.doesNotMatch(flag.stdout, /from RULES_FILES/, "-r wins over RULES_FILES");
  });

  it("refuses an invalid configuration with file:line:col", () => {
    const config = tempFile("config.yaml", "listen_port: 2803\nlisten_adress: 0.0.0.0\n");
    const r = kestrel(["server", "-c", config, "-r", "examples/rules.yaml"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${config}:2:1: error .*listen_adress.*did you mean "listen_address"`));
  });
});

describe("kestrel server", () => {
  it("serves the quick start: acts on an example event, then drains and prints a summary on SIGTERM", async () => {
    const trace = moduleTrace();
    const env = { LISTEN_PORT: "0", LOG_FORMAT: "json", ...trace.env };
    const server = await startKestrelProcess({ config: "examples/config.yaml", rules: "examples/rules.yaml", env, timeoutMs: 10_000 });
    try {
      const event = readFileSync(join(ROOT, "examples/events/terminal-shell.json"), "utf8");
      const res = await server.post(event);
      assert.equal(res.status, 200);
      const result = await server.waitForLine(/Success rule="Terminal shell in container"/, 10_000);
      assert.match(result, /pod nginx-7c5ddbdf54-x2x9z of namespace default/);
      assert.equal(await server.stop(), 0);
      const out = server.lines.join("\n");
      assert.match(out, /Events received: 1/);
      assert.match(out, /Terminal shell in container: 1/);
      assert.match(out, /success: 1/);
      assert.deepEqual(clientLibrariesLoaded(trace), [], "rules with local actionners only load no client library");
    } finally {
      server.kill();
    }
  });

  it("warns loudly when it listens on the network without authentication, and not with tokens", async () => {
    const start = async (env: Record<string, string>): Promise<string[]> => {
      const server = await startKestrelProcess({
        config: "examples/config.yaml",
        rules: "examples/rules.yaml",
        env: { LISTEN_ADDRESS: "0.0.0.0", LISTEN_PORT: "0", LOG_FORMAT: "json", ...env },
        timeoutMs: 10_000,
      });
      try {
        assert.equal(await server.stop(), 0, server.lines.join("\n"));
        return server.lines;
      } finally {
        server.kill();
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
    const server = await startKestrelProcess({
      config: "examples/config.yaml",
      rules,
      env: { LISTEN_PORT: "0", LOG_FORMAT: "json" },
      timeoutMs: 10_000,
    });
    const count = (msg: string) => server.logs.filter((l) => l["msg"] === msg).length;
    const waitCount = (msg: string, n: number) => server.waitFor(() => count(msg) >= n, 10_000, `${n}× "${msg}"`);
    try {
      assert.equal(server.listening["watch_rules"], true);
      let posted = 0;
      const post = async (rule: string) => {
        const body = JSON.stringify({
          rule,
          priority: "Warning",
          output: `event ${++posted}`,
          output_fields: {},
          source: "syscall",
          time: "2026-11-23T10:00:00.000000000Z",
        });
        const res = await server.post(body);
        return ((await res.json()) as { result: string }).result;
      };
      assert.equal(await post("Reloaded rule"), "unmatched");
      writeFileSync(
        rules,
        `- rule: Reloaded\n  match: { rules: [Reloaded rule] }\n  actions:\n    - action: Note\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`,
      );
      await waitCount("rules reloaded", 1);
      assert.equal(await post("Reloaded rule"), "queued");
      writeFileSync(rules, "- rule: Broken\n  match: { rules: [Reloaded rule] }\n");
      await waitCount("the new rules are invalid: the previous rules stay in force", 1);
      assert.equal(await post("Reloaded rule"), "queued", "the last good rules");
      server.child.kill("SIGHUP");
      await waitCount("the new rules are invalid: the previous rules stay in force", 2);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /kestrel_rules_reload_total\{result="success"\} 1/);
      assert.match(metrics, /kestrel_rules_reload_total\{result="failure"\} 2/);
      assert.equal(await server.stop(), 0);
    } finally {
      server.kill();
    }
  });
});
