// Event values in shell scripts stay data wherever the script puts them; the two places where no escaping
// can do that are refused by rules check. Checked with a real /bin/sh.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { shellEscaper, unsafeVariableProblems, variablePlaces } from "./shell.ts";
import { compileTemplate, renderTemplate } from "./template.ts";

/** Renders the script with FD_NAME = value, escaped for its place, and runs it with sh. */
function run(script: string, value: string): string {
  const rendered = renderTemplate(compileTemplate(script)!, new Map([["FD_NAME", value]]), shellEscaper(script));
  return execFileSync("/bin/sh", ["-c", rendered], { encoding: "utf8" });
}

const NASTY = [`/tmp/x; echo INJECTED`, `a'b"c$(echo INJECTED)\`echo INJECTED\`\\`, `$HOME`, "", "two\nlines", "-n"];

describe("shell escaping of event values", () => {
  it("finds where the shell reads each variable", () => {
    assert.deepEqual(
      variablePlaces(`cat \${A} '\${B}' "x \${C}" $\${NOT} # \${D}\necho \\\${E}; cat <<EOF\n\${F}\nEOF`).map((v) => `${v.name}:${v.place}`),
      ["A:bare", "B:single", "C:double", "E:backslash", "F:heredoc"],
    );
  });

  for (const script of ["printf '%s|' ${FD_NAME}", "printf '%s|' '${FD_NAME}'", 'printf \'%s|\' "${FD_NAME}"', "printf '%s|' \"pre-${FD_NAME}-post\""]) {
    it(`keeps the value one literal word: ${script}`, () => {
      for (const value of NASTY) {
        const out = run(script, value);
        const expected = script.includes("pre-") ? `pre-${value}-post|` : `${value}|`;
        assert.equal(out, expected, JSON.stringify(value));
        assert.doesNotMatch(out.replaceAll(value, ""), /INJECTED/);
      }
    });
  }

  it("refuses variables after a backslash or in a here-document, and nothing else", () => {
    assert.deepEqual(unsafeVariableProblems(`cat \${A} '\${B}' "\${C}" $\${D}`, "command"), []);
    const problems = unsafeVariableProblems(`echo \\\${E}; cat <<EOF\n\${F}\nEOF`, "script");
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /\$\{E\} is after a backslash in 'script'/);
    assert.match(problems[1]!, /\$\{F\} is inside a here-document/);
  });
});
