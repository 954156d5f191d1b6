// The file and program notifiers through the running server, and SIGUSR1 sent to a real `kestrel server`
// process: the file is reopened after a logrotate-style move and the keep_alive program restarted.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { ACT_OK_RULES, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KestrelProcess, startKestrelProcess } from "../support/process.ts";
import { until } from "../support/wait.ts";

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

async function metric(k: RunningKestrel, notifier: string, status: string): Promise<number> {
  const text = await (await fetch(`${k.url}/metrics`)).text();
  const m = new RegExp(`kestrel_notifications_total\\{notifier="${notifier}",status="${status}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("file and program notifiers through the server", () => {
  const running: RunningKestrel[] = [];
  after(async () => {
    for (const k of running) await k.close();
  });

  it("file: one JSON line per result, flushed by close", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-notify-file-"));
    const filename = join(dir, "events.txt");
    const k = await startKestrel({
      rules: ACT_OK_RULES,
      config: `default_notifiers: [file]\nnotifiers:\n  file:\n    filename: ${filename}\n    keep_alive: true\n`,
    });
    running.push(k);
    for (let i = 0; i < 3; i++) await k.post(falcoEvent());
    await until(async () => (await lines(filename)).length === 3, "3 lines");
    const body = JSON.parse((await lines(filename))[0]!) as Record<string, unknown>;
    assert.equal(body["rule"], "Act");
    assert.equal(body["actionner"], "local:command");
    assert.equal(body["status"], "success");
    assert.equal(await metric(k, "file", "success"), 3);
  });

  it("program: keep_alive false runs one process per result; a failing program is counted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-notify-program-"));
    const out = join(dir, "out.txt");
    const k = await startKestrel({
      rules: `${ACT_OK_RULES}  notifiers: [program]\n`,
      config: `notifiers:\n  program:\n    program: "cat >> ${out}; echo pid=$$ >> ${out}; test ! -e ${dir}/fail"\n    format: text\n`,
    });
    running.push(k);
    await k.post(falcoEvent());
    await k.post(falcoEvent());
    await until(async () => (await lines(out)).filter((l) => l.startsWith("pid=")).length === 2, "two processes");
    const l = await lines(out);
    assert.equal(new Set(l.filter((x) => x.startsWith("pid="))).size, 2, "a process per result");
    assert.equal(l.filter((x) => / Success rule=Act /.test(x)).length, 2);
    await writeFile(join(dir, "fail"), "");
    await k.post(falcoEvent());
    await until(() => k.logs.some((x) => x["msg"] === "notification failed" && x["notifier"] === "program"), "failure", 5000);
    assert.equal(await metric(k, "program", "failure"), 1);
    assert.equal(await metric(k, "program", "success"), 2);
  });
});

describe("SIGUSR1 to a kestrel server process", () => {
  let kestrel: KestrelProcess | undefined;
  after(() => {
    kestrel?.kill();
  });

  it("reopens the file after a move and restarts the keep_alive program", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-sigusr1-"));
    const filename = join(dir, "events.txt");
    const out = join(dir, "program.txt");
    const config = join(dir, "config.yaml");
    const rules = join(dir, "rules.yaml");
    await writeFile(
      config,
      `listen_address: 127.0.0.1\nlisten_port: 0\ndefault_notifiers: [file, program]\nnotifiers:\n  file:\n    filename: ${filename}\n    keep_alive: true\n  program:\n    program: "echo start >> ${out}; exec cat >> ${out}"\n    keep_alive: true\n`,
    );
    await writeFile(rules, ACT_OK_RULES);
    const proc = await startKestrelProcess({ config, rules, env: { LOG_FORMAT: "json" }, timeoutMs: 10_000 });
    kestrel = proc;
    const post = () => proc.post(falcoEvent());

    await post();
    await until(async () => (await lines(filename)).length === 1 && (await lines(out)).length === 2, "first line in both");
    await rename(filename, `${filename}.1`);
    proc.child.kill("SIGUSR1");
    await proc.waitForLine("SIGUSR1: reopening the output file", 5000, "reopen log");
    await post();
    await until(async () => (await lines(filename)).length === 1, "a new file at filename");
    assert.equal((await lines(`${filename}.1`)).length, 1, "the moved file got no new line");
    await until(async () => (await lines(out)).filter((l) => l === "start").length === 2, "program restarted");
    await until(async () => (await lines(out)).filter((l) => l.startsWith("{")).length === 2, "both lines through the program");

    assert.equal(await proc.stop(), 0, "SIGUSR1 did not kill the server; it still stops cleanly");
  });
});
