// Scripts are fixed when the rules load; values follow them as positional parameters. The corpus run
// through dash, bash and busybox is test/fuzz/shell-scripts.fuzz.test.ts; these are the unit cases.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { KestrelError } from "../errors.ts";
import { commandArgv, compileCommand, compileShellScript, scriptValues } from "./shell.ts";

function sh(script: string, vars: Record<string, string>, extra: string[] = []): string {
  const { script: compiled, problems } = compileShellScript(script);
  assert.deepEqual(problems, []);
  const values = scriptValues(compiled, new Map(Object.entries(vars)));
  return execFileSync("/bin/sh", ["-c", compiled.text, "kestrel", ...values, ...extra], { encoding: "utf8" });
}

describe("shell scripts with event values", () => {
  it("replaces each reference by a variable set from the positional parameters, in every quoting", () => {
    const { script } = compileShellScript(`cat \${FD_NAME} '\${FD_NAME}' "x \${PROC}"`);
    assert.equal(
      script.text,
      `__kestrel_1="\${1}" __kestrel_2="\${2}"; shift 2; cat "\${__kestrel_1}" ''"\${__kestrel_1}"'' "x \${__kestrel_2}"`,
    );
    assert.deepEqual(script.variables, ["FD_NAME", "PROC"]);
  });

  it("reads commands named like Object's own properties as plain commands (the handler table is no prototype chain)", () => {
    for (const name of ["hasOwnProperty", "constructor", "toString", "__proto__", "valueOf"]) {
      const { script } = compileShellScript(`${name} \${FD_NAME}`);
      assert.deepEqual(script.variables, ["FD_NAME"], name);
    }
  });

  it("leaves a script without references as written (nothing is passed)", () => {
    const { script, problems } = compileShellScript("ps auxf; cat /etc/hosts | $${PAGER:-cat}");
    assert.deepEqual(problems, []);
    assert.equal(script.text, "ps auxf; cat /etc/hosts | ${PAGER:-cat}");
    assert.deepEqual(script.variables, []);
  });

  it('keeps the script\'s own $1 and "$@" as they were (empty for kubernetes:exec)', () => {
    assert.equal(sh(`printf '[%s]' "$1" "$#" \${V}`, { V: "v" }), "[][0][v]");
  });

  it("keeps the shell's line numbers those of the rule", () => {
    const { script } = compileShellScript("true\n\nprintf '%s' ${V}\necho $LINENO");
    assert.equal(execFileSync("bash", ["-c", script.text, "k", "v"], { encoding: "utf8" }), "v4\n");
  });

  it("says where a refused reference is, line and column, and what to write instead", () => {
    const { problems } = compileShellScript("ps aux\n  echo `cat ${FD_NAME}`\ncat <<EOF\n${PROC}\nEOF");
    assert.deepEqual(
      problems.map((p) => p.split(": ")[0]),
      ["line 2, column 13", "line 4, column 1"],
    );
    assert.match(problems[0]!, /\$\{FD_NAME\} is inside backticks.*use \$\( \) instead/);
    assert.match(problems[1]!, /\$\{PROC\} is inside a here-document.*printf '%s\\n'/);
  });

  it("refuses a value that would be read as an option, unless -- comes first", () => {
    const { script } = compileShellScript("cat ${A}; cat -- ${B}; cat x${C}");
    assert.deepEqual([...script.guarded], ["A"]);
    assert.throws(
      () =>
        scriptValues(
          script,
          new Map([
            ["A", "-rf"],
            ["B", "-x"],
            ["C", "-y"],
          ]),
        ),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_TEMPLATE" && /\$\{A\} starts with '-'/.test(e.message),
    );
    assert.deepEqual(
      scriptValues(
        script,
        new Map([
          ["A", "a"],
          ["B", "-x"],
          ["C", "-y"],
        ]),
      ),
      ["a", "-x", "-y"],
    );
  });

  it("refuses a missing variable and a NUL byte with ERR_TEMPLATE", () => {
    const { script } = compileShellScript("cat -- ${A}");
    assert.throws(() => scriptValues(script, new Map()), /\$\{A\} is not defined for this event/);
    assert.throws(() => scriptValues(script, new Map([["A", "a\0b"]])), /NUL/);
  });

  it("refuses malformed references as a template would", () => {
    assert.match(compileShellScript("cat ${A").problems[0]!, /unterminated/);
    assert.match(compileShellScript("cat ${a b}").problems[0]!, /invalid variable name/);
  });
});

