#!/usr/bin/env node
// Launcher: in a source checkout run the TypeScript sources directly (Node >= 22.19 strips types);
// in the published package (no src/) run the compiled JavaScript from dist/.
// Plain JavaScript that an older Node can still run: it checks the version first (package.json's
// `engines.node`) and answers an old Node with one line, before importing anything that needs a newer one.
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const problem = nodeVersionProblem();
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

const source = new URL("../src/cli/main.ts", import.meta.url);
const entry = existsSync(source) ? source : new URL("../dist/cli/main.js", import.meta.url);
const { main } = await import(entry.href);
await main(process.argv);

/** The line to print when this Node is older than package.json's `engines.node` (">=22.19"), else undefined. */
function nodeVersionProblem() {
  let required;
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    required = /^>=\s*(\d+)(?:\.(\d+))?/.exec(pkg.engines?.node ?? "");
  } catch {
    return undefined;
  }
  if (required === null) return undefined;
  const [major, minor] = process.versions.node.split(".").map(Number);
  const [needMajor, needMinor] = [Number(required[1]), Number(required[2] ?? 0)];
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  // In a checkout, the wrapper at the repository root fetches a Node that fits.
  const wrapper = fileURLToPath(new URL("../kestrel", import.meta.url));
  const run = existsSync(wrapper)
    ? `run ${relative(process.cwd(), wrapper).replace(/^(?=[^./])/, "./")} (it fetches Node 24 into a cache) or `
    : "";
  return `Kestrel needs Node.js >= ${needMajor}.${needMinor} (found ${process.versions.node}); ${run}install Node 24`;
}
