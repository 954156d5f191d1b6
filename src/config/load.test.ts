// loadConfig as a whole: the defaults, Talon's own files, validation, and the Config it builds.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { formatDiagnostic } from "../yaml/source.ts";
import { dir, errors, load, refused, registries, warnings } from "./__fixtures__/load-config.ts";
import { loadConfig } from "./load.ts";

// Talon's config_example.yaml (at the root of Talon's repository), quoted as Talon ships it: Kestrel must
// load Talon's own example unchanged.
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
    assert.deepEqual(await refused(yaml), [
      [2, 14, "ERR_CONFIG_INVALID", "watch_rules: must be a boolean (true or false)"],
      [4, 12, "ERR_CONFIG_INVALID", "otel.timeout: must be a number ≥ 0"],
      [7, 5, "ERR_CONFIG_INVALID", "rules_files[1]: Invalid input: expected string, received number"],
      [8, 13, "ERR_CONFIG_INVALID", "log_format: must be one of color, text, json"],
    ]);
  });

  test("a value of the wrong kind gets the key's own message", async () => {
    assert.deepEqual(await refused("listen_port: 70000\nrules_files: 3\nworkers: 0\nlog_level: loud\n"), [
      [1, 14, "ERR_CONFIG_INVALID", "listen_port: must be a port number (0-65535)"],
      [2, 14, "ERR_CONFIG_INVALID", "rules_files: must be a list of strings (or a comma-separated string)"],
      [3, 10, "ERR_CONFIG_INVALID", "workers: must be a positive integer"],
      [4, 12, "ERR_CONFIG_INVALID", "log_level: must be one of trace, debug, info, warn, error, fatal, silent"],
    ]);
  });

  test("log_format and log_level are case-insensitive", async () => {
    const { config, diagnostics } = await load("log_format: JSON\nlog_level: Warning\n");
    assert.deepEqual(diagnostics, []);
    assert.equal(config?.log_format, "json");
    assert.equal(config?.log_level, "warn");
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
