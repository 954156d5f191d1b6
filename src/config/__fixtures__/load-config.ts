// What the configuration tests share: two test notifiers with the settings of Talon's webhook notifier and
// a small stdout one (so that the tests do not depend on how the shipped notifiers evolve), a temporary
// directory for config files, `load`, which writes a YAML text there and loads it, and `refused`, for a text
// that must not load.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { z } from "zod";
import { defineNotifier } from "../../plugins/define.ts";
import type { Registries } from "../../plugins/registry.ts";
import { Registry } from "../../plugins/registry.ts";
import type { Actionner, ContextProvider, Notifier, Output } from "../../plugins/types.ts";
import type { Diagnostic } from "../../yaml/source.ts";
import { type LoadConfigOptions, loadConfig } from "../load.ts";

const webhook = defineNotifier({
  name: "webhook",
  needs: [],
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
  needs: [],
  description: "test stdout",
  example: "format: json",
  params: z.object({ format: z.enum(["json", "text"]).default("json") }),
  create: () => ({ send: async () => {} }),
});

export const registries: Registries = {
  actionners: new Registry<Actionner>("actionners", []),
  outputs: new Registry<Output>("outputs", []),
  notifiers: new Registry<Notifier>("notifiers", [webhook, stdout]),
  contexts: new Registry<ContextProvider>("contexts", []),
};

/** The test file's directory for config files; removed after its tests. */
export const dir = mkdtempSync(join(tmpdir(), "kestrel-config-"));
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;

/** Loads `yaml` written to a new file (no file when undefined), with `env`. */
export async function load(yaml: string | undefined, env: Record<string, string> = {}, extra: Partial<LoadConfigOptions> = {}) {
  const options: LoadConfigOptions = { registries, env, ...extra };
  if (yaml !== undefined) {
    options.file = join(dir, `config-${++fileCount}.yaml`);
    await writeFile(options.file, yaml);
  }
  return { file: options.file ?? "", ...(await loadConfig(options)) };
}

/** Loads `yaml` and checks that it gives no configuration; its diagnostics as [line, column, code, message]. */
export async function refused(yaml: string): Promise<(string | number)[][]> {
  const { config, diagnostics } = await load(yaml);
  assert.equal(config, undefined);
  return diagnostics.map((d) => [d.line, d.column, d.code, d.message]);
}

export const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === "error");
export const warnings = (ds: Diagnostic[]) => ds.filter((d) => d.severity === "warning");
