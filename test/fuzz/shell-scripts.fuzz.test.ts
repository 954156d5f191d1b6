// Event values never become shell code (template/shell.ts): for every script shape of the corpus below, either
// `rules check` refuses it, or the compiled script, run by dash, bash and busybox sh with hostile values as
// its positional parameters, prints each value byte for byte and leaves no side effect. The corpus holds
// every quoting context, comments, nested substitutions, here-documents, wrappers and flag clusters; the
// values hold quotes, $( ), backticks, newlines, binary, a leading '-', globs and a[$(cmd)].
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { KestrelError } from "../../src/errors.ts";
import { compileShellScript, scriptValues } from "../../src/template/shell.ts";

const SHELLS: { name: string; argv: string[] }[] = [
  { name: "dash", argv: ["dash"] },
  { name: "bash", argv: ["bash"] },
  { name: "busybox sh", argv: ["busybox", "sh"] },
].filter((s) => {
  try {
    execFileSync(s.argv[0]!, [...s.argv.slice(1), "-c", "true"]);
    return true;
  } catch {
    return false;
  }
});

const dir = mkdtempSync(join(tmpdir(), "kestrel-shell-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each value, if it ever ran as code, would create a file in the working directory. */
const HOSTILE = [
  "plain",
  "",
  " ",
  "two words",
  "$(touch subst)",
  "`touch backtick`",
  "'; touch quote; '",
  '"; touch dquote; "',
  '"$(touch dq_subst)"',
  "a[$(touch subscript)]",
  "x[$(touch arith)]+1",
  "line1\ntouch newline",
  "\n# comment\ntouch after_comment\n",
  "EOF\ntouch heredoc_end\nEOF",
  "-n",
  "--help",
  "-e \\x41",
  "*",
  "/*",
  "~",
  "$HOME",
  "${HOME}",
  "\\",
  "a\\",
  "\\$(touch bs)",
  "%s%n%d",
  "$((1+1))",
  "!!",
  "{a,b}",
  "\u00e9\u4e2d\u{1F600}",
  "\u0001\u0002\u007f\u00ff",
  "$'\\x41'",
  "|| touch oror",
  "; touch semicolon",
  "& touch amp",
  "> redirected",
];

/** A value an attacker could send: any text without NUL. */
const hostileValue = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(
        "'",
        '"',
        "$",
        "`",
        "\\",
        "\n",
        " ",
        ";",
        "|",
        "&",
        "(",
        ")",
        "*",
        "?",
        "~",
        "#",
        "!",
        "{",
        "}",
        "[",
        "]",
        "-",
        "=",
        "%",
      ),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0"),
    ),
    maxLength: 24,
  }),
);

interface Shape {
  readonly script: string;
  /** What the script prints for the value V (and W); undefined: rules check must refuse it. */
  readonly expected?: (v: string, w: string) => string;
  readonly only?: string;
}

const trailingNewlinesCut = (v: string): string => v.replace(/\n+$/, "");

const ACCEPTED: Shape[] = [
  { script: "printf '[%s]' ${V}", expected: (v) => `[${v}]` },
  { script: "printf '[%s]' '${V}'", expected: (v) => `[${v}]` },
  { script: "printf '[%s]' \"${V}\"", expected: (v) => `[${v}]` },
  { script: "printf '[%s]' pre-${V}-post", expected: (v) => `[pre-${v}-post]` },
  { script: "printf '[%s]' 'a ${V} b'", expected: (v) => `[a ${v} b]` },
  { script: "printf '[%s]' \"a ${V} b\"", expected: (v) => `[a ${v} b]` },
  { script: "printf '[%s]' x${V}'${V}'\"${V}\"", expected: (v) => `[x${v}${v}${v}]` },
  { script: "printf '[%s]' ${V} ${W}", expected: (v, w) => `[${v}][${w}]` },
  { script: "printf '[%s]' \"${V}${W}\"", expected: (v, w) => `[${v}${w}]` },
  { script: "printf '[%s]' \"$(printf '%s' ${V})\"", expected: (v) => `[${trailingNewlinesCut(v)}]` },
  { script: "printf '[%s]' \"$(printf '%s' \"${V}\")\"", expected: (v) => `[${trailingNewlinesCut(v)}]` },
  { script: "printf '[%s]' \"$(printf '%s' \"$(printf '%s' '${V}')\")\"", expected: (v) => `[${trailingNewlinesCut(v)}]` },
  { script: "# the value ${V} in a comment\nprintf '[%s]' ${V}", expected: (v) => `[${v}]` },
  { script: "printf '[%s]' ${V} # and ${W} after\nprintf '[%s]' ${W}", expected: (v, w) => `[${v}][${w}]` },
  { script: "x=${V}; printf '[%s]' \"$x\"", expected: (v) => `[${v}]` },
  { script: 'x="${V}" y=\'${W}\'; printf \'[%s]\' "$x" "$y"', expected: (v, w) => `[${v}][${w}]` },
  { script: "for f in ${V}; do printf '[%s]' \"$f\"; done", expected: (v) => `[${v}]` },
  { script: "case ${V} in *) printf '[%s]' ${V};; esac", expected: (v) => `[${v}]` },
  { script: "if [ -n \"${V}\" ]; then printf '[%s]' ${V}; else printf 'empty'; fi", expected: (v) => (v === "" ? "empty" : `[${v}]`) },
  { script: "printf '[%s]' ${V} | cat", expected: (v) => `[${v}]` },
  { script: "printf '[%s]' \"${V}\" > out.txt && cat out.txt && rm out.txt", expected: (v) => `[${v}]` },
  { script: "f() { printf '[%s]' \"$1\"; }; f ${V}", expected: (v) => `[${v}]` },
  { script: 'sh -c \'printf "[%s]" "$1"\' sh ${V}', expected: (v) => `[${v}]` },
  { script: 'sh -c \'printf "[%s]" "$0"\' "${V}"', expected: (v) => `[${v}]` },
  { script: 'env X=1 sh -ec \'printf "[%s]" "$1"\' sh ${V}', expected: (v) => `[${v}]` },
  { script: "set -e; printf '[%s]' \"$#\" ${V}", expected: (v) => `[0][${v}]` },
  { script: "printf '[%s]' -- ${V}", expected: (v) => `[--][${v}]` },
  { script: "cat <<'EOF'\nliteral $HOME\nEOF\nprintf '[%s]' ${V}", expected: (v) => `literal $HOME\n[${v}]` },
];

