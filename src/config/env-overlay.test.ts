// Environment variables over the file (./env-overlay.ts), and env overrides that would open the intake
// (./security.ts).
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { testPki } from "../../test/support/tls.ts";
import { formatDiagnostic } from "../yaml/source.ts";
import { dir, errors, load, registries } from "./__fixtures__/load-config.ts";
import { configEnvVars } from "./env-overlay.ts";

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
