import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { z } from "zod";
import { testPki } from "../../test/support/tls.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Registries } from "../plugins/registry.ts";
import { Registry } from "../plugins/registry.ts";
import type { Actionner, ContextProvider, Notifier, Output } from "../plugins/types.ts";
import { type Diagnostic, formatDiagnostic } from "../yaml/source.ts";
import { configEnvVars, type LoadConfigOptions, loadConfig } from "./load.ts";

// Test notifiers with the settings of Talon's webhook notifier and a small stdout one, so that these tests
// do not depend on how the shipped notifiers evolve.
const webhook = defineNotifier({
  name: "webhook",
  description: "test webhook",
  example: "url: https://example.com/hook",
  params: z.object({
    url: z.url(),
    http_method: z.enum(["POST", "PUT", "GET"]).default("POST"),
    content_type: z.string().default("application/json; charset=utf-8"),
    user_agent: z.string().default("falco-talon"),
    custom_headers: z.record(z.string(), z.string()).default({}),
  }),
  create: () => ({ send: async () => {} }),
});
const stdout = defineNotifier({
  name: "stdout",
  description: "test stdout",
  example: "format: json",
  params: z.object({ format: z.enum(["json", "text"]).default("json") }),
  create: () => ({ send: async () => {} }),
});

const registries: Registries = {
  actionners: new Registry<Actionner>("actionners", []),
  outputs: new Registry<Output>("outputs", []),
  notifiers: new Registry<Notifier>("notifiers", [webhook as Notifier, stdout as Notifier]),
  contexts: new Registry<ContextProvider>("contexts", []),
};

let dir = "";
let fileCount = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kestrel-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(yaml: string | undefined, env: Record<string, string> = {}, extra: Partial<LoadConfigOptions> = {}) {
  const options: LoadConfigOptions = { registries, env, ...extra };
  if (yaml !== undefined) {
    options.file = join(dir, `config-${++fileCount}.yaml`);
    await writeFile(options.file, yaml);
  }
  return { file: options.file ?? "", ...(await loadConfig(options)) };
}

const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === "error");
const warnings = (ds: Diagnostic[]) => ds.filter((d) => d.severity === "warning");

// Talon's config_example.yaml (repository root), as described in talon-behaviour.md §5.2.
const talonConfigExample = `listen_address: "0.0.0.0"
listen_port: "2803"
rules_files:
  - "./rules.yaml"
log_format: color
watch_rules: true
print_all_events: true
otel:
  traces_enabled: true
  metrics_enabled: true
  collector_port: 4317
  collector_endpoint: localhost
  collector_use_insecure_grpc: true
  timeout: 10
deduplication:
  leader_election: true
  time_window_seconds: 5
default_notifiers:
  - k8sevents
notifiers:
  slack:
    webhook_url: "https://hooks.slack.com/services/XXXX"
    footer: ""
    format: long
`;

// The example of Talon's documentation ("3 - Configuration"), with its comments and its `rules_file` typo,
// minus the notifiers Kestrel does not ship yet (k8sevents, slack, smtp).
const talonDocsExample = `listen_address: "0.0.0.0" # default: "0.0.0.0"
listen_port: "2803" # default: "2803"
rules_file:
  - "./rules.yaml" # default: "./rules.yaml"
# kubeConfig: "~/.kube/config" # only if Falco Talon is running outside Kubernetes
log_format: "color" # log format: text, color, json (default: color)
watch_rules: true # reload if the rules file changes (default: true)
print_all_events: true # print in logs all received events, not only those which match

otel: # OTEL
  traces_enabled: true # enable the traces
  metrics_enabled: true # enables the metrics
  collector_endpoint: localhost # listen address of the OTEL Collector
  collector_port: 4317 # listen port of the OTEL Collector
  collector_use_insecure_grpc: false # enable insecure gRPC connection
  timeout: 10 # timeout in seconds

deduplication:
  leader_election: true # enable the leader election for cluster mode (in k8s only)
  time_window_seconds: 5 # duration in seconds for the deduplication time window (default: 5)

aws:
  role_arn: arn:aws:iam::<account_number>:role/<role_name> # role to assume
  external_id: <external_id> # external id
  region: <region> # if not specified, default region from provider credential chain will be used
  access_key: <access_key> # if not specified, default access_key from provider credential chain will be used
  secret_key: <secret_key> # if not specified, default secret_key from provider credential chain will be used

minio:
  endpoint: <endpoint> # endpoint
  access_key: <access_key> # access key
  secret_key: <secret_key> # secret key
  use_ssl: false # use SSL

notifiers:
  webhook:
    url: "" # address of the webhook endpoint
`;

