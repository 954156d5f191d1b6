import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TurnBatch } from "./turn-batch.ts";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recorder(limit: number, handle?: (a: string, b: number) => void) {
  const log: string[] = [];
  const batch = new TurnBatch<string, number>({
    limit,
    handle: (a, b, t) => {
      log.push(`${a}:${b}@${t}`);
      handle?.(a, b);
    },
    onError: (err, a) => log.push(`error ${a}: ${(err as Error).message}`),
    after: () => log.push("after"),
  });
  return { batch, log };
}

describe("TurnBatch", () => {
  it("processes what arrived in one turn together, at its end, in order", async () => {
    const { batch, log } = recorder(16);
    batch.push("a", 1, 10);
    batch.push("b", 2, 11);
    batch.push("c", 3, 12);
    assert.deepEqual(log, [], "nothing is processed inside the turn");
    assert.equal(batch.size, 3);
    await nextTurn();
    assert.deepEqual(log, ["a:1@10", "b:2@11", "c:3@12", "after"]);
    assert.equal(batch.size, 0);
    batch.push("d", 4, 13);
    await nextTurn();
    assert.deepEqual(log.slice(4), ["d:4@13", "after"], "a later turn is a new batch");
  });

  it("processes the batch at once when it is full, the rest at the end of the turn", async () => {
    const { batch, log } = recorder(2);
    batch.push("a", 1, 0);
    batch.push("b", 2, 0);
    assert.deepEqual(log, ["a:1@0", "b:2@0", "after"]);
    batch.push("c", 3, 0);
    assert.equal(log.length, 3);
    await nextTurn();
    assert.deepEqual(log.slice(3), ["c:3@0", "after"]);
    await nextTurn();
    assert.equal(log.length, 5, "nothing is processed twice");
  });

  it("hands an item whose processing throws to onError and goes on with the others", async () => {
    const { batch, log } = recorder(16, (a) => {
      if (a === "bad") throw new Error("boom");
    });
    batch.push("a", 1, 0);
    batch.push("bad", 2, 0);
    batch.push("c", 3, 0);
    await nextTurn();
    assert.deepEqual(log, ["a:1@0", "bad:2@0", "error bad: boom", "c:3@0", "after"]);
  });

  it("goes on when onError itself throws", async () => {
    const handled: string[] = [];
    const batch = new TurnBatch<string, number>({
      limit: 16,
      handle: (a) => {
        handled.push(a);
        throw new Error("always");
      },
      onError: () => {
        throw new Error("the error path fails too");
      },
    });
    batch.push("a", 1, 0);
    batch.push("b", 2, 0);
    await nextTurn();
    assert.deepEqual(handled, ["a", "b"]);
    batch.push("c", 3, 0);
    await nextTurn();
    assert.deepEqual(handled, ["a", "b", "c"], "the batch is still usable");
  });

  it("keeps items pushed while a batch is processed for the next batch", async () => {
    let pushed = false;
    const { batch, log } = recorder(2, (a) => {
      if (!pushed && a === "a") {
        pushed = true;
        batch.push("x", 9, 1);
        batch.push("y", 9, 1); // reaches the limit while processing: not processed inside this batch
      }
    });
    batch.push("a", 1, 0);
    batch.push("b", 2, 0);
    assert.deepEqual(log, ["a:1@0", "b:2@0", "after"]);
    await nextTurn();
    assert.deepEqual(log.slice(3), ["x:9@1", "y:9@1", "after"]);
  });
});
