// The generated field catalogue is current: it fails while src/events/field-catalogue.ts differs from
// what scripts/generate-field-catalogue.ts would write (regenerate: node scripts/generate-field-catalogue.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CATALOGUE_FILE, renderCatalogue } from "../../scripts/field-catalogue.ts";
import { FALCO_FIELDS, FALCO_FIELDS_WITH_ARGUMENT, FALCO_RULE_FIELDS } from "./field-catalogue.ts";

describe("the Falco field catalogue", () => {
  it("is current (regenerate: node scripts/generate-field-catalogue.ts)", () => {
    assert.equal(readFileSync(CATALOGUE_FILE, "utf8"), renderCatalogue());
  });

  it("holds Falco's field classes and every rule of the corpus with the fields its alerts carry", () => {
    for (const f of [
      "proc.cmdline",
      "fd.name",
      "container.id",
      "k8s.pod.name",
      "user.name",
      "group.gid",
      "evt.type",
      "ka.target.name",
      "ct.user",
    ]) {
      assert.ok(FALCO_FIELDS.includes(f), f);
    }
    for (const f of ["proc.aname", "evt.arg", "k8s.pod.label"]) assert.ok(FALCO_FIELDS_WITH_ARGUMENT.includes(f), f);
    assert.equal(Object.keys(FALCO_RULE_FIELDS).length, 163);
    const shell = FALCO_RULE_FIELDS["Terminal shell in container"]!;
    assert.equal(shell.source, "syscall");
    assert.ok(shell.fields.includes("proc.cmdline") && shell.fields.includes("k8s.pod.name"));
  });
});
