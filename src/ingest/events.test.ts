// The event route on a real node:http server (127.0.0.1), with an engine that records what it is asked:
// requests whose bodies arrive in the same event-loop turn are processed as one batch, in arrival order,
// each answered with its own result, and the batch's events are handed to the workers once, right after.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../../test/support/events.ts";
import type { Engine, Submission, SubmitResult } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { eventRoute } from "./events.ts";

interface Call {
  kind: "submit" | "dispatch";
  rule?: string;
  receivedAt?: number;
  at: number;
}

function recordingEngine(calls: Call[]): Engine {
  const engine = {
    // As the engine's: one result per event, a failure is that event's result, and the batch's jobs are
    // handed to the workers once, after the whole batch.
    submitAll(batch: readonly Submission[]): SubmitResult[] {
      const results = batch.map(({ event, receivedAt }): SubmitResult => {
        calls.push({ kind: "submit", rule: event.rule, receivedAt, at: performance.now() });
        if (event.rule === "Throws") return { error: new TypeError("an unexpected bug") };
        return event.rule.startsWith("Matched") ? "queued" : "unmatched";
      });
      calls.push({ kind: "dispatch", at: performance.now() });
      return results;
    },
  };
  return engine as unknown as Engine;
}

const problems: string[] = [];
const observer = {
  eventRejected: () => {},
  problem: (message: string) => problems.push(message),
} as unknown as EngineObserver;

/** Sends complete requests on `n` connected sockets in one synchronous loop and reads each answer. */
async function postAtOnce(port: number, rules: string[]): Promise<{ status: number; body: string }[]> {
  const sockets = await Promise.all(
    rules.map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, "127.0.0.1", () => resolve(s));
          s.on("error", reject);
        }),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 20)); // the server has accepted every connection
  const answers = sockets.map(
    (s) =>
      new Promise<{ status: number; body: string }>((resolve) => {
        let text = "";
        s.setEncoding("utf8");
        s.on("data", (chunk: string) => {
          text += chunk;
          const head = text.indexOf("\r\n\r\n");
          const length = /content-length: (\d+)/i.exec(text);
          if (head >= 0 && length !== null && text.length >= head + 4 + Number(length[1])) {
            resolve({ status: Number(text.slice(9, 12)), body: text.slice(head + 4) });
            s.destroy();
          }
        });
      }),
  );
  sockets.forEach((s, i) => {
    const body = falcoEvent({ rule: rules[i]! });
    s.write(
      `POST / HTTP/1.1\r\nhost: kestrel\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return Promise.all(answers);
}

describe("event route", () => {
  const calls: Call[] = [];
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer(eventRoute({ engine: recordingEngine(calls), observer, bodyLimit: 1 << 20 }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("processes the bodies of one turn together, in order, and dispatches once after them", async () => {
    calls.length = 0;
    const rules = Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? `Matched ${i}` : `Other ${i}`));
    const answers = await postAtOnce(port, rules);
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200);
      assert.equal(JSON.parse(answer.body).result, i % 3 === 0 ? "queued" : "unmatched", `answer ${i} is its own event's`);
    });
    assert.deepEqual(
      calls.map((c) => c.kind),
      [...rules.map(() => "submit"), "dispatch"],
      "one batch: every event submitted, then one dispatch",
    );
    assert.deepEqual(
      calls.filter((c) => c.kind === "submit").map((c) => c.rule),
      rules,
      "in arrival order",
    );
    // Receipt is when the body was complete, not when the batch got to it.
    const firstSubmit = calls[0]!.at;
    for (const c of calls.slice(1, 10)) assert.ok(c.receivedAt! <= firstSubmit, "every body was received before the batch began");
  });

  it("processes 16 at once when more arrive in one turn, the rest at its end", async () => {
    calls.length = 0;
    const rules = Array.from({ length: 20 }, (_, i) => `Matched ${i}`);
    const answers = await postAtOnce(port, rules);
    assert.ok(answers.every((a) => a.status === 200));
    assert.deepEqual(
      calls.map((c) => c.kind),
      [...Array(16).fill("submit"), "dispatch", ...Array(4).fill("submit"), "dispatch"],
    );
  });

  it("answers 500 for an event whose processing fails unexpectedly, and the others of its batch normally", async () => {
    calls.length = 0;
    problems.length = 0;
    const answers = await postAtOnce(port, ["Matched 0", "Throws", "Other 2"]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 500, 200],
    );
    assert.deepEqual(JSON.parse(answers[1]!.body), { error: "internal error" });
    assert.deepEqual(problems, ["intake error"]);
    assert.equal(calls.at(-1)!.kind, "dispatch");
  });
});
