// log_format's default follows where the log goes: color on a terminal, text in a pipe or a file (no
// escape codes in files and log collectors). A value set in the file or LOG_FORMAT always wins. The
// terminal case through a real pseudo-terminal is in test/e2e/first-contact.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRegistries } from "../registries.ts";
import { loadConfig } from "./load.ts";

const registries = createRegistries();
let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kestrel-log-format-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function logFormat(
  yaml: string | undefined,
  env: Record<string, string>,
  stdoutIsTTY: boolean | undefined,
): Promise<string | undefined> {
  let file: string | undefined;
  if (yaml !== undefined) {
    file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, yaml);
  }
  const { config, diagnostics } = await loadConfig({ file, env, registries, ...(stdoutIsTTY === undefined ? {} : { stdoutIsTTY }) });
  assert.deepEqual(diagnostics, []);
  return config?.log_format;
}

describe("log_format default", () => {
  test("unset: color on a terminal, text otherwise", async () => {
    assert.equal(await logFormat(undefined, {}, true), "color");
    assert.equal(await logFormat(undefined, {}, false), "text");
    assert.equal(await logFormat("listen_port: 2803\n", {}, true), "color");
    assert.equal(await logFormat("listen_port: 2803\n", {}, false), "text");
  });

  test("without the option, process.stdout decides", async () => {
    assert.equal(await logFormat(undefined, {}, undefined), process.stdout.isTTY ? "color" : "text");
  });

  test("set in the file or LOG_FORMAT, it is kept whatever the output", async () => {
    for (const tty of [true, false]) {
      assert.equal(await logFormat("log_format: color\n", {}, tty), "color");
      assert.equal(await logFormat("log_format: text\n", {}, tty), "text");
      assert.equal(await logFormat("log_format: json\n", {}, tty), "json");
      assert.equal(await logFormat(undefined, { LOG_FORMAT: "color" }, tty), "color");
      assert.equal(await logFormat(undefined, { LOG_FORMAT: "json" }, tty), "json");
    }
  });
});