describe("loadConfig: defaults", () => {
  test("no file gives Talon's defaults and Kestrel's own", async () => {
    const { config, diagnostics } = await load(undefined);
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.listen_port, 2803);
    assert.equal(config.listen_address, "0.0.0.0");
    assert.equal(config.deduplication.time_window_seconds, 5);
    assert.equal(config.log_format, process.stdout.isTTY ? "color" : "text", "color on a terminal only (src/config/log-format.test.ts)");
    assert.equal(config.log_level, "info");
    assert.equal(config.print_all_events, false);
    assert.equal(config.watch_rules, true);
    assert.equal(config.kubeconfig, "");
    assert.deepEqual(config.default_notifiers, []);
    assert.deepEqual(config.notifiers, {});
    assert.equal(config.otel.collector_port, "4317");
    assert.equal(config.otel.timeout, 10);
    assert.equal(config.minio.use_ssl, false);
    assert.equal(config.queue.size, 10000);
    assert.equal(config.workers, 16);
    assert.equal(config.file, "");
  });

  test("the config is deeply frozen", async () => {
    const { config } = await load("rules_files: [a.yaml]\n");
    assert.ok(config);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.deduplication));
    assert.ok(Object.isFrozen(config.otel));
    assert.ok(Object.isFrozen(config.rules_files));
    assert.throws(() => {
      (config.rules_files as string[]).push("b.yaml");
    }, TypeError);
  });

  test("an empty file gives the defaults and records the file", async () => {
    const { config, diagnostics, file } = await load("# nothing here\n");
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.listen_port, 2803);
    assert.equal(config?.file, file);
  });

  test("a missing file gives the defaults unless it is required", async () => {
    const missing = join(dir, "does-not-exist.yaml");
    const optional = await loadConfig({ file: missing, env: {}, registries });
    assert.deepEqual(optional.diagnostics, []);
    assert.equal(optional.config?.listen_port, 2803);
    assert.equal(optional.config?.file, "");

    const required = await loadConfig({ file: missing, env: {}, registries, requireFile: true });
    assert.equal(required.config, undefined);
    assert.equal(required.diagnostics.length, 1);
    assert.equal(required.diagnostics[0]?.severity, "error");
    assert.equal(required.diagnostics[0]?.file, missing);
    assert.equal(required.diagnostics[0]?.message, `cannot read ${missing}: no such file`);
  });

  test("a directory is not readable even when the file is optional", async () => {
    const { config, diagnostics } = await loadConfig({ file: dir, env: {}, registries });
    assert.equal(config, undefined);
    assert.match(diagnostics[0]?.message ?? "", /^cannot read .*: it is a directory$/);
  });

  test("a FIFO or an oversized file is refused at once (a FIFO used to hang the loader)", async () => {
    const fifo = join(dir, "config-fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    const piped = await loadConfig({ file: fifo, env: {}, registries });
    assert.equal(piped.config, undefined);
    assert.equal(piped.diagnostics[0]?.message, `cannot read ${fifo}: it is a named pipe (FIFO), not a regular file`);

    const big = join(dir, "config-big.yaml");
    await writeFile(big, "");
    await truncate(big, 17 * 1024 * 1024); // sparse: nothing is written, nothing is parsed
    const huge = await loadConfig({ file: big, env: {}, registries });
    assert.equal(huge.config, undefined);
    assert.equal(huge.diagnostics[0]?.message, `cannot read ${big}: it is larger than the 16 MiB limit (17 MiB)`);
  });

  test("a garbage listen_address is one diagnostic naming LISTEN_ADDRESS or the file's line", async () => {
    const fromEnv = await loadConfig({ env: { LISTEN_ADDRESS: "not an address!" }, registries });
    assert.equal(fromEnv.config, undefined);
    assert.deepEqual(fromEnv.diagnostics.map(formatDiagnostic), [
      `env:LISTEN_ADDRESS: error listen_address: "not an address!" is not an IP address or a host name (ERR_CONFIG_INVALID)`,
    ]);
    const file = join(dir, "listen.yaml");
    await writeFile(file, "listen_port: 2803\nlisten_address: 'http://0.0.0.0'\n");
    const fromFile = await loadConfig({ file, env: {}, registries });
    assert.deepEqual(fromFile.diagnostics.map(formatDiagnostic), [
      `${file}:2:17: error listen_address: "http://0.0.0.0" is not an IP address or a host name (ERR_CONFIG_INVALID)`,
    ]);
    for (const good of ["0.0.0.0", "::", "fd00::1", "localhost", "kestrel.falco.svc.cluster.local"]) {
      const { config } = await loadConfig({ env: { LISTEN_ADDRESS: good }, registries });
      assert.equal(config?.listen_address, good);
    }
  });
});

