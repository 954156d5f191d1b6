// `kestrel version`.
import { version } from "../version.ts";

export function versionCommand(): void {
  process.stdout.write(`Kestrel ${version()}\nNode.js ${process.version}\nPlatform ${process.platform}/${process.arch}\n`);
}
