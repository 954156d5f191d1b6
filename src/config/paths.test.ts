// The default configuration and rules paths: /etc/kestrel first, else Falco Talon's /etc/falco-talon, each
// file on its own; proved on temporary folders standing for the two (config/paths.ts takes them as a parameter).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfiguration } from "../cli/shared.ts";
import { createRegistries } from "../registries.ts";
import { loadConfig } from "./load.ts";
import { type DefaultPaths, defaultConfigFile, defaultRulesFile } from "./paths.ts";

let root = "";
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "kestrel-paths-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh pair of folders standing for /etc/kestrel and /etc/falco-talon, with `files` written in them. */
async function etc(files: { kestrel?: Record<string, string>; talon?: Record<string, string> }): Promise<DefaultPaths> {
  const base = join(root, String(++n));
  const kestrel = join(base, "kestrel");
  const talon = join(base, "falco-talon");
  for (const [dir, entries] of [
    [kestrel, files.kestrel],
    [talon, files.talon],
  ] as const) {
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(entries ?? {})) await writeFile(join(dir, name), text);
  }
  return {
    config: [join(kestrel, "config.yaml"), join(talon, "config.yaml")],
    rules: [join(kestrel, "rules.yaml"), join(talon, "rules.yaml")],
  };
}

const registries = createRegistries();

describe("default paths", () => {
  test("Kestrel's files are preferred when both exist", async () => {
    const paths = await etc({ kestrel: { "config.yaml": "", "rules.yaml": "" }, talon: { "config.yaml": "", "rules.yaml": "" } });
    assert.equal(defaultConfigFile(paths), paths.config[0]);
    assert.equal(defaultRulesFile(paths), paths.rules[0]);
  });

  test("Talon's files are read when Kestrel's are absent, each file on its own", async () => {
    const paths = await etc({ kestrel: { "config.yaml": "" }, talon: { "config.yaml": "", "rules.yaml": "" } });
    assert.equal(defaultConfigFile(paths), paths.config[0]);
    assert.equal(defaultRulesFile(paths), paths.rules[1]);
    const talonOnly = await etc({ talon: { "config.yaml": "" } });
    assert.equal(defaultConfigFile(talonOnly), talonOnly.config[1]);
  });

  test("with neither, no configuration file and Kestrel's rules path (so its absence names it)", async () => {
    const paths = await etc({});
    assert.equal(defaultConfigFile(paths), undefined);
    assert.equal(defaultRulesFile(paths), paths.rules[0]);
  });

  test("the CLI reads Talon's config.yaml when no -c is given and Kestrel's is absent", async () => {
    const paths = await etc({ talon: { "config.yaml": "listen_port: 2999\nlog_format: json\n", "rules.yaml": "[]\n" } });
    const config = await loadConfiguration({}, registries, paths);
    assert.equal(config.file, paths.config[1]);
    assert.equal(config.listen_port, 2999);
    // rules_files unset: Talon's rules.yaml, since Kestrel's is absent
    assert.deepEqual(config.rules_files, [paths.rules[1]]);
  });

  test("the CLI prefers /etc/kestrel/config.yaml and -c wins over both", async () => {
    const paths = await etc({ kestrel: { "config.yaml": "listen_port: 2001\n" }, talon: { "config.yaml": "listen_port: 2002\n" } });
    assert.equal((await loadConfiguration({}, registries, paths)).listen_port, 2001);
    const explicit = join(root, `explicit-${++n}.yaml`);
    await writeFile(explicit, "listen_port: 2003\n");
    assert.equal((await loadConfiguration({ config: explicit }, registries, paths)).listen_port, 2003);
  });

  test("rules_files set in the file or by RULES_FILES is kept; unset, Kestrel's rules.yaml when it exists", async () => {
    const paths = await etc({ kestrel: { "rules.yaml": "" }, talon: { "rules.yaml": "" } });
    assert.deepEqual((await loadConfig({ registries, env: {}, defaultPaths: paths })).config?.rules_files, [paths.rules[0]]);
    const talonOnly = await etc({ talon: { "rules.yaml": "" } });
    assert.deepEqual((await loadConfig({ registries, env: {}, defaultPaths: talonOnly })).config?.rules_files, [talonOnly.rules[1]]);
    assert.deepEqual(
      (await loadConfig({ registries, env: { RULES_FILES: "a.yaml,b.yaml" }, defaultPaths: talonOnly })).config?.rules_files,
      ["a.yaml", "b.yaml"],
    );
    const file = join(root, `config-${++n}.yaml`);
    await writeFile(file, "rules_files: [mine.yaml]\n");
    assert.deepEqual((await loadConfig({ file, registries, env: {}, defaultPaths: talonOnly })).config?.rules_files, ["mine.yaml"]);
    // Talon's misspelling rules_file is read as rules_files, so it is set too
    await writeFile(file, "rules_file: talon-style.yaml\n");
    assert.deepEqual((await loadConfig({ file, registries, env: {}, defaultPaths: talonOnly })).config?.rules_files, ["talon-style.yaml"]);
  });
});