describe("loadConfig: Talon's configuration files", () => {
  test("config_example.yaml loads unchanged, minus the notifiers Kestrel does not ship", async () => {
    const yaml = talonConfigExample
      .replace("default_notifiers:\n  - k8sevents\n", "default_notifiers:\n  - webhook\n")
      .replace(/notifiers:\n {2}slack:[\s\S]*$/, 'notifiers:\n  webhook:\n    url: "https://example.com/hook"\n');
    const { config, diagnostics } = await load(yaml);
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.listen_port, 2803);
    assert.deepEqual(config.rules_files, ["./rules.yaml"]);
    assert.equal(config.print_all_events, true);
    assert.equal(config.otel.traces_enabled, true);
    assert.equal(config.otel.collector_port, "4317");
    assert.equal(config.otel.collector_use_insecure_grpc, true);
    assert.equal(config.deduplication.leader_election, true);
    assert.deepEqual(config.default_notifiers, ["webhook"]);
    assert.deepEqual(config.notifiers["webhook"], {
      url: "https://example.com/hook",
      http_method: "POST",
      content_type: "application/json; charset=utf-8",
      user_agent: "falco-talon",
      custom_headers: {},
    });
  });

  test("in config_example.yaml as is, only the unshipped notifiers are errors, at their lines", async () => {
    const { config, diagnostics, file } = await load(talonConfigExample);
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.file, d.line, d.column, d.code, d.message]),
      [
        [file, 19, 5, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "k8sevents"'],
        [file, 21, 3, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "slack"'],
      ],
    );
  });

  test("the documentation's example loads, with warnings for its typo and its empty webhook URL", async () => {
    const { config, diagnostics, file } = await load(talonDocsExample);
    assert.deepEqual(errors(diagnostics), []);
    assert.ok(config);
    assert.deepEqual(config.rules_files, ["./rules.yaml"]);
    assert.equal(config.aws.role_arn, "arn:aws:iam::<account_number>:role/<role_name>");
    assert.equal(config.aws.secret_key, "<secret_key>");
    assert.equal(config.minio.endpoint, "<endpoint>");
    assert.equal(config.minio.use_ssl, false);
    assert.equal(config.notifiers["webhook"], undefined);
    assert.deepEqual(
      warnings(diagnostics).map((d) => [d.file, d.line, d.column, d.message]),
      [
        [file, 3, 1, '"rules_file" is read as "rules_files" (Talon ignores "rules_file")'],
        [
          file,
          36,
          3,
          'notifier "webhook" cannot be used: it needs "url" (no default_notifiers entry uses it; rules that name it skip it, with a warning, unless unconfigured_notifiers is "error")',
        ],
      ],
    );
  });

  test("keys are case-insensitive, as with viper", async () => {
    const { config, diagnostics } = await load("kubeConfig: /root/.kube/config\nOTEL:\n  Timeout: 3\n");
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.kubeconfig, "/root/.kube/config");
    assert.equal(config?.otel.timeout, 3);
  });

  test("a key written twice in different case is an error", async () => {
    const { config, diagnostics, file } = await load("listen_port: 1\nListen_Port: 2\n");
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.file, d.line, d.column, d.message]),
      [[file, 2, 1, 'duplicate key "Listen_Port" (keys are case-insensitive, as in Talon)']],
    );
  });

  test("an empty value means the default, as with viper", async () => {
    const { config, diagnostics } = await load("kubeconfig:\notel:\naws:\ndefault_notifiers:\n");
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.kubeconfig, "");
    assert.equal(config?.otel.timeout, 10);
    assert.deepEqual(config?.default_notifiers, []);
  });
});

