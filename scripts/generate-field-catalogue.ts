// Writes src/events/field-catalogue.ts (see scripts/field-catalogue.ts). Run after changing
// scripts/data/falco-fields.txt or the rules corpus: node scripts/generate-field-catalogue.ts
import { writeFileSync } from "node:fs";
import { CATALOGUE_FILE, renderCatalogue } from "./field-catalogue.ts";

writeFileSync(CATALOGUE_FILE, renderCatalogue());
process.stdout.write(`written ${CATALOGUE_FILE.pathname}\n`);
