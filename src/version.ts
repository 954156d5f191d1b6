// Kestrel's version, from package.json: `kestrel version`, the OpenTelemetry resource and the user agent read it.
import { readFileSync } from "node:fs";

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