const REFUSED: Shape[] = [
  { script: "cat <<EOF\n${V}\nEOF" },
  { script: "cat <<-EOF\n\t${V}\n\tEOF" },
  { script: "sh -c \"printf '[%s]' ${V}\"" },
  { script: 'sh -ec "${V}"' },
  { script: 'bash -lc "${V}"' },
  { script: 'sh -xc "echo ${V}"' },
  { script: 'sh -c -- "${V}"' },
  { script: 'env sh -c "${V}"' },
  { script: 'timeout 5 sh -c "${V}"' },
  { script: 'nice -n 5 sh -c "${V}"' },
  { script: 'nohup sh -c "${V}"' },
  { script: 'setsid sh -c "${V}"' },
  { script: 'stdbuf -oL sh -c "${V}"' },
  { script: 'busybox sh -c "${V}"' },
  { script: 'x=${V}; sh -c "echo $x"' },
  { script: "eval \"printf '[%s]' ${V}\"" },
  { script: 'x=${V}; eval "$x"' },
  { script: "printf '[%s]' $((${V}))" },
  { script: "x=${V}; printf '[%s]' $((x + 1))" },
  { script: "x=${V}; y=$x; printf '[%s]' $((y))" },
  { script: "printf '[%s]' \\${V}" },
  { script: "printf '[%s]' \"\\${V}\"" },
  { script: "printf '[%s]' $'${V}'" },
  { script: "printf '[%s]' `printf '%s' ${V}`" },
  { script: "printf '[%s]' \"`printf '%s' ${V}`\"" },
  { script: "printf '[%s]' ${V:-x}".replace("${V:-x}", "$${V:-${V}}") },
  { script: "${V} --version" },
  { script: '"${V}"' },
  { script: "printf ${V}" },
  { script: 'printf "[${V}]"' },
  { script: "python3 -c \"print('${V}')\"" },
  { script: "perl -e 'print \"${V}\"'" },
  { script: "node -e \"console.log('${V}')\"" },
  { script: 'awk "BEGIN { print \\"${V}\\" }"' },
  { script: "awk -v x=${V} 'BEGIN { print x }'" },
  { script: 'sed "s/a/${V}/"' },
  { script: 'trap "${V}" EXIT' },
  { script: ". ${V}" },
  { script: "source ${V}" },
  { script: "read ${V}" },
  { script: "unset ${V}" },
  { script: "test -v ${V}" },
  { script: "printf -v ${V} x", only: "bash" },
  { script: "let x=${V}", only: "bash" },
  { script: "declare -i n=${V}", only: "bash" },
  { script: "(( ${V} ))", only: "bash" },
  { script: "x=${V}; (( x > 1 ))", only: "bash" },
  { script: "[[ ${V} -eq 1 ]]", only: "bash" },
  { script: "x=${V}; [[ $x -gt 1 ]]", only: "bash" },
  { script: "a[${V}]=1", only: "bash" },
  { script: "x=${V}; a=(1); printf '%s' \"${a[$x]}\"".replace("${a[$x]}", "$${a[$x]}"), only: "bash" },
  { script: 'read -r line; eval "$line" ${V}' },
  { script: "echo x | xargs -I{} sh -c 'echo {}' ${V}" },
  { script: "ssh host cat ${V}" },
  { script: "watch cat ${V}" },
  { script: 'f() { eval "$1"; }; f ${V}' },
  { script: 'function f { sh -c "$1"; }; f ${V}', only: "bash" },
  { script: 'set -- ${V}; eval "$1"' },
  { script: "eval 'eval \"$x\"' x=${V}".replace("x=${V}", "; x=${V}") },
  { script: "x=${V}; eval 'eval \"$x\"'" },
  { script: "x=${V}; trap 'eval \"$x\"' EXIT" },
  { script: "export x=${V}; sh -c 'eval \"$x\"'" },
  { script: 'SHELL=sh; $SHELL -c "${V}"' },
  { script: 'c=eval; $c "${V}"' },
  { script: "printf '%s' ${V} | sh" },
  { script: "printf '%s' ${V} | bash -s" },
  { script: "printf '%s' ${V} | python3" },
  { script: "printf '%s' ${V} > /tmp/f; . /dev/stdin < /tmp/f" },
  { script: 'command eval "${V}"' },
  { script: 'builtin eval "${V}"', only: "bash" },
  { script: 'exec sh -c "${V}"' },
  { script: 'sudo -s "${V}"' },
  { script: "printf '%s' ${V} > /tmp/k.sh; sh /tmp/k.sh" },
  { script: "printf '%s' ${V} | tee run.py >/dev/null; python3 run.py" },
  { script: "printf '%s' ${V} >> ./x; chmod +x ./x; ./x" },
  { script: "printf '%s' ${V} > lib.sh; . lib.sh" },
  { script: "printf '%s' \"$(case ${V} in a) echo a;; esac)\"" },
];

