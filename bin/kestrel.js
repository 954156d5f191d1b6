#!/usr/bin/env node
// Launcher: in a source checkout run the TypeScript sources directly (Node >= 22.18 strips types);
// in the published package (no src/) run the compiled JavaScript from dist/.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const entry = existsSync(source) ? source : new URL("../dist/cli/main.js", import.meta.url);
const { main } = await import(entry.href);
await main(process.argv);