describe("local:command argv", () => {
  const vars = new Map([
    ["FD_NAME", "/tmp/a b; touch x"],
    ["PROC", "p"],
  ]);
  const render = (argv: string[], scriptIndex: number | undefined): string[] =>
    argv.map((a, i) => (i === scriptIndex ? a : a.replace(/\$\{(\w+)\}/g, (_, n: string) => vars.get(n) ?? "")));

  it("finds a sh -c script behind wrappers and flag clusters, and passes the values after its $0", () => {
    for (const argv of [
      ["sh", "-c", "printf '[%s]' ${FD_NAME}"],
      ["/bin/bash", "-ec", "printf '[%s]' ${FD_NAME}"],
      ["env", "LC_ALL=C", "sh", "-xc", "printf '[%s]' ${FD_NAME}"],
      ["timeout", "5", "nice", "-n", "1", "dash", "-c", "printf '[%s]' ${FD_NAME}"],
      ["busybox", "sh", "-c", "printf '[%s]' ${FD_NAME}"],
      ["sh", "-c", "--", "printf '[%s]' ${FD_NAME}"],
    ]) {
      const compiled = compileCommand(argv, {}, false);
      assert.deepEqual(compiled.problems, [], argv.join(" "));
      assert.equal(compiled.scriptIndex, argv.length - 1, argv.join(" "));
      const full = commandArgv(compiled, render(argv, compiled.scriptIndex), vars);
      assert.deepEqual(full.slice(argv.length), ["kestrel", "/tmp/a b; touch x"]);
      const out = execFileSync(full[0]!, full.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      assert.equal(out, "[/tmp/a b; touch x]", argv.join(" "));
    }
  });

  it("keeps the rule's own arguments after the script as $0, $1…", () => {
    const argv = ["sh", "-c", 'printf \'[%s]\' "$0" "$1" ${PROC}', "name", "${FD_NAME}"];
    const compiled = compileCommand(argv, {}, false);
    assert.deepEqual(compiled.problems, []);
    const full = commandArgv(compiled, render(argv, compiled.scriptIndex), vars);
    assert.equal(execFileSync(full[0]!, full.slice(1), { encoding: "utf8" }), "[name][/tmp/a b; touch x][p]");
  });

  it("refuses what would let a value choose or become code", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["/usr/bin/${PROC}"], {}, /must not choose the program/],
      [["python3", "-c", "print('${FD_NAME}')"], {}, /program text of python/],
      [["perl", "-e", "print '${FD_NAME}'"], {}, /program text of perl/],
      [["awk", '{print "${FD_NAME}"}'], {}, /program of awk/],
      [["env", "sh", "-c", 'eval "$1"', "x", "${FD_NAME}"], {}, /eval's argument/],
      [["sh", "-c", "echo ok"], { "${PROC}": "x" }, /variable name/],
      [["sh", "-c", "echo ok"], { LD_PRELOAD: "${FD_NAME}" }, /LD_PRELOAD changes how programs run/],
      [["logger", "x"], { PATH: "/bin:${FD_NAME}" }, /PATH changes how programs run/],
      [["sh", "-c", 'read x; eval "$x"'], {}, /eval's argument/],
    ];
    for (const [argv, env, problem] of cases) {
      const { problems } = compileCommand(argv, env, true);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `${argv.join(" ")}: ${problems.join("; ")}`,
      );
    }
  });

  it("passes values to an interpreter through its argv, and guards arguments that could be options", () => {
    const argv = ["python3", "-c", "import sys; print(sys.argv[1])", "${FD_NAME}"];
    const compiled = compileCommand(argv, {}, true);
    assert.deepEqual(compiled.problems, []);
    assert.deepEqual(compiled.guarded, ["FD_NAME"]);
    assert.throws(() => commandArgv(compiled, render(argv, undefined), new Map([["FD_NAME", "-m"]])), /starts with '-'/);
  });
});
