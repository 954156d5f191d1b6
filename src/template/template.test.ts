import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KestrelError } from "../errors.ts";
import { compileParams, compileTemplate, renderTemplate } from "./template.ts";

const vars = new Map([
  ["FD_NAME", "/etc/shadow"],
  ["FALCO-TALON_RULE", "my rule"],
  ["EVIL", "/tmp/x; rm -rf / $(id) `id` 'q'"],
]);

describe("templates", () => {
  it("replaces ${NAME}, including names with a dash, and leaves $NAME alone", () => {
    const t = compileTemplate("cat ${FD_NAME} for ${FALCO-TALON_RULE} in $HOME costs $5")!;
    assert.equal(renderTemplate(t, vars), "cat /etc/shadow for my rule in $HOME costs $5");
  });

  it("returns undefined for strings without templates and unescapes $${", () => {
    assert.equal(compileTemplate("plain $LATEST"), undefined);
    assert.equal(renderTemplate(compileTemplate("literal $${FD_NAME}")!, vars), "literal ${FD_NAME}");
  });

  it("fails on a variable the event does not have, instead of inserting an empty value", () => {
    const t = compileTemplate("cat ${MISSING}")!;
    assert.throws(
      () => renderTemplate(t, vars),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_TEMPLATE" && /MISSING/.test(e.message),
    );
  });

  it("never reads the process environment", () => {
    process.env["KESTREL_TEST_SECRET"] = "s3cr3t";
    assert.throws(() => renderTemplate(compileTemplate("${KESTREL_TEST_SECRET}")!, vars), /not defined/);
  });

  it("rejects malformed templates", () => {
    assert.throws(() => compileTemplate("cat ${FD_NAME"), /unterminated/);
    assert.throws(() => compileTemplate("cat ${a b}"), /invalid variable name/);
  });

  it("renders parameter trees and returns the same object when there is nothing to render", () => {
    const plain = { labels: { a: "1" }, list: ["x"] };
    assert.equal(compileParams(plain).render(vars), plain);
    const p = compileParams({ command: "cat ${FD_NAME}", n: 5, list: ["${FD_NAME}", "y"] });
    assert.equal(p.hasTemplates, true);
    assert.deepEqual(p.variables, ["FD_NAME", "FD_NAME"]);
    assert.deepEqual(p.render(vars), { command: "cat /etc/shadow", n: 5, list: ["/etc/shadow", "y"] });
  });
});
