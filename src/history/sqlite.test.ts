import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { KestrelError } from "../errors.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { type HistoryAction, type HistoryEvent, SqliteHistory } from "./sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "kestrel-history-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function event(n: number, over: Partial<HistoryEvent> = {}): HistoryEvent {
  return {
    traceId: `t${String(n).padStart(4, "0")}`,
    receivedMs: 1_700_000_000_000 + n * 1000,
    time: "2026-12-08T00:00:00Z",
    priority: 4,
    falcoRule: "Terminal shell in container",
    source: "syscall",
    hostname: "node-1",
    namespace: "shop",
    pod: `web-${n}`,
    output: `shell in web-${n}`,
    fields: { "k8s.pod.name": `web-${n}`, "proc.pid": n },
    tags: ["shell", "mitre_execution"],
    rules: ["Terminate"],
    ...over,
  };
}

const action = (traceId: string, seq: number, status: string): HistoryAction => ({
  traceId,
  seq,
  rule: "Terminate",
  action: "Kill it",
  actionner: "kubernetes:terminate",
  status,
  durationMs: 12.5,
  summary: `the pod has been terminated (${seq})`,
});

const isQueryError = (e: unknown) => e instanceof KestrelError && e.code === "ERR_QUERY_INVALID";

describe("the SQLite history", () => {
  it("creates its schema once, at the current version, and refuses a database from a newer Kestrel", () => {
    const path = join(dir, "schema.db");
    new SqliteHistory(path).close();
    new SqliteHistory(path).close(); // a second open migrates nothing
    const db = new DatabaseSync(path);
    assert.equal((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version, SCHEMA_VERSION);
    assert.equal((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => new SqliteHistory(path), /newer than this Kestrel/);
  });

  it("keeps an event with its actions in order, and survives a reopen", () => {
    const path = join(dir, "keep.db");
    const h = new SqliteHistory(path);
    h.write([event(1)], [action("t0001", 1, "success"), action("t0001", 0, "dry_run")]);
    h.close();
    const again = new SqliteHistory(path);
    const got = again.get("t0001");
    assert.deepEqual(got?.event, event(1));
    assert.deepEqual(
      got?.actions.map((a) => [a.seq, a.status]),
      [
        [0, "dry_run"],
        [1, "success"],
      ],
    );
    assert.equal(again.get("nope"), undefined);
    again.close();
  });

  it("writes a batch whole or not at all", () => {
    const h = new SqliteHistory(":memory:");
    // The action names an event the batch does not hold: the foreign key refuses it, and the event goes too.
    assert.throws(() => h.write([event(1)], [action("missing", 0, "success")]));
    assert.equal(h.get("t0001"), undefined);
    assert.equal(h.bytes, 0);
    h.close();
  });

  it("pages newest first with a cursor, with no event twice and none left out, also for events of the same millisecond", () => {
    const h = new SqliteHistory(":memory:");
    const events = Array.from({ length: 23 }, (_, i) => event(i, i >= 10 && i < 15 ? { receivedMs: 1_700_000_099_000 } : {}));
    h.write(events, []);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = h.list({}, 4, cursor);
      seen.push(...page.events.map((e) => e.traceId));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const expected = [...events].sort((a, b) => b.receivedMs - a.receivedMs || (a.traceId < b.traceId ? 1 : -1)).map((e) => e.traceId);
    assert.deepEqual(seen, expected);
    h.close();
  });

  it("filters by time, priority, rules, labels, tags, action status and free text, taking values as data", () => {
    const h = new SqliteHistory(":memory:");
    h.write(
      [
        event(1, { priority: 2, rules: ["Isolate"], output: "100% sure" }),
        event(2, { priority: 6, falcoRule: "Read sensitive file", tags: ["filesystem"], namespace: "kube-system" }),
        event(3, { rules: [] }),
        event(4, { output: "x' OR 1=1 --", pod: "web-4" }),
      ],
      [action("t0001", 0, "failure"), action("t0002", 0, "success")],
    );
    const ids = (f: Parameters<SqliteHistory["list"]>[0]) => h.list(f, 50).events.map((e) => e.traceId);
    assert.deepEqual(ids({ priority: 4 }), ["t0004", "t0003", "t0001"]);
    assert.deepEqual(ids({ since: event(2).receivedMs, until: event(4).receivedMs }), ["t0003", "t0002"]);
    assert.deepEqual(ids({ falcoRule: "Read sensitive file" }), ["t0002"]);
    assert.deepEqual(ids({ rule: "Isolate" }), ["t0001"]);
    assert.deepEqual(ids({ tag: "filesystem" }), ["t0002"]);
    assert.deepEqual(ids({ namespace: "kube-system" }), ["t0002"]);
    assert.deepEqual(ids({ pod: "web-4" }), ["t0004"]);
    assert.deepEqual(ids({ status: "failure" }), ["t0001"]);
    assert.deepEqual(ids({ q: "100%" }), ["t0001"]);
    assert.deepEqual(ids({ q: "%" }), ["t0001"], "% is a character, not a wildcard");
    assert.deepEqual(ids({ q: "' OR 1=1 --" }), ["t0004"]);
    assert.deepEqual(ids({ falcoRule: "x' OR '1'='1" }), []);
    h.close();
  });

  it("refuses a forged cursor and a limit out of range with ERR_QUERY_INVALID", () => {
    const h = new SqliteHistory(":memory:");
    assert.throws(() => h.list({}, 10, "not-a-cursor"), isQueryError);
    assert.throws(() => h.list({}, 10, Buffer.from('["x", 1]').toString("base64url")), isQueryError);
    assert.throws(() => h.list({}, 0), isQueryError);
    assert.throws(() => h.list({}, 501), isQueryError);
    h.close();
  });

  it("removes the oldest events with their actions, by age and by size", () => {
    const h = new SqliteHistory(":memory:");
    h.write(
      Array.from({ length: 10 }, (_, i) => event(i)),
      [action("t0000", 0, "success")],
    );
    const now = event(9).receivedMs;
    assert.equal(h.prune({ maxAgeMs: 4500 }, now), 5, "received more than 4.5 s before the newest");
    assert.equal(h.get("t0000"), undefined);
    assert.deepEqual(
      h.list({}, 50).events.map((e) => e.traceId),
      ["t0009", "t0008", "t0007", "t0006", "t0005"],
    );
    const perEvent = h.bytes / 5;
    assert.equal(h.prune({ maxBytes: perEvent * 2 }, now), 3);
    assert.deepEqual(
      h.list({}, 50).events.map((e) => e.traceId),
      ["t0009", "t0008"],
    );
    assert.ok(h.bytes <= perEvent * 2);
    h.close();
  });
});

describe("the SQLite history after a SIGKILL", () => {
  it("keeps every batch it reported written, and no part of a batch", async () => {
    const path = join(dir, "killed.db");
    // A writer process that reports each committed batch of 10 events on stdout, until it is killed.
    const writer = `
      import { SqliteHistory } from ${JSON.stringify(new URL("./sqlite.ts", import.meta.url).href)};
      const h = new SqliteHistory(${JSON.stringify(path)});
      for (let b = 0; ; b++) {
        const events = Array.from({ length: 10 }, (_, i) => ({ traceId: "b" + b + "e" + i, receivedMs: b * 10 + i, time: "", priority: 4,
          falcoRule: "r", source: "syscall", hostname: "h", output: "x".repeat(2000), fields: {}, tags: [], rules: ["r"] }));
        h.write(events, []);
        process.stdout.write(b + "\\n");
      }`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", writer], { stdio: ["ignore", "pipe", "inherit"] });
    let reported = -1;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        const lines = chunk.toString().trim().split("\n");
        reported = Number(lines[lines.length - 1]);
        if (reported >= 50) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once("exit", resolve));
    const h = new SqliteHistory(path); // opens after the kill: the WAL is recovered
    const count = (new DatabaseSync(path).prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
    assert.equal(h.list({}, 1).events[0]?.traceId.startsWith("b"), true);
    h.close();
    assert.equal(count % 10, 0, `${count} events: a batch was stored in part`);
    assert.ok(count >= (reported + 1) * 10, `${count} events stored, ${(reported + 1) * 10} reported written`);
  });
});