/**
 * Runs a compiled script once per set of values, all in one driver process of that shell (a spawn from
 * Node per value would take a minute): each run is `shell -c SCRIPT kestrel VALUES…`, its output ended by a
 * NUL. Sets refused at run time (a leading '-' where an option could be read) are not run.
 */
function runAll(shell: string[], script: string, sets: Map<string, string>[]): { outputs: (string | undefined)[]; argvs: string[][] } {
  const compiled = compileShellScript(script).script;
  const argvs: string[][] = [];
  const refused = sets.map((vars) => {
    try {
      argvs.push(scriptValues(compiled, vars));
      return false;
    } catch (err) {
      assert.ok(err instanceof KestrelError && err.code === "ERR_TEMPLATE", String(err));
      assert.match(err.message, /starts with '-'/);
      return true;
    }
  });
  const n = compiled.variables.length;
  const self = shell.join(" ");
  const driver = `script=$1; shift; while [ $# -gt 0 ]; do ${self} -c "$script" kestrel${Array.from({ length: n }, (_, i) => ` "$${i + 1}"`).join("")} 2>&1 </dev/null; printf '\\000'; shift ${n}; done`;
  const out = execFileSync(shell[0]!, [...shell.slice(1), "-c", driver, "driver", compiled.text, ...argvs.flat()], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent" },
    encoding: "latin1",
    maxBuffer: 64 * 1024 * 1024,
  });
  const ran = out.split("\0").slice(0, -1);
  let k = 0;
  return { outputs: refused.map((r) => (r ? undefined : ran[k++])), argvs };
}

const latin1 = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

describe("event values in shell scripts, through dash, bash and busybox sh", () => {
  it("has the shells to test with", () => {
    assert.ok(SHELLS.length >= 2, `found ${SHELLS.map((s) => s.name).join(", ")}`);
    if (process.env["CI"] !== undefined) assert.equal(SHELLS.length, 3, "CI installs dash, bash and busybox");
  });

  for (const shape of REFUSED) {
    it(`refuses ${JSON.stringify(shape.script)}`, () => {
      const { problems } = compileShellScript(shape.script);
      assert.ok(problems.length > 0, `accepted: ${compileShellScript(shape.script).script.text}`);
      for (const p of problems) assert.match(p, /^line \d+, column \d+: /);
    });
  }

  for (const shape of ACCEPTED) {
    it(`passes every value as data: ${JSON.stringify(shape.script)}`, () => {
      const { problems, script } = compileShellScript(shape.script);
      assert.deepEqual(problems, [], script.text);
      const pairs: [string, string][] = HOSTILE.map((v, i) => [v, HOSTILE[(i + 5) % HOSTILE.length]!]);
      pairs.push(...fc.sample(fc.tuple(hostileValue, hostileValue), { numRuns: 16 }));
      const sets = pairs.map(
        ([v, w]) =>
          new Map([
            ["V", v],
            ["W", w],
          ]),
      );
      for (const shell of SHELLS) {
        const { outputs } = runAll(shell.argv, shape.script, sets);
        assert.deepEqual(readdirSync(dir), [], `${shell.name}: a value ran as code through ${script.text}`);
        outputs.forEach((out, i) => {
          if (out === undefined) return; // refused at run time: nothing ran
          const [v, w] = pairs[i]!;
          assert.equal(
            out,
            latin1(shape.expected!(v, w)),
            `${shell.name}: ${JSON.stringify(v)} ${JSON.stringify(w)} through ${script.text}`,
          );
        });
      }
    });
  }

  it("would have been exploitable without the refusals: the naive splice runs the value", () => {
    // The same value spliced into the text of a refused shape runs as code (this is what Talon does).
    execFileSync("sh", ["-c", "eval \"printf '[%s]' $(touch spliced)\""], { cwd: dir });
    assert.ok(existsSync(join(dir, "spliced")));
    rmSync(join(dir, "spliced"));
  });
});