describe("loadConfig: environment variables", () => {
  test("env vars override the file, with Talon's names", async () => {
    const yaml = "listen_port: 2803\nprint_all_events: false\nwatch_rules: true\nnotifiers:\n  webhook:\n    url: https://a.example\n";
    const { config, diagnostics } = await load(yaml, {
      LISTEN_PORT: "9999",
      LISTEN_ADDRESS: "127.0.0.1",
      DEFAULT_NOTIFIERS: "webhook, stdout",
      RULES_FILES: "a.yaml,b.yaml",
      PRINT_ALL_EVENTS: "true",
      WATCH_RULES: "False",
      OTEL_TRACES_ENABLED: "1",
      OTEL_TIMEOUT: "3",
      DEDUPLICATION_TIME_WINDOW_SECONDS: "0",
      AWS_REGION: "eu-west-3",
      MINIO_USE_SSL: "true",
      LOG_LEVEL: "DEBUG",
      LOG_FORMAT: "json",
      QUEUE_SIZE: "5",
      WORKERS: "2",
      BODY_LIMIT_BYTES: "1000",
      NOTIFIERS_WEBHOOK_URL: "https://b.example/hook",
      NOTIFIERS_WEBHOOK_CUSTOM_HEADERS: "x-token=abc,x-team=sec",
      KUBECONFIG: "",
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.listen_port, 9999);
    assert.equal(config.listen_address, "127.0.0.1");
    assert.deepEqual(config.default_notifiers, ["webhook", "stdout"]);
    assert.deepEqual(config.rules_files, ["a.yaml", "b.yaml"]);
    assert.equal(config.print_all_events, true);
    assert.equal(config.watch_rules, false);
    assert.equal(config.otel.traces_enabled, true);
    assert.equal(config.otel.timeout, 3);
    assert.equal(config.deduplication.time_window_seconds, 0);
    assert.equal(config.aws.region, "eu-west-3");
    assert.equal(config.minio.use_ssl, true);
    assert.equal(config.log_level, "debug");
    assert.equal(config.log_format, "json");
    assert.equal(config.queue.size, 5);
    assert.equal(config.workers, 2);
    assert.equal(config.body_limit_bytes, 1000);
    assert.equal(config.kubeconfig, "", "an empty env var is ignored, as by viper");
    assert.equal(config.notifiers["webhook"]?.["url"], "https://b.example/hook");
    assert.deepEqual(config.notifiers["webhook"]?.["custom_headers"], { "x-token": "abc", "x-team": "sec" });
    assert.deepEqual(config.notifiers["stdout"], { format: "json" }, "a default notifier without settings gets its defaults");
  });

  test("notifier settings can come from env alone", async () => {
    const { config, diagnostics } = await load(undefined, { NOTIFIERS_WEBHOOK_URL: "https://c.example" });
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.notifiers["webhook"]?.["url"], "https://c.example");
  });

  test("an env value that fails validation is located at env:NAME", async () => {
    const { config, diagnostics } = await load("listen_port: 2803\n", {
      LISTEN_PORT: "http",
      WATCH_RULES: "yes",
      DEFAULT_NOTIFIERS: "webhok",
      NOTIFIERS_WEBHOOK_URL: "not a url",
    });
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.file, d.line, d.column, d.severity, d.message]),
      [
        ["env:LISTEN_PORT", 0, 0, "error", "listen_port: must be a port number"],
        ["env:WATCH_RULES", 0, 0, "error", "watch_rules: must be a boolean (true or false)"],
        ["env:DEFAULT_NOTIFIERS", 0, 0, "error", 'unknown notifier "webhok" (did you mean "webhook"?)'],
        ["env:NOTIFIERS_WEBHOOK_URL", 0, 0, "error", "notifiers.webhook.url: Invalid URL"],
      ],
    );
    assert.equal(formatDiagnostic(diagnostics[0]!), "env:LISTEN_PORT: error listen_port: must be a port number (ERR_CONFIG_INVALID)");
  });

  test("the env var names come from the schema and the registered notifiers", () => {
    const names = configEnvVars(registries).map((v) => v.name);
    for (const n of [
      "LISTEN_PORT",
      "LISTEN_ADDRESS",
      "RULES_FILES",
      "WATCH_RULES",
      "PRINT_ALL_EVENTS",
      "KUBECONFIG",
      "LOG_FORMAT",
      "LOG_LEVEL",
      "DEFAULT_NOTIFIERS",
      "DEDUPLICATION_LEADER_ELECTION",
      "DEDUPLICATION_TIME_WINDOW_SECONDS",
      "OTEL_TRACES_ENABLED",
      "OTEL_COLLECTOR_USE_INSECURE_GRPC",
      "AWS_ROLE_ARN",
      "AWS_EXTERNAL_ID",
      "AWS_REGION",
      "AWS_ACCESS_KEY",
      "AWS_SECRET_KEY",
      "GCP_CREDENTIALS_PATH",
      "MINIO_ENDPOINT",
      "QUEUE_SIZE",
      "WORKERS",
      "ACTION_TIMEOUT_SECONDS",
      "SHUTDOWN_TIMEOUT_SECONDS",
      "BODY_LIMIT_BYTES",
      "TLS_CERT_FILE",
      "TLS_KEY_FILE",
      "TLS_CLIENT_CA_FILE",
      "AUTH_TOKENS",
      "AUTH_TOKENS_FILE",
      "LIMITS_EVENTS_PER_SECOND",
      "NOTIFIERS_WEBHOOK_URL",
      "NOTIFIERS_WEBHOOK_HTTP_METHOD",
      "NOTIFIERS_STDOUT_FORMAT",
    ]) {
      assert.ok(names.includes(n), `${n} is read`);
    }
    assert.ok(!names.includes("NOTIFIERS"), "the notifiers map itself has no env var");
    assert.equal(new Set(names).size, names.length, "no two keys share an env var");
  });
});

