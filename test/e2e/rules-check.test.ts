// `kestrel rules check` is the server's own validation minus the network, run as processes: -c is read
// with -r, an unconfigured notifier is a positioned warning (an error with --strict) and its sends are
// skipped and counted by the server, positions are never invented, and the property: when
// `rules check -c C -r R…` exits 0, `server -c C -r R…` starts (every example and rules fixture).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type StsServer, startSts, TestAccount } from "../support/aws.ts";
import { type FakeGcp, startFakeGcp } from "../support/gcp.ts";
import { KESTREL_BIN } from "../support/process.ts";
import { until } from "../support/wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIR = mkdtempSync(join(tmpdir(), "kestrel-check-"));

function file(name: string, text: string): string {
  const path = join(DIR, name);
  writeFileSync(path, text);
  return path;
}

/** A kubeconfig naming a cluster nobody answers on: loading it is offline, as the start is. */
const KUBECONFIG = file(
  "kubeconfig",
  "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: 'https://127.0.0.1:1' }\nusers:\n- name: u\n  user: { token: t }\ncontexts:\n- name: x\n  context: { cluster: c, user: u }\ncurrent-context: x\n",
);
const BASE_ENV = { PATH: process.env["PATH"] ?? "", HOME: DIR, KUBECONFIG };

function kestrel(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [KESTREL_BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { ...BASE_ENV, ...env } });
}

/** Starts `server` with `args` on a free port; resolves with whether it listened (then SIGTERM) and its output. */
function serverStarts(args: string[], env: Record<string, string> = {}): Promise<{ listened: boolean; output: string; metrics?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KESTREL_BIN, "server", ...args], {
      cwd: ROOT,
      env: { ...BASE_ENV, LISTEN_PORT: "0", LISTEN_ADDRESS: "127.0.0.1", LOG_FORMAT: "json", WATCH_RULES: "false", ...env },
    });
    let output = "";
    let listened = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server neither listened nor exited within 15 s:\n${output}`));
    }, 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (!listened && output.includes("Kestrel is listening")) {
        listened = true;
        child.kill("SIGTERM");
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("close", () => {
      clearTimeout(timer);
      resolve({ listened, output });
    });
  });
}

describe("rules check -c", () => {
  it("reads the configuration even with -r: a missing or invalid file fails the check", () => {
    const missing = kestrel(["rules", "check", "-c", join(DIR, "nope.yaml"), "-r", "examples/rules.yaml"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read .*nope\.yaml/);
    const invalid = file("typo.yaml", "listen_port: 2803\nlisten_adress: 0.0.0.0\n");
    const r = kestrel(["rules", "check", "-c", invalid, "-r", "examples/rules.yaml"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${invalid}:2:1: error .*listen_adress.*did you mean "listen_address"`));
    assert.equal(kestrel(["rules", "check", "-c", "examples/config.yaml", "-r", "examples/rules.yaml"]).status, 0);
  });

  it("never prints an invented position", () => {
    const r = kestrel(["rules", "check", "-c", file("norules.yaml", "rules_files: []\n")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error no rules file/m);
    assert.doesNotMatch(r.stderr, /:0:0/);
  });
});

