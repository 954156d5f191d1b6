// How `kestrel rules test` reads events: one JSON event (pretty-printed or not), a JSON list, NDJSON.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEvents } from "./rules-test.ts";

const EVENT = { rule: "Terminal shell in container", priority: "Notice", output_fields: { "evt.time": "EXACT" } };
/** JSON text of `v` whose "EXACT" values are the integer 1735573264268296715 (beyond 2^53). */
const json = (v: unknown, space?: number): string => JSON.stringify(v, null, space).replaceAll('"EXACT"', "1735573264268296715");

describe("rules test: reading events", () => {
  it("reads a pretty-printed JSON event, keeping integers beyond 2^53 exact", () => {
    const [e] = parseEvents("e.json", `${json(EVENT, 2)}\n`);
    assert.ok(e !== undefined && "event" in e, JSON.stringify(e));
    assert.equal(e.source, "e.json");
    assert.equal(e.event.outputFields["evt.time"], 1735573264268296715n);
  });

  it("reads a JSON list and NDJSON, labelling each event with its index or line", () => {
    assert.deepEqual(
      parseEvents("l.json", json([EVENT, EVENT])).map((e) => e.source),
      ["l.json[0]", "l.json[1]"],
    );
    const ndjson = parseEvents("f.ndjson", `${json(EVENT)}\n\n${json({ ...EVENT, priority: "Loud" })}\n{oops\n`);
    assert.deepEqual(
      ndjson.map((e) => [e.source, "error" in e ? e.error.slice(0, 20) : "ok"]),
      [
        ["f.ndjson:1", "ok"],
        ["f.ndjson:3", 'unknown priority "Lo'],
        ["f.ndjson:4", "not JSON: Expected p"],
      ],
    );
  });

  it("says once that a file is neither JSON nor NDJSON, and that an empty input has no event", () => {
    const bad = parseEvents("x.txt", "rule: not json\nmore: lines\n");
    assert.equal(bad.length, 1);
    assert.match("error" in bad[0]! ? bad[0].error : "", /^neither a JSON event nor NDJSON/);
    assert.deepEqual(parseEvents("<stdin>", " \n"), [{ source: "<stdin>", error: "no event: the input is empty" }]);
  });
});