describe("loadConfig: errors in the file", () => {
  test("unknown keys are errors at their position, with did-you-mean", async () => {
    const yaml = "listen_address: 127.0.0.1\nlisen_port: 2803\ndeduplication:\n  time_window_secs: 3\nzzzz: 1\n";
    const { config, diagnostics, file } = await load(yaml);
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.code, d.message]),
      [
        [2, 1, "ERR_CONFIG_INVALID", 'unknown key "lisen_port" (did you mean "listen_port"?)'],
        [4, 3, "ERR_CONFIG_INVALID", 'unknown key "deduplication.time_window_secs" (did you mean "time_window_seconds"?)'],
        [5, 1, "ERR_CONFIG_INVALID", 'unknown key "zzzz"'],
      ],
    );
    assert.equal(
      formatDiagnostic(diagnostics[0]!),
      `${file}:2:1: error unknown key "lisen_port" (did you mean "listen_port"?) (ERR_CONFIG_INVALID)`,
    );
  });

  test("a wrong type is an error at the value", async () => {
    const yaml = "listen_port: 2803\nwatch_rules: maybe\notel:\n  timeout: soon\nrules_files:\n  - a.yaml\n  - 3\nlog_format: xml\n";
    const { config, diagnostics } = await load(yaml);
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.message]),
      [
        [2, 14, "watch_rules: must be a boolean (true or false)"],
        [4, 12, "otel.timeout: must be a number ≥ 0"],
        [7, 5, "rules_files[1]: Invalid input: expected string, received number"],
        [8, 13, "log_format: must be one of color, text, json"],
      ],
    );
  });

  test("a value of the wrong kind gets the key's own message", async () => {
    const { config, diagnostics } = await load("listen_port: 70000\nrules_files: 3\nworkers: 0\nlog_level: loud\n");
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.message]),
      [
        [1, 14, "listen_port: must be a port number (0-65535)"],
        [2, 14, "rules_files: must be a list of strings (or a comma-separated string)"],
        [3, 10, "workers: must be a positive integer"],
        [4, 12, "log_level: must be one of trace, debug, info, warn, error, fatal, silent"],
      ],
    );
  });

  test("log_format and log_level are case-insensitive", async () => {
    const { config, diagnostics } = await load("log_format: JSON\nlog_level: Warning\n");
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.log_format, "json");
    assert.equal(config?.log_level, "warn");
  });

  test("a syntax error stops the load at its position", async () => {
    const { config, diagnostics, file } = await load("listen_port: 2803\nwatch_rules: [true\n");
    assert.equal(config, undefined);
    assert.ok(diagnostics.length >= 1);
    assert.equal(diagnostics[0]?.file, file);
    assert.equal(diagnostics[0]?.severity, "error");
    assert.ok((diagnostics[0]?.line ?? 0) >= 2);
  });

  test("a document that is not a mapping is an error", async () => {
    const { config, diagnostics } = await load("- listen_port: 2803\n");
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.message]),
      [[1, 1, "the configuration must be a mapping of keys to values"]],
    );
  });

  test("every problem is reported, not only the first", async () => {
    const yaml = "lisen_port: 1\nwatch_rules: maybe\nnotifiers:\n  slak: {}\ndefault_notifiers: [nope]\n";
    const { diagnostics } = await load(yaml);
    assert.deepEqual(
      diagnostics.map((d) => d.line),
      [1, 2, 4, 5],
    );
  });
});

