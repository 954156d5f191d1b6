// `kestrel version`.
import { readFileSync } from "node:fs";

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export function versionCommand(): void {
  process.stdout.write(`Kestrel ${version()}\nNode.js ${process.version}\nPlatform ${process.platform}/${process.arch}\n`);
}
