// The house's import graph: every folder of src/ (and every file at its root) is a room on a floor, and an
// import may only run to the same floor or down. No two rooms may import each other, even on one floor. A new
// folder must be given its floor here, which is the moment to decide where it belongs.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";

const SRC = resolve(import.meta.dirname, "../../src");

/** From the top down: the composition, the long-running parts, the engine, the rules, the plugins, their contracts, the base. */
const FLOORS: readonly (readonly string[])[] = [
  ["cli"],
  ["reload", "app", "registries"],
  ["cluster", "ingest"],
  ["observability", "history"],
  ["engine"],
  ["rules"],
  ["actionners", "notifiers", "outputs", "contexts"],
  ["config"],
  ["plugins"],
  ["template"],
  ["clients"],
  ["events", "yaml", "files", "redact", "abort", "version"],
  ["errors"],
];

const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "__fixtures__" ? [] : sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

function roomOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, "");
}

// Static imports and re-exports (also `import type`), and import() of a literal path.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

interface Arrow {
  readonly from: string;
  readonly to: string;
  readonly where: string;
}

function arrows(): Arrow[] {
  const found: Arrow[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const target = resolve(dirname(file), (m[1] ?? m[2])!);
      const from = roomOf(file);
      const to = roomOf(target);
      if (from !== to) found.push({ from, to, where: `${relative(SRC, file)} -> ${relative(SRC, target)}` });
    }
  }
  return found;
}

describe("the import graph of src/", () => {
  const all = arrows();

  it("reads the imports (a regex that found nothing would pass everything)", () => {
    assert.ok(all.length > 80, `only ${all.length} arrows between rooms were found`);
    assert.ok(all.some((a) => a.where === "app.ts -> engine/engine.ts"));
  });

  it("gives every room a floor", () => {
    const rooms = new Set(sourceFiles(SRC).map(roomOf));
    assert.deepEqual(
      [...rooms].filter((r) => !floorOf.has(r)),
      [],
      "add the new room to FLOORS",
    );
  });

  it("has no arrow running back up", () => {
    const up = all.filter((a) => floorOf.get(a.from)! > floorOf.get(a.to)!).map((a) => a.where);
    assert.deepEqual(up, []);
  });

  it("has no circle between rooms", () => {
    const next = new Map<string, Set<string>>();
    for (const a of all) next.set(a.from, (next.get(a.from) ?? new Set()).add(a.to));
    const circles: string[] = [];
    const walk = (room: string, path: readonly string[]): void => {
      if (path.includes(room)) {
        if (room === path[0]) circles.push([...path, room].join(" -> "));
        return;
      }
      for (const to of next.get(room) ?? []) walk(to, [...path, room]);
    };
    for (const room of next.keys()) walk(room, []);
    assert.deepEqual(circles, []);
  });
});
