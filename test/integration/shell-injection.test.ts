// Through the running server: event values that would be code if spliced into a script arrive in
// local:command's shell scripts (directly, through wrappers, with flag clusters) as data, byte for byte,
// and nothing they carry runs; rules that would let a value run as code are refused at load with
// file:line:col. The same for kubernetes:exec and :script is in kubernetes-exec.test.ts.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { postForNotifications, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";

const HOSTILE = [
  "/tmp/x; touch PWNED",
  "$(touch PWNED)",
  "`touch PWNED`",
  "' ; touch PWNED ; '",
  '" ; touch PWNED ; "',
  "a[$(touch PWNED)]",
  "line\ntouch PWNED\n# comment",
  "*",
];

const rules = (dir: string): string => `
- rule: Bare
  match: { rules: [Bare] }
  actions:
    - action: Write
      actionner: local:command
      parameters: { command: [sh, -c, "cd ${dir} && printf '%s' \${FD_NAME} > bare.out"], stdin: none }
- rule: Wrapped
  match: { rules: [Wrapped] }
  actions:
    - action: Write
      actionner: local:command
      parameters: { command: [env, LC_ALL=C, timeout, "5", bash, -ec, "cd ${dir}; printf '%s' '\${FD_NAME}' > single.out # \${FD_NAME}"], stdin: none }
- rule: Double
  match: { rules: [Double] }
  actions:
    - action: Write
      actionner: local:command
      parameters: { command: [busybox, sh, -c, "cd ${dir} && x=\\"$(printf '%s' \\"\${FD_NAME}\\")\\" && printf '%s' \\"$x\\" > double.out"], stdin: none }
`;

describe("event values in local:command scripts, through the server", () => {
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kestrel-inject-"));
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: rules(dir),
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [rule, file, expected] of [
    ["Bare", "bare.out", (v: string) => v],
    ["Wrapped", "single.out", (v: string) => v],
    ["Double", "double.out", (v: string) => v.replace(/\n+$/, "")],
  ] as const) {
    it(`${rule}: each value arrives byte for byte and runs nothing`, async () => {
      for (const value of HOSTILE) {
        const [n] = await postForNotifications(kestrel, receiver, { rule, fields: { "fd.name": value }, count: 1, timeoutMs: 10_000 });
        assert.equal(n!.status, "success", n!.error);
        assert.equal(await readFile(join(dir, file), "utf8"), expected(value), JSON.stringify(value));
        assert.ok(!existsSync(join(dir, "PWNED")), `${rule} ran ${JSON.stringify(value)}`);
      }
      assert.ok(
        (await readdir(dir)).every((f) => f.endsWith(".out")),
        (await readdir(dir)).join(", "),
      );
    });
  }

  it("refuses a value that would be read as an option, and says so", async () => {
    const [n] = await postForNotifications(kestrel, receiver, { rule: "Bare", fields: { "fd.name": "-n" }, count: 1, timeoutMs: 10_000 });
    assert.equal(n!.status, "failure");
    assert.match(n!.error ?? "", /\$\{FD_NAME\} starts with '-'/);
  });

  it("refuses at load, with file:line:col, rules that would evaluate a value", async () => {
    for (const [command, problem] of [
      [`[sh, -c, "eval \\"\${FD_NAME}\\""]`, /eval's argument is evaluated as code/],
      [`[nice, -n, "1", sh, -c, "echo $((\${FD_NAME}))"]`, /inside an arithmetic expression/],
      [`[python3, -c, "print('\${FD_NAME}')"]`, /program text of python -c/],
      [`[sh, -c, "cat <<EOF\\n\${FD_NAME}\\nEOF"]`, /line 2, column 1: \$\{FD_NAME\} is inside a here-document/],
      [`["/usr/local/bin/\${PROC_NAME}"]`, /must not choose the program/],
    ] as const) {
      await assert.rejects(
        startKestrel({
          rules: `- rule: R\n  match: { rules: [R] }\n  actions:\n    - action: A\n      actionner: local:command\n      parameters: { command: ${command} }\n`,
        }),
        (err: Error) => problem.test(err.message) && /rules\.yaml:6:\d+: error/.test(err.message),
      );
    }
  });

  it("checks a kubernetes:script file at load too, as each run would", async () => {
    const file = join(dir, "respond.sh");
    await writeFile(file, "ps aux\ncat <<EOF\n${FD_NAME}\nEOF\n");
    await assert.rejects(
      startKestrel({
        rules: `- rule: R\n  match: { rules: [R] }\n  actions:\n    - action: A\n      actionner: kubernetes:script\n      parameters: { file: ${file} }\n`,
      }),
      (err: Error) => /respond\.sh: line 3, column 1: \$\{FD_NAME\} is inside a here-document/.test(err.message),
    );
  });
});
