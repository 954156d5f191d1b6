import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { laterBy } from "../../test/support/clock.ts";
import { KeyedScheduler } from "./scheduler.ts";

const tick = () => new Promise((r) => setImmediate(r));

describe("KeyedScheduler", () => {
  it("runs one key's jobs in order, one at a time, and other keys concurrently", async () => {
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const releases: (() => void)[] = [];
    const s = new KeyedScheduler({ capacity: 100, concurrency: 2, onError: () => {} });
    const job = (key: string, id: string) => ({
      key,
      run: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        log.push(`start ${id}`);
        await new Promise<void>((r) => releases.push(r));
        log.push(`end ${id}`);
        active--;
      },
    });
    s.push(job("pod-a", "a1"));
    s.push(job("pod-a", "a2"));
    s.push(job("pod-b", "b1"));
    await tick();
    assert.deepEqual(log, ["start a1", "start b1"]);
    releases.shift()!();
    await tick();
    assert.deepEqual(log.slice(2), ["end a1", "start a2"]);
    while (releases.length > 0) {
      releases.shift()!();
      await tick();
    }
    await s.idle();
    assert.equal(maxActive, 2);
    assert.ok(log.indexOf("end a1") < log.indexOf("start a2"));
  });

  it("takes jobs that finish synchronously in the same order, with async ones and throwing ones among them", async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const releases: (() => void)[] = [];
    const s = new KeyedScheduler({ capacity: 100_000, concurrency: 2, onError: (e) => errors.push(e) });
    const sync = (key: string, id: string) => ({ key, run: () => void log.push(id) });
    s.push({ key: "a", run: () => new Promise<void>((r) => releases.push(() => r(log.push("a-async") as never))) });
    s.push(sync("a", "a1")); // waits for a-async: same key
    s.push(sync("b", "b1")); // runs at once, within the concurrency left
    s.push({
      key: "b",
      run: () => {
        throw new Error("sync boom");
      },
    });
    s.push(sync("b", "b2"));
    assert.deepEqual(log, ["b1", "b2"]);
    assert.equal(errors.length, 1);
    assert.equal(s.running, 1);
    releases.shift()!();
    await s.idle();
    assert.deepEqual(log, ["b1", "b2", "a-async", "a1"]);
    // A long run of synchronous jobs for one key neither recurses nor stalls.
    for (let i = 0; i < 50_000; i++) s.push(sync("c", `c${i}`));
    await s.idle();
    assert.equal(log.length, 4 + 50_000);
    assert.equal(log.at(-1), "c49999");
    assert.equal(s.queued, 0);
    assert.equal(s.running, 0);
  });

  it("refuses work beyond its capacity instead of dropping it", () => {
    const s = new KeyedScheduler({ capacity: 2, concurrency: 1, onError: () => {} });
    const never = { key: "k", run: () => new Promise<void>(() => {}) };
    assert.equal(s.push(never), true); // starts running
    assert.equal(s.push({ ...never }), true);
    assert.equal(s.push({ ...never }), true);
    assert.equal(s.push({ ...never }), false);
    assert.equal(s.queued, 2);
  });

  it("reports a failing job and keeps going", async () => {
    const errors: unknown[] = [];
    const s = new KeyedScheduler({ capacity: 10, concurrency: 1, onError: (e) => errors.push(e) });
    let ran = false;
    s.push({ key: "k", run: async () => Promise.reject(new Error("boom")) });
    s.push({
      key: "k",
      run: async () => {
        ran = true;
      },
    });
    await s.idle();
    assert.equal(errors.length, 1);
    assert.equal(ran, true);
  });
});

describe("KeyedScheduler progress", () => {
  it("tells how long ago a job last started or finished", async (t) => {
    const s = new KeyedScheduler({ capacity: 10, concurrency: 1, onError: () => {} });
    laterBy(t, 30);
    assert.ok(s.sinceProgressMs >= 25);
    s.push({ key: "k", run: async () => {} });
    assert.ok(s.sinceProgressMs < 25);
    await s.idle();
  });

  it("clear() takes the waiting jobs out, lets the running ones end, and keeps working for their keys", async () => {
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const s = new KeyedScheduler<{ key: string; id: string; run(): Promise<void> }>({ capacity: 100, concurrency: 1, onError: () => {} });
    const job = (key: string, id: string) => ({
      key,
      id,
      run: async () => {
        started.push(id);
        await new Promise<void>((r) => releases.set(id, r));
      },
    });
    s.push(job("pod-a", "a1"));
    s.push(job("pod-a", "a2"));
    s.push(job("pod-b", "b1"));
    await tick();
    const cleared = s.clear();
    assert.deepEqual(cleared.map((j) => j.id).sort(), ["a2", "b1"]);
    assert.equal(s.queued, 0);
    const idle = s.idle();
    releases.get("a1")!();
    await idle;
    assert.deepEqual(started, ["a1"], "the cleared jobs never started");
    s.push(job("pod-a", "a3"));
    s.push(job("pod-b", "b2"));
    await tick();
    assert.deepEqual(started, ["a1", "a3"]);
    releases.get("a3")!();
    await tick();
    assert.deepEqual(started, ["a1", "a3", "b2"]);
    releases.get("b2")!();
    await s.idle();
  });
});
