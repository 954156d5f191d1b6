// Writes the README's plugin tables (actionners, outputs, notifiers) from the plugins' declarations. Run after
// changing a plugin's description, notes or parameters: npm run docs (test/plugin-docs.test.ts fails while
// README.md is out of date).
import { readFileSync, writeFileSync } from "node:fs";
import { README, withPluginTables } from "./plugin-docs.ts";

writeFileSync(README, withPluginTables(readFileSync(README, "utf8")));
process.stdout.write(`written ${README.pathname}\n`);
