import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rename, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { until } from "../../test/support/wait.ts";
import { contentsDigest, watchRuleFiles } from "./watch.ts";

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new temporary folder holding rules.yaml with one rule. */
async function rulesFile(prefix: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const file = join(dir, "rules.yaml");
  await writeFile(file, "- rule: a\n");
  return { dir, file };
}

describe("watchRuleFiles", () => {
  it("a FIFO put in place of a rules file changes the digest without hanging it", async () => {
    const { file } = await rulesFile("kestrel-watch-fifo-");
    const before = await contentsDigest([file]);
    await unlink(file);
    execFileSync("mkfifo", [file]);
    assert.notEqual(await contentsDigest([file]), before);
  });

  it("calls back once per change of contents, not for a touch or another file", async () => {
    const { dir, file } = await rulesFile("kestrel-watch-");
    let calls = 0;
    const w = watchRuleFiles([file], () => calls++, { debounceMs: 300 });
    try {
      await settle(100);
      await writeFile(file, "- rule: b\n");
      await writeFile(file, "- rule: c\n"); // two writes, one change after the debounce
      await until(() => calls === 1, "the change");
      await settle(500);
      assert.equal(calls, 1);
      await utimes(file, new Date(), new Date());
      await writeFile(join(dir, "other.txt"), "x");
      await settle(600);
      assert.equal(calls, 1, "same contents: no reload");
    } finally {
      w.close();
    }
  });

  it("sees a Kubernetes ConfigMap update: the ..data symlink swapped to a new folder", async () => {
    // The layout kubelet writes: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>/ (replaced by rename).
    const dir = await mkdtemp(join(tmpdir(), "kestrel-configmap-"));
    await mkdir(join(dir, "..2026_11_23_10_00_00.1"));
    await writeFile(join(dir, "..2026_11_23_10_00_00.1", "rules.yaml"), "- rule: v1\n");
    await symlink("..2026_11_23_10_00_00.1", join(dir, "..data"));
    await symlink("..data/rules.yaml", join(dir, "rules.yaml"));
    let calls = 0;
    const w = watchRuleFiles([join(dir, "rules.yaml")], () => calls++, { debounceMs: 50 });
    try {
      await settle(100);
      await mkdir(join(dir, "..2026_11_23_10_05_00.2"));
      await writeFile(join(dir, "..2026_11_23_10_05_00.2", "rules.yaml"), "- rule: v2\n");
      await symlink("..2026_11_23_10_05_00.2", join(dir, "..data_tmp"));
      await rename(join(dir, "..data_tmp"), join(dir, "..data"));
      await until(() => calls === 1, "the ConfigMap swap");
    } finally {
      w.close();
    }
  });

  it("stops calling back once closed", async () => {
    const { file } = await rulesFile("kestrel-watch-");
    let calls = 0;
    const w = watchRuleFiles([file], () => calls++, { debounceMs: 20 });
    await settle(50);
    w.close();
    await writeFile(file, "- rule: b\n");
    await settle(200);
    assert.equal(calls, 0);
  });
});
