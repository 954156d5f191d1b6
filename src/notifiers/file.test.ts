import assert from "node:assert/strict";
import { mkdtemp, readFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import pino from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import { KestrelError } from "../errors.ts";
import { onReopen, reopenOutputs } from "./_reopen.ts";
import file, { LineFile } from "./file.ts";

const ctx = { clients: {} as never, log: pino({ enabled: false }) };
const signal = new AbortController().signal;

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), "kestrel-file-"));
}

describe("file notifier", () => {
  for (const keep_alive of [false, true]) {
    it(`appends one JSON line per notification (keep_alive ${keep_alive}) and reopens after a move`, async () => {
      const dir = await tmp();
      const filename = join(dir, "events.txt");
      const inst = await file.create(file.params.parse({ filename, keep_alive }), ctx);
      await inst.send(makeNotification({ summary: "one" }), signal);
      await inst.send(makeNotification({ summary: "two" }), signal);
      const lines = (await readFile(filename, "utf8")).split("\n");
      assert.equal(lines.length, 3);
      assert.equal(lines[2], "");
      assert.equal((JSON.parse(lines[0]!) as { output: string }).output, "one");
      assert.equal((JSON.parse(lines[1]!) as { trace_id: string }).trace_id, "0b5e1f0c-3a4e-4c1e-9a43-4a7d9d6c2f11");
      // logrotate: move the file, signal, new lines go to a new file at `filename`.
      await rename(filename, `${filename}.1`);
      reopenOutputs();
      await inst.send(makeNotification({ summary: "three" }), signal);
      assert.match(await readFile(filename, "utf8"), /"output":"three"/);
      assert.doesNotMatch(await readFile(`${filename}.1`, "utf8"), /three/);
      await inst.close?.();
    });
  }

  it("writes text lines", async () => {
    const filename = join(await tmp(), "events.txt");
    const inst = await file.create(file.params.parse({ filename, format: "text" }), ctx);
    await inst.send(makeNotification({ status: "failure", error: "nope" }), signal);
    assert.match(
      await readFile(filename, "utf8"),
      /^2024-12-30T14:37:28\.123Z: Failure rule="Terminal shell in container" .*error=nope.*\n$/,
    );
    await inst.close?.();
  });

  it("fails non-retryable when the directory does not exist", async () => {
    const inst = await file.create(file.params.parse({ filename: "/nonexistent-dir/x/events.txt" }), ctx);
    await assert.rejects(
      inst.send(makeNotification(), signal),
      (e: unknown) => e instanceof KestrelError && !e.retryable && /failed to write/.test(e.message),
    );
    await inst.close?.();
  });

  it("bounds its buffer: lines over the limit fail at once, retryable; the others are written", async () => {
    const filename = join(await tmp(), "events.txt");
    const f = new LineFile(filename, true, 2);
    const writes = [f.write("a"), f.write("b"), f.write("c"), f.write("d")];
    const results = await Promise.allSettled(writes);
    const rejected = results.filter((r) => r.status === "rejected");
    assert.ok(rejected.length >= 1, "some writes were refused");
    for (const r of rejected)
      assert.ok((r as PromiseRejectedResult).reason instanceof KestrelError && (r as PromiseRejectedResult).reason.retryable);
    await f.close();
    const written = (await readFile(filename, "utf8")).split("\n").filter((l) => l !== "");
    assert.equal(written.length, 4 - rejected.length);
  });

  it("has one SIGUSR1 listener however many notifiers, removed when the last closes", async () => {
    const before = process.listenerCount("SIGUSR1");
    const dir = await tmp();
    const a = await file.create(file.params.parse({ filename: join(dir, "a") }), ctx);
    const b = await file.create(file.params.parse({ filename: join(dir, "b") }), ctx);
    assert.equal(process.listenerCount("SIGUSR1"), before + 1);
    await a.close?.();
    assert.equal(process.listenerCount("SIGUSR1"), before + 1);
    await b.close?.();
    assert.equal(process.listenerCount("SIGUSR1"), before);
    let calls = 0;
    const off = onReopen(() => calls++);
    reopenOutputs();
    off();
    reopenOutputs();
    assert.equal(calls, 1);
  });
});
