// loadRules: load + compile from files, diagnostics in source order.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fakeRegistries } from "./__fixtures__/plugins.ts";
import { loadRules } from "./index.ts";

async function files(texts: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "kestrel-rules-"));
  return Promise.all(
    Object.entries(texts).map(async ([name, text]) => {
      const file = join(dir, name);
      await writeFile(file, text);
      return file;
    }),
  );
}

describe("loadRules", () => {
  it("reports load and compile problems together, by file then line", async () => {
    const [a, b] = await files({
      "a.yaml": "- rule: R\n  match: {}\n  actions:\n    - action: X\n      actionner: kubernetes:nope\n      continue: maybe\n",
      "b.yaml": "- rule: R\n  notifiers: [nobody]\n  dry_run: perhaps\n", // an override: no `match:` needed
    });
    const { ruleSet, diagnostics, document } = await loadRules([a!, b!], fakeRegistries());
    assert.equal(ruleSet, undefined);
    assert.deepEqual(
      diagnostics.map((d) => [d.file, d.line]),
      [
        [a, 5],
        [a, 6],
        [b, 2],
        [b, 3],
      ],
    );
    assert.deepEqual(document.files, [a, b]);
  });

  it("builds the rule set when there are only warnings", async () => {
    const [a] = await files({ "a.yaml": "- rule: R\n  match: {priority: '>='}\n  actions: [{action: X, actionner: kubernetes:delete}]\n" });
    const { ruleSet, diagnostics } = await loadRules([a!], fakeRegistries());
    assert.ok(ruleSet);
    assert.deepEqual(
      diagnostics.map((d) => d.severity),
      ["warning"],
    );
  });
});