describe("loadConfig: notifiers", () => {
  test("an unknown notifier is an error at its name, with did-you-mean", async () => {
    const yaml = "default_notifiers:\n  - stdout\n  - webhok\nnotifiers:\n  webhok:\n    url: https://x.example\n";
    const { config, diagnostics } = await load(yaml);
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.code, d.message]),
      [
        [3, 5, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "webhok" (did you mean "webhook"?)'],
        [5, 3, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "webhok" (did you mean "webhook"?)'],
      ],
    );
  });

  test("settings are validated with the notifier's own schema", async () => {
    const yaml = [
      "notifiers:",
      "  webhook:",
      "    url: not a url",
      "    urll: https://x.example",
      "    http_method: PATCH",
      "    custom_headers: 3",
      "",
    ].join("\n");
    const { config, diagnostics } = await load(yaml);
    assert.equal(config, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.line, d.column, d.code, d.message]),
      [
        [3, 10, "ERR_PARAMS_INVALID", "notifiers.webhook.url: Invalid URL"],
        [4, 5, "ERR_PARAMS_INVALID", 'unknown setting "notifiers.webhook.urll" of notifier "webhook" (did you mean "url"?)'],
        [5, 18, "ERR_PARAMS_INVALID", 'notifiers.webhook.http_method: Invalid option: expected one of "POST"|"PUT"|"GET"'],
        [6, 21, "ERR_PARAMS_INVALID", "notifiers.webhook.custom_headers: Invalid input: expected record, received number"],
      ],
    );
  });

  test("valid settings get the notifier's defaults; a null value means {}", async () => {
    const yaml = 'notifiers:\n  stdout:\n  webhook:\n    URL: https://x.example\n    http_method: PUT\n    user_agent: ""\n';
    const { config, diagnostics } = await load(yaml);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(config?.notifiers["stdout"], { format: "json" });
    assert.deepEqual(config?.notifiers["webhook"], {
      url: "https://x.example",
      http_method: "PUT",
      content_type: "application/json; charset=utf-8",
      user_agent: "falco-talon",
      custom_headers: {},
    });
    assert.ok(Object.isFrozen(config?.notifiers["webhook"]));
  });

  test("a default notifier missing a required setting is an error", async () => {
    const inFile = await load("default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    http_method: PUT\n");
    assert.equal(inFile.config, undefined);
    assert.deepEqual(
      inFile.diagnostics.map((d) => [d.line, d.column, d.severity, d.message]),
      [[4, 5, "error", "notifiers.webhook.url: Invalid input: expected string, received undefined"]],
    );

    const absent = await load("default_notifiers:\n  - webhook\n");
    assert.equal(absent.config, undefined);
    assert.deepEqual(
      absent.diagnostics.map((d) => [d.line, d.column, d.code, d.message]),
      [[2, 5, "ERR_PARAMS_INVALID", 'notifier "webhook" has no settings: notifiers.webhook needs "url"']],
    );
  });
});

