import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import pino from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import { until } from "../../test/support/wait.ts";
import { KestrelError } from "../errors.ts";
import { reopenOutputs } from "./_reopen.ts";
import program, { KeptProgram } from "./program.ts";

const ctx = { clients: {} as never, log: pino({ enabled: false }) };
const signal = new AbortController().signal;

async function tmpFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "kestrel-program-")), "out.txt");
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

describe("program notifier, keep_alive false", () => {
  it("runs the command through /bin/sh once per notification with the JSON line on stdin", async () => {
    const out = await tmpFile();
    const inst = await program.create(program.params.parse({ program: `cat >> '${out}'; echo done >> '${out}'` }), ctx);
    await inst.send(makeNotification({ summary: "one" }), signal);
    await inst.send(makeNotification({ summary: "two" }), signal);
    const lines = await readLines(out);
    assert.equal(lines.length, 4);
    assert.equal((JSON.parse(lines[0]!) as { output: string }).output, "one");
    assert.equal(lines[1], "done");
    assert.equal((JSON.parse(lines[2]!) as { output: string }).output, "two");
  });

  it("fails (not retryable) on a non-zero exit, with the program's stderr", async () => {
    const inst = await program.create(program.params.parse({ program: "cat > /dev/null; echo broken >&2; exit 3" }), ctx);
    await assert.rejects(
      inst.send(makeNotification(), signal),
      (e: unknown) => e instanceof KestrelError && !e.retryable && /exited with code 3: broken/.test(e.message),
    );
  });

  it("kills the program when the deadline passes", async () => {
    const inst = await program.create(program.params.parse({ program: "sleep 30" }), ctx);
    const started = Date.now();
    await assert.rejects(inst.send(makeNotification(), AbortSignal.timeout(100)), /killed by SIGKILL/);
    assert.ok(Date.now() - started < 2000);
  });
});

describe("program notifier, keep_alive true", () => {
  it("feeds one long-lived process one text line per notification", async () => {
    const out = await tmpFile();
    const inst = await program.create(
      program.params.parse({ program: `echo start >> '${out}'; exec cat >> '${out}'`, keep_alive: true, format: "text" }),
      ctx,
    );
    for (let i = 0; i < 5; i++) await inst.send(makeNotification({ summary: `line ${i}` }), signal);
    await inst.close?.();
    const lines = await readLines(out);
    assert.equal(lines.filter((l) => l === "start").length, 1, "one process");
    assert.equal(lines.length, 6);
    assert.match(lines[5]!, /output="line 4"/);
  });

  it("restarts the program when it exits and on SIGUSR1 (reopenOutputs)", async () => {
    const out = await tmpFile();
    // `head -n 1` exits after one line: the next notification needs a new process.
    const kept = new KeptProgram(`echo start >> '${out}'; head -n 1 >> '${out}'`, 100, pino({ enabled: false }));
    await kept.write("a");
    await until(() => kept.started === 1, "first start", 2000);
    await until(() => !kept.running, "the first process exited", 3000);
    await kept.write("b");
    await until(() => kept.started === 2, "restart after exit", 2000);
    await kept.close();
    const l1 = await readLines(out);
    assert.deepEqual(
      l1.filter((l) => l !== "start"),
      ["a", "b"],
    );
    assert.equal(l1.filter((l) => l === "start").length, 2);

    const out2 = await tmpFile();
    const inst = await program.create(
      program.params.parse({ program: `echo start >> '${out2}'; exec cat >> '${out2}'`, keep_alive: true }),
      ctx,
    );
    await inst.send(makeNotification({ summary: "before" }), signal);
    reopenOutputs();
    await inst.send(makeNotification({ summary: "after" }), signal);
    await inst.close?.();
    const l2 = await readLines(out2);
    assert.deepEqual(l2.filter((l) => l === "start").length, 2, l2.join("\n"));
    assert.ok(l2.some((l) => l.includes('"output":"before"')) && l2.some((l) => l.includes('"output":"after"')));
  });

  it("respects stdin backpressure and bounds the waiting lines", async () => {
    // A program that does not read: the pipe fills up, writes wait, then new lines fail retryable.
    const kept = new KeptProgram("sleep 30", 3, pino({ enabled: false }));
    const big = "x".repeat(200_000);
    const first = kept.write(big);
    const queued = [kept.write("1"), kept.write("2"), kept.write("3")];
    const settled = Promise.allSettled([first, ...queued]);
    await assert.rejects(kept.write("4"), (e: unknown) => e instanceof KestrelError && e.retryable);
    let firstDone = false;
    void first.then(
      () => (firstDone = true),
      () => (firstDone = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(firstDone, false, "the write waits for the reader");
    const closing = Date.now();
    await kept.close(100);
    assert.ok(Date.now() - closing < 2000, "close kills a program that does not read");
    const results = await settled;
    assert.ok(
      results.every((r) => r.status === "rejected"),
      "lines the program never took are failures",
    );
  });

  it("refuses a program that would run the notification's text as code, with the line and column", () => {
    for (const [text, problem] of [
      ["sh", /shell reading its script from standard input/],
      ["cat | bash -s", /shell reading its script from standard input/],
      ['read line; eval "$line"', /eval's argument/],
      ['x=$(cat); sh -c "$x"', /script of sh -c/],
      ["python3", /python reading its program from standard input/],
    ] as const) {
      const r = program.params.safeParse({ program: text });
      assert.equal(r.success, false, text);
      assert.match(r.error!.issues[0]!.message, problem);
      assert.match(r.error!.issues[0]!.message, /^line 1, column \d+: /);
    }
    for (const ok of ["cat >> /var/log/kestrel.log", 'echo "${HOME}" >/dev/null; exec cat', "jq -c . | logger -t kestrel"]) {
      assert.equal(program.params.safeParse({ program: ok }).success, true, ok);
    }
  });
});
