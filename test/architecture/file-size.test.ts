// Small modules: no source file of src/ (tests aside) grows past 450 lines; a bigger one is split by concern.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const SRC = resolve(import.meta.dirname, "../../src");
const MAX_LINES = 450;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

describe("the size of src/ files", () => {
  it(`keeps every source file at ${MAX_LINES} lines or fewer`, () => {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 100, `only ${files.length} files found`);
    const big = files
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, "utf8").split("\n").length }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines} lines`);
    assert.deepEqual(big, []);
  });
});
