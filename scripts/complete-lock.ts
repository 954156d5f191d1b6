// The npm registry these machines reach does not serve some platform binaries of optional dependencies
// (Biome's darwin/win32/musl builds), so `npm install` leaves them out of package-lock.json, and `npm ci`
// then refuses the lock as out of sync. This adds the missing entries (platform-specific optional
// packages, never installed here) so that `npm ci` works. Run it after changing dependencies:
//   npm install && node scripts/complete-lock.ts
import { readFileSync, writeFileSync } from "node:fs";

interface Entry {
  version: string;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  "android-arm64": { os: "android", cpu: "arm64" },
  "android-x64": { os: "android", cpu: "x64" },
  "darwin-arm64": { os: "darwin", cpu: "arm64" },
  "darwin-x64": { os: "darwin", cpu: "x64" },
  "linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc" },
  "linux-arm64-musl": { os: "linux", cpu: "arm64", libc: "musl" },
  "linux-x64": { os: "linux", cpu: "x64", libc: "glibc" },
  "linux-x64-musl": { os: "linux", cpu: "x64", libc: "musl" },
  "win32-arm64": { os: "win32", cpu: "arm64" },
  "win32-x64": { os: "win32", cpu: "x64" },
};

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, Entry> };
const added: string[] = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const platform = Object.entries(PLATFORMS).find(([suffix]) => name.endsWith(`-${suffix}`))?.[1];
    if (key in lock.packages || platform === undefined) continue;
    lock.packages[key] = {
      version,
      cpu: [platform.cpu],
      dev: entry["dev"] === true,
      optional: true,
      os: [platform.os],
      ...(platform.libc === undefined ? {} : { libc: [platform.libc] }),
    };
    added.push(`${name}@${version} (for ${path || "the project"})`);
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)));
writeFileSync(file, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
process.stdout.write(added.length === 0 ? "package-lock.json is complete\n" : `added:\n  ${added.join("\n  ")}\n`);
