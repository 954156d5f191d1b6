// docs/errors.md explains every error code, as Fastify's errors page does: this test keeps the page and the
// catalogue in step (each code documented, each documented code real), and checks the error helpers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { errorCode, errorCodes, errorFields, errorMessage, KestrelError } from "./errors.ts";
import { EventError } from "./events/parse.ts";

const page = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");

/** The page's sections: `### ERR_…` heading → the text up to the next heading. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = page.split(/^#{2,3} /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf("\n");
    const title = part.slice(0, newline).trim();
    if (/^ERR_/.test(title)) {
      assert.ok(!out.has(title), `${title} is documented twice`);
      out.set(title, part.slice(newline + 1).trim());
    }
  }
  return out;
}

describe("docs/errors.md", () => {
  const documented = sections();
  const codes = Object.keys(errorCodes);

  it("documents every code of src/errors.ts", () => {
    const missing = codes.filter((c) => !documented.has(c));
    assert.deepEqual(missing, [], `add a "### CODE" section to docs/errors.md for: ${missing.join(", ")}`);
  });

  it("documents no code that does not exist", () => {
    const unknown = [...documented.keys()].filter((c) => !Object.hasOwn(errorCodes, c));
    assert.deepEqual(unknown, [], `docs/errors.md documents codes src/errors.ts does not have: ${unknown.join(", ")}`);
  });

  it("says, for each code, what it means and what to do", () => {
    for (const [code, text] of documented) {
      const [meaning] = text.split(/^What to do:/m);
      assert.ok((meaning ?? "").trim().length >= 40, `${code}: explain what it means`);
      assert.match(text, /^What to do: \S/m, `${code}: say what to do`);
    }
  });

  it("is linked from the README", () => {
    assert.match(readFileSync(new URL("../README.md", import.meta.url), "utf8"), /\]\(docs\/errors\.md\)/);
  });
});

describe("error helpers", () => {
  it("a KestrelError's code wins over the fallback; anything else takes the fallback", () => {
    const err = new KestrelError("ERR_FORBIDDEN", "no");
    assert.equal(errorCode(err, "ERR_ACTION"), "ERR_FORBIDDEN");
    assert.equal(errorCode(new Error("x"), "ERR_ACTION"), "ERR_ACTION");
    assert.equal(errorCode("text", "ERR_NOTIFY"), "ERR_NOTIFY");
  });

  it("errorFields keeps the error itself under err, for the logger's serializer", () => {
    const err = new Error("boom");
    const fields = errorFields(err, "ERR_UNEXPECTED");
    assert.equal(fields.err, err);
    assert.equal(fields.code, "ERR_UNEXPECTED");
  });

  it("an invalid event is a KestrelError with ERR_EVENT_INVALID, its name and field kept", () => {
    const err = new EventError('missing required field "rule"', "rule");
    assert.ok(err instanceof KestrelError);
    assert.equal(err.code, "ERR_EVENT_INVALID");
    assert.equal(err.name, "EventError");
    assert.equal(err.field, "rule");
    assert.equal(err.retryable, false);
  });

  it("errorMessage reads errors, objects with a message, and anything else", () => {
    assert.equal(errorMessage(new Error("a")), "a");
    assert.equal(errorMessage({ message: "b" }), "b");
    assert.equal(errorMessage({ error: new Error("c") }), "c");
    assert.equal(errorMessage(42), "42");
  });
});
