// Fuzzing templates (fast-check): any parameter text compiles, is left alone, or is refused with a clear error; rendering
// fails only for a variable the event lacks (ERR_TEMPLATE); and in shell scripts an attacker-controlled
// value, wherever the script puts it (a bare word, inside '…' or "…", glued to other text), reaches the
// program as exactly that text — checked by running the compiled script with a real /bin/sh. The corpus
// of script shapes run through dash, bash and busybox is shell-scripts.fuzz.test.ts.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { KestrelError } from "../../src/errors.ts";
import { compileShellScript, scriptValues } from "../../src/template/shell.ts";
import { compileTemplate, renderTemplate } from "../../src/template/template.ts";

/** Any text a shell argument can hold (no NUL), including quotes, $, backticks, newlines and Unicode. */
const shellValue = fc.string({
  unit: fc.oneof(
    fc.constantFrom("'", '"', "$", "`", "\\", "\n", " ", ";", "|", "&", "(", ")", "*", "?", "~", "#", "!", "{", "}", "-"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0"),
  ),
  maxLength: 24,
});

/** A way of writing the variable in a script, and what printf then prints for the value. */
const FORMS: readonly { script: string; expected: (v: string) => string }[] = [
  { script: "${V}", expected: (v) => v },
  { script: "'${V}'", expected: (v) => v },
  { script: '"${V}"', expected: (v) => v },
  { script: "pre-${V}-post", expected: (v) => `pre-${v}-post` },
  { script: "'a ${V} b'", expected: (v) => `a ${v} b` },
  { script: '"a ${V} b $HOME_IS_NOT_EXPANDED_HERE"', expected: (v) => `a ${v} b ` },
  { script: "x${V}'${V}'\"${V}\"", expected: (v) => `x${v}${v}${v}` },
];

describe("template fuzzing", () => {
  it("compiles any text, and renders it when every variable is defined, or fails with ERR_TEMPLATE", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 10 }), (text, value) => {
        let t: ReturnType<typeof compileTemplate>;
        try {
          t = compileTemplate(text);
        } catch (err) {
          // A malformed template (an unterminated ${, an empty name) is a clear error that rules check reports.
          assert.ok(err instanceof KestrelError && err.message.includes(text.slice(0, 10)), String(err));
          return;
        }
        if (t === undefined) return;
        const names = t.segments.flatMap((s) => (typeof s === "string" ? [] : [s.variable]));
        assert.equal(typeof renderTemplate(t, new Map(names.map((n) => [n, value]))), "string");
        if (names.length > 0) {
          assert.throws(
            () => renderTemplate(t, new Map()),
            (e: unknown) => e instanceof KestrelError && e.code === "ERR_TEMPLATE",
          );
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps any value one literal piece of data in a shell script, wherever the script puts it", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FORMS), shellValue, (form, value) => {
        const script = `printf '%s' ${form.script}`;
        const { script: compiled } = compileShellScript(script);
        let values: string[];
        try {
          values = scriptValues(compiled, new Map([["V", value]]));
        } catch (err) {
          // A value that would start an argument with '-' is refused: the program would read an option.
          assert.ok(err instanceof KestrelError && err.code === "ERR_TEMPLATE" && value.startsWith("-"), String(err));
          return;
        }
        const out = execFileSync("/bin/sh", ["-c", compiled.text, "kestrel", ...values], { env: { PATH: "/usr/bin:/bin" } });
        assert.equal(out.toString("utf8"), form.expected(value), `script ${script} compiled as ${compiled.text}`);
      }),
      { numRuns: 300 },
    );
  });
});