describe("a notifier a rule names but the configuration leaves unusable", () => {
  const rules = file(
    "slack-rules.yaml",
    "- rule: Shells\n  match: { rules: [Terminal shell in container] }\n  notifiers:\n    - slack\n  actions:\n    - action: Note\n      actionner: local:command\n      parameters: { command: [/bin/true] }\n",
  );
  // Talon's chart: slack with an empty webhookUrl.
  const config = file("slack-config.yaml", "default_notifiers: [stdout]\nnotifiers:\n  slack:\n    webhookurl: ''\n");

  it("is a warning at the rule's notifiers item; --strict and unconfigured_notifiers: error make it an error", () => {
    const r = kestrel(["rules", "check", "-c", config, "-r", rules]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${rules}:4:7: warning notifier "slack" is not configured .*webhook_url.*skipped`));
    const strict = kestrel(["rules", "check", "--strict", "-c", config, "-r", rules]);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, new RegExp(`${rules}:4:7: error notifier "slack" is not configured`));
    const refusing = kestrel(["rules", "check", "-c", config, "-r", rules], { UNCONFIGURED_NOTIFIERS: "error" });
    assert.equal(refusing.status, 1);
  });

  it("lets the server start with the same warning, and counts its skipped sends", async () => {
    const child = spawn(process.execPath, [KESTREL_BIN, "server", "-c", config, "-r", rules], {
      cwd: ROOT,
      env: { ...BASE_ENV, LISTEN_PORT: "0", LISTEN_ADDRESS: "127.0.0.1", LOG_FORMAT: "json", WATCH_RULES: "false" },
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    try {
      const deadline = Date.now() + 10_000;
      await until(() => output.includes("Kestrel is listening"), "Kestrel to listen", 10_000, {
        failIf: () => (child.exitCode === null ? undefined : `exited (${child.exitCode})`),
        detail: () => output,
      });
      assert.match(output, new RegExp(`${rules}:4:7: warning notifier "slack" is not configured`));
      const url = (JSON.parse(output.split("\n").find((l) => l.includes("Kestrel is listening"))!) as { url: string }).url;
      const event = {
        rule: "Terminal shell in container",
        priority: "Notice",
        output: "x",
        output_fields: {},
        source: "syscall",
        time: "2026-11-23T10:00:00.000000000Z",
      };
      assert.equal(
        (await fetch(url, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } })).status,
        200,
      );
      let metrics = "";
      const skipped = async (): Promise<boolean> => {
        metrics = await (await fetch(`${url}/metrics`)).text();
        return /kestrel_notifications_total\{notifier="slack",status="skipped"\} 1/.test(metrics);
      };
      await until(skipped, "the skipped slack notification to be counted", deadline - Date.now(), {
        intervalMs: 50,
        detail: () => metrics,
      });
      assert.doesNotMatch(output, /notification failed/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
    }
  });
});

describe("the property: when rules check -c C -r R… exits 0, server -c C -r R… starts", () => {
  const fixtures = "src/rules/__fixtures__";
  // `valid`: the setup must pass (the property is then exercised in its "starts" direction).
  const cases: { name: string; args: string[]; valid?: true }[] = [
    { name: "the example", valid: true, args: ["-c", "examples/config.yaml", "-r", "examples/rules.yaml"] },
    { name: "the example, no -c", args: ["-r", "examples/rules.yaml"] },
    {
      name: "capture-logs",
      valid: true,
      args: [
        "-c",
        "examples/config.yaml",
        "-r",
        `${fixtures}/capture-logs/base-rules.yaml`,
        "-r",
        `${fixtures}/capture-logs/override-rules.yaml`,
      ],
    },
    { name: "an invalid configuration", args: ["-c", file("bad.yaml", "workers: nope\n"), "-r", "examples/rules.yaml"] },
    {
      name: "AWS keys without their pair",
      args: [
        "-c",
        file("aws.yaml", "aws:\n  access_key: AKIA\n"),
        "-r",
        `${fixtures}/capture-logs/base-rules.yaml`,
        "-r",
        `${fixtures}/capture-logs/override-rules.yaml`,
      ],
    },
    {
      name: "an unconfigured notifier",
      args: [
        "-c",
        file("p-config.yaml", "notifiers:\n  webhook: {}\n"),
        "-r",
        file("p-rules.yaml", "- rule: R\n  match: {}\n  notifiers: [webhook]\n"),
      ],
    },
    {
      name: "an unusable default notifier",
      args: ["-c", file("d-config.yaml", "default_notifiers: [webhook]\n"), "-r", "examples/rules.yaml"],
    },
  ];
  // Talon's own rules fixture (every actionner and output Talon has): its MinIO and Google Cloud settings
  // are written in before(), the key file pointing at the local Google Cloud test servers.
  const talonConfig = join(DIR, "talon-config.yaml");
  cases.push({
    name: "Talon's rules fixture",
    valid: true,
    args: ["-c", talonConfig, "-r", `${fixtures}/talon/rules.yaml`, "-r", `${fixtures}/talon/rules_override.yaml`],
  });
  let gcp: FakeGcp | undefined;
  // The AWS credentials the capture-logs fixture's aws:s3 output needs, verified by a local STS at start.
  let sts: StsServer | undefined;
  let awsEnv: Record<string, string> = {};
  before(async () => {
    const account = new TestAccount();
    const user = account.addUser("kestrel");
    sts = await startSts(account);
    gcp = await startFakeGcp();
    const key = await gcp.writeKeyFile(DIR);
    writeFileSync(
      talonConfig,
      `minio:\n  endpoint: 127.0.0.1:9\n  access_key: minio\n  secret_key: minio-secret-key\ngcp:\n  credentials_path: ${key}\n  storage_endpoint: ${gcp.storageUrl}\n  functions_endpoint: ${gcp.functionsApiUrl}\n`,
    );
    awsEnv = {
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
      AWS_REGION: "eu-west-3",
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_SHARED_CREDENTIALS_FILE: join(DIR, "no-credentials"),
      AWS_CONFIG_FILE: join(DIR, "no-config"),
    };
  });
  after(async () => {
    await sts?.close();
    await gcp?.close();
  });
  for (const c of cases) {
    it(c.name, async () => {
      const check = kestrel(["rules", "check", ...c.args], awsEnv);
      if (c.valid === true) assert.equal(check.status, 0, check.stderr);
      const started = await serverStarts(c.args, awsEnv);
      if (check.status === 0) assert.ok(started.listened, `rules check passed but the server did not start:\n${started.output}`);
      else assert.ok(!started.listened, `rules check failed but the server started:\n${check.stderr}`);
    });
  }
});
