// `npm test`'s pretest: one line and exit 1 when this Node is older than package.json's `engines.node`
// (the test runner's globs and the TypeScript sources need it). Plain JavaScript that an old Node runs.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const required = /^>=\s*(\d+)(?:\.(\d+))?/.exec(pkg.engines?.node ?? "");
if (required !== null) {
  const [major, minor] = process.versions.node.split(".").map(Number);
  const [needMajor, needMinor] = [Number(required[1]), Number(required[2] ?? 0)];
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    process.stderr.write(
      `Kestrel needs Node.js >= ${needMajor}.${needMinor} (found ${process.versions.node}); run ./kestrel test (it fetches Node 24 into a cache) or install Node 24\n`,
    );
    process.exit(1);
  }
}
