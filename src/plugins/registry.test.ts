// The static plugin lists must match the files on disk (nothing forgotten, nothing misnamed), and every
// plugin's documented example must validate against its own parameter schema.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { describe, it } from "node:test";
import { createRegistries } from "../registries.ts";
import { describePlugin, exampleParameters } from "./describe.ts";
import { pluginId, Registry } from "./registry.ts";
import type { AnyPlugin } from "./types.ts";

const registries = createRegistries();

async function idsOnDisk(folder: string): Promise<string[]> {
  const files = await readdir(new URL(`../${folder}/`, import.meta.url), { recursive: true });
  return files
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "index.ts")
    .filter((f) => !f.split("/").some((part) => part.startsWith("_")))
    .map((f) => f.slice(0, -3).replace("/", ":"))
    .sort();
}

describe("plugin registries", () => {
  for (const kind of ["actionners", "outputs", "notifiers", "contexts"] as const) {
    it(`${kind}: the static list equals the files of src/${kind}/`, async () => {
      const listed = registries[kind].list().map(pluginId).sort();
      assert.deepEqual(listed, await idsOnDisk(kind));
    });
  }

  const all: AnyPlugin[] = [
    ...registries.actionners.list(),
    ...registries.outputs.list(),
    ...registries.notifiers.list(),
    ...registries.contexts.list(),
  ];
  for (const plugin of all) {
    it(`${pluginId(plugin)}: its example validates against its parameters`, () => {
      const result = plugin.params.safeParse(exampleParameters(plugin));
      assert.equal(result.success, true, result.success ? "" : result.error.message);
      const described = describePlugin(plugin);
      assert.equal(described["name"], pluginId(plugin));
      assert.ok(Array.isArray(described["parameters"]));
    });
  }

  it("refuses two plugins with the same name", () => {
    const p = registries.notifiers.list()[0]!;
    assert.throws(() => new Registry("notifiers", [p, p]), /two notifiers are named/);
  });
});