describe("loadConfig: securing the intake", () => {
  test("off by default: no TLS, no tokens, no rate limit", async () => {
    const { config } = await load(undefined);
    assert.ok(config);
    assert.deepEqual(config.tls, { cert_file: "", key_file: "", client_ca_file: "" });
    assert.deepEqual(config.auth, { tokens: [], tokens_file: "" });
    assert.deepEqual(config.limits, { events_per_second: 0, burst: 0, header_timeout_seconds: 10 });
  });

  test("a certificate without its key, or a client CA without a server certificate, is an error at its line", async () => {
    const half = await load("listen_port: 2803\ntls:\n  cert_file: /etc/kestrel/tls.crt\n");
    assert.equal(half.config, undefined);
    assert.match(formatDiagnostic(errors(half.diagnostics)[0]!), /:3:\d+: error .*tls\.key_file.*cert_file and key_file go together/);
    const ca = await load("tls:\n  client_ca_file: /etc/kestrel/ca.crt\n");
    assert.match(formatDiagnostic(errors(ca.diagnostics)[0]!), /tls\.client_ca_file.*mutual TLS needs/);
  });

  test("tokens from the file or from env, comma-separated", async () => {
    const { config } = await load("auth:\n  tokens: [a, b]\n", { AUTH_TOKENS: "x,y", LIMITS_EVENTS_PER_SECOND: "50" });
    assert.ok(config);
    assert.deepEqual(config.auth.tokens, ["x", "y"]);
    assert.equal(config.limits.events_per_second, 50);
  });
});

describe("loadConfig: env overrides that would switch authentication or TLS off", () => {
  /** The error diagnostics as `env:NAME: message`, and whether the config was refused. */
  async function refused(yaml: string, env: Record<string, string>): Promise<string[]> {
    const { config, diagnostics } = await load(yaml, env);
    assert.equal(config, undefined, "the server would not start");
    return errors(diagnostics).map((d) => `${d.file}: ${d.message}`);
  }

  test("AUTH_TOKENS of blanks or commas would replace the file's tokens with none: an error naming it", async () => {
    for (const value of [" ", ",", " , ,  "]) {
      const found = await refused("auth:\n  tokens: [file-token-AAAA]\n", { AUTH_TOKENS: value });
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0]!, /^env:AUTH_TOKENS: auth\.tokens: the variable holds no token/);
    }
    // Without tokens in the file as well: a variable set to nothing is a mistake either way.
    assert.match((await refused("", { AUTH_TOKENS: "," }))[0]!, /^env:AUTH_TOKENS: /);
  });

  test("a token no Authorization header can carry is an error, without the token in the message", async () => {
    const found = await refused("", { AUTH_TOKENS: "good-token-1,bad token,caf\u00e9-token" });
    assert.deepEqual(found, [
      "env:AUTH_TOKENS: auth.tokens: token 2 has a character no Authorization header can carry (a space, a control or non-ASCII character)",
      "env:AUTH_TOKENS: auth.tokens: token 3 has a character no Authorization header can carry (a space, a control or non-ASCII character)",
    ]);
  });

  test("AUTH_TOKENS_FILE blank, unreadable or without a token is an error naming it", async () => {
    const comments = join(dir, "tokens-comments");
    await writeFile(comments, "# rotated soon\n\n");
    const good = join(dir, "tokens-good");
    await writeFile(good, "file-token-1\n");
    assert.match(
      (await refused("", { AUTH_TOKENS_FILE: "   " }))[0]!,
      /^env:AUTH_TOKENS_FILE: auth\.tokens_file: the variable holds only blanks/,
    );
    assert.match(
      (await refused("", { AUTH_TOKENS_FILE: join(dir, "missing") }))[0]!,
      /^env:AUTH_TOKENS_FILE: auth\.tokens_file: cannot read '.*missing'/,
    );
    assert.match(
      (await refused("", { AUTH_TOKENS_FILE: comments }))[0]!,
      /^env:AUTH_TOKENS_FILE: auth\.tokens_file: '.*' holds no usable token/,
    );
    const { config, diagnostics } = await load("", { AUTH_TOKENS_FILE: good });
    assert.deepEqual(errors(diagnostics), []);
    assert.equal(config?.auth.tokens_file, good);
  });

  test("a TLS file set from env that is blank, unreadable or unusable is an error naming its variable", async () => {
    const pki = testPki();
    const garbage = join(dir, "not-a-ca.pem");
    await writeFile(garbage, "hello\n");
    const fileTls = `tls:\n  cert_file: ${pki.server.certFile}\n  key_file: ${pki.server.keyFile}\n`;
    assert.match(
      (await refused(fileTls, { TLS_CERT_FILE: "  " })).join("\n"),
      /env:TLS_CERT_FILE: tls\.cert_file: the variable holds only blanks/,
    );
    assert.deepEqual(await refused(fileTls, { TLS_KEY_FILE: join(dir, "missing.key") }), [
      `env:TLS_KEY_FILE: tls.key_file: cannot read '${join(dir, "missing.key")}': no such file`,
    ]);
    const mismatch = await refused(fileTls, { TLS_KEY_FILE: pki.client.keyFile });
    assert.match(
      mismatch.join("\n"),
      /^env:TLS_KEY_FILE: tls\.key_file: the HTTPS server cannot use the certificate and key: .*key values mismatch/,
    );
    const ca = await refused(fileTls, { TLS_CLIENT_CA_FILE: garbage });
    assert.match(ca.join("\n"), /^env:TLS_CLIENT_CA_FILE: tls\.client_ca_file: '.*not-a-ca\.pem' holds no PEM certificate/);
    // Usable files from env are fine, alone or over the file's.
    const fromEnv = await load(fileTls, {
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      TLS_CLIENT_CA_FILE: pki.caFile,
    });
    assert.deepEqual(errors(fromEnv.diagnostics), []);
    assert.equal(fromEnv.config?.tls.client_ca_file, pki.caFile);
  });
});

