// Reading config.yaml (./read-yaml.ts): files that cannot be read, YAML that cannot be parsed, and keys as
// viper reads them (case-insensitive, empty means unset).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { dir, load, registries } from "./__fixtures__/load-config.ts";
import { loadConfig } from "./load.ts";

describe("loadConfig: reading the file", () => {
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
});

describe("loadConfig: keys as viper reads them", () => {
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