describe("loadConfig: cluster (leader election timing)", () => {
  test("client-go's defaults, and the timings must nest", async () => {
    const { config } = await load(undefined);
    assert.ok(config);
    assert.deepEqual(config.cluster, {
      nats_url: "",
      stream: "KESTREL_EVENTS",
      ack_wait_seconds: 30,
      max_deliver: 5,
      lease_name: "kestrel",
      lease_namespace: "",
      identity: "",
      lease_duration_seconds: 15,
      renew_deadline_seconds: 10,
      retry_period_seconds: 2,
    });
    const bad = await load("cluster:\n  lease_duration_seconds: 5\n  renew_deadline_seconds: 8\n");
    assert.equal(bad.config, undefined);
    assert.match(
      formatDiagnostic(errors(bad.diagnostics)[0]!),
      /cluster\.renew_deadline_seconds.*retry_period_seconds < renew_deadline_seconds < lease_duration_seconds/,
    );
  });
});

describe("loadConfig: deduplication.leader_election", () => {
  test("unset: false outside Kubernetes, true inside", async () => {
    const outside = await load(undefined, {});
    assert.equal(outside.config?.deduplication.leader_election, false);
    const inside = await load(undefined, { KUBERNETES_SERVICE_HOST: "10.96.0.1" });
    assert.equal(inside.config?.deduplication.leader_election, true);
    const emptyHost = await load(undefined, { KUBERNETES_SERVICE_HOST: "" });
    assert.equal(emptyHost.config?.deduplication.leader_election, false);
  });

  test("set in the file or env: as set, wherever it runs", async () => {
    const file = await load("deduplication:\n  leader_election: false\n", { KUBERNETES_SERVICE_HOST: "10.96.0.1" });
    assert.equal(file.config?.deduplication.leader_election, false);
    const env = await load(undefined, { DEDUPLICATION_LEADER_ELECTION: "true" });
    assert.equal(env.config?.deduplication.leader_election, true);
    const both = await load("deduplication:\n  leader_election: true\n", {
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      DEDUPLICATION_LEADER_ELECTION: "false",
    });
    assert.equal(both.config?.deduplication.leader_election, false);
  });
});
