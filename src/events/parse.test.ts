import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stripOutputPrefix } from "./event.ts";
import { eventToJSON, eventVariables, fieldText } from "./fields.ts";
import { EVENT_LIMITS, EventError, parseEvent } from "./parse.ts";

// A real Falco 0.39 alert as its JSON output sends it (sorted keys, nulls, a 64-bit evt.time).
const FALCO_039 =
  '{"hostname":"minikube","output":"15:41:04.268296715: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)","output_fields":{"container.id":"ff95ee645d8a","evt.time":1735573264268296715,"fd.name":"/etc/shadow","k8s.ns.name":null,"proc.tty":34816,"user.loginuid":-1,"user.uid":0},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","container","filesystem"],"time":"2024-12-30T15:41:04.268296715Z"}';

function rejects(body: string, field: string | undefined, pattern: RegExp): void {
  assert.throws(
    () => parseEvent(body),
    (err: unknown) => err instanceof EventError && err.field === field && pattern.test(err.message),
  );
}

describe("parseEvent", () => {
  it("parses a real Falco alert and keeps its 64-bit integers exact", () => {
    const { event } = parseEvent(FALCO_039);
    assert.equal(event.rule, "Read sensitive file untrusted");
    assert.equal(event.priority, "Warning");
    assert.equal(event.priorityLevel, 4);
    assert.equal(event.time, "2024-12-30T15:41:04.268296715Z");
    assert.equal(event.message, "Sensitive file opened for reading by non-trusted program (file=/etc/shadow)");
    assert.equal(event.outputFields["evt.time"], 1735573264268296715n);
    assert.equal(fieldText(event.outputFields["evt.time"]), "1735573264268296715");
    assert.equal(event.outputFields["k8s.ns.name"], null);
    assert.deepEqual(event.tags, ["T1555", "container", "filesystem"]);
    assert.match(eventToJSON(event), /"evt\.time":1735573264268296715[,}]/);
  });

  it("keeps big integers exact wherever they are, whatever the text around them", () => {
    const tricky =
      '{"rule":"r","priority":"Notice","output":"x \\"evt.time\\":1735573264268296799 y","output_fields":{"a\\"evt.time":1,"evt.time" : 1735573264268296715,"list":[9007199254740993],"proc.pid":42,"we\\"ird":-9007199254740995}}';
    const { event } = parseEvent(tricky);
    assert.equal(event.outputFields["evt.time"], 1735573264268296715n);
    assert.deepEqual(event.outputFields["list"], [9007199254740993n]);
    assert.equal(event.outputFields["proc.pid"], 42);
    assert.equal(event.outputFields['we"ird'], -9007199254740995n);
    const plain = parseEvent(
      '{"rule":"r","priority":"Notice","output_fields":{"evt.time":1735573264268296715,"user.uid":-9007199254740993}}',
    );
    assert.equal(plain.event.outputFields["evt.time"], 1735573264268296715n);
    assert.equal(plain.event.outputFields["user.uid"], -9007199254740993n);
    // Keys that are found by their own text: empty, only a prefix of another key, spaced around the colon.
    const odd = parseEvent(
      '{"rule":"r","priority":"Notice","output_fields":{"evt.timex":1,"":9007199254740993,"evt.time"\n:\t1735573264268296715}}',
    );
    assert.equal(odd.event.outputFields[""], 9007199254740993n);
    assert.equal(odd.event.outputFields["evt.time"], 1735573264268296715n);
    // A key the text search cannot find as such (an escaped newline in it): the body is parsed again, exactly.
    const escaped = parseEvent('{"rule":"r","priority":"Notice","output_fields":{"a\\nb":9007199254740993,"n":1}}').event;
    assert.equal(escaped.outputFields["a\nb"], 9007199254740993n);
    assert.equal(escaped.outputFields["n"], 1);
    assert.equal(escaped.outputFields, escaped.outputFields, "the exact fields are computed once");
  });

  it("accepts keys in any order and in Talon's capitalised form", () => {
    const { event } = parseEvent('{"Rule":"Test Label","output_fields":{"k8s.pod.name":"test"},"priority":"warning","output":"Test"}');
    assert.equal(event.rule, "Test Label");
    assert.equal(event.priority, "Warning");
    // The capitalised fields keep their big integers exact too; numbers elsewhere do not matter (ignored keys).
    const capitalised = parseEvent(
      '{"Rule":"r","Priority":"Notice","Output_Fields":{"evt.time":1735573264268296715},"extra":[9007199254740993]}',
    );
    assert.equal(capitalised.event.outputFields["evt.time"], 1735573264268296715n);
  });

  it("normalises priorities case-insensitively with the info alias", () => {
    assert.equal(parseEvent('{"rule":"r","priority":"INFO","output":"x"}').event.priority, "Informational");
    assert.equal(parseEvent('{"rule":"r","priority":"informational","output":"x"}').event.priorityLevel, 6);
    assert.equal(parseEvent('{"rule":"r","priority":"EMERGENCY","output":"x"}').event.priorityLevel, 0);
  });

  it("accepts RFC 3339 times as Falco and Falcosidekick write them, and keeps them as sent", () => {
    for (const time of [
      "2024-12-30T15:41:04.268296715Z",
      "2024-12-30T15:41:04.2682967Z",
      "2024-12-30T15:41:04Z",
      "2024-12-30t15:41:04.268296715z",
      "2024-12-30T16:41:04.268296715+01:00",
    ]) {
      const { event } = parseEvent(JSON.stringify({ rule: "r", priority: "Notice", output: "x", time }));
      assert.equal(event.time, time);
    }
  });

  it("defaults the source to syscall, keeps the uuid and drops a client-sent context", () => {
    const parsed = parseEvent('{"rule":"r","priority":"Debug","output":"x","uuid":"6f0c7c0e","context":{"falco-talon.rule":"forged"}}');
    assert.equal(parsed.event.source, "syscall");
    assert.equal(parsed.event.uuid, "6f0c7c0e");
    assert.equal(parsed.droppedContext, true);
    assert.doesNotMatch(eventToJSON(parsed.event), /forged/);
  });

  it("accepts output_fields without output (json_include_output_property: false)", () => {
    const { event } = parseEvent('{"rule":"r","priority":"Notice","output_fields":{"proc.pid":1234567}}');
    assert.equal(event.output, "");
    assert.equal(fieldText(event.outputFields["proc.pid"]), "1234567");
  });

  it("rejects bad input with the reason and the field", () => {
    rejects("", undefined, /empty/);
    rejects("{not json", undefined, /not valid JSON/);
    rejects("[1,2]", undefined, /must be a JSON object, got an array/);
    rejects("null", undefined, /got null/);
    rejects('{"priority":"Warning","output":"x"}', "rule", /missing required field "rule"/);
    rejects('{"rule":"r","output":"x"}', "priority", /missing required field "priority"/);
    rejects('{"rule":"r","priority":"WARN","output":"x"}', "priority", /unknown priority "WARN"/);
    rejects('{"rule":"r","priority":"Warning"}', "output", /neither "output" nor "output_fields"/);
    rejects('{"rule":42,"priority":"Warning","output":"x"}', "rule", /must be a string, got a number/);
    rejects('{"rule":"r","priority":"Warning","output":"x","tags":["a",3]}', "tags[1]", /must be a string/);
    rejects('{"rule":"r","priority":"Warning","output_fields":[1]}', "output_fields", /must be an object/);
    rejects('{"rule":"r","priority":"Warning","output":"x","time":1700000000}', "time", /must be a string/);
    rejects('{"rule":"r","priority":"Warning","output":"x","time":"yesterday"}', "time", /RFC 3339/);
    // Falco's 30-character shape with one character off.
    for (const time of ["2024-12-30T15:41:04.26829671xZ", "2024-12-30T15:41:04.268296715X", "2024-12-30 15:41:04:268296715Z"]) {
      rejects(`{"rule":"r","priority":"Warning","output":"x","time":"${time}"}`, "time", /RFC 3339/);
    }
  });
});

describe("parseEvent: exact integers from each value's own text", () => {
  // All of these round to the same double as 1735573264268296715: only the digits tell them apart.
  const EXACT = "1735573264268296715";
  const decoys = ["1735573264268296700", "1735573264268296750", "1735573264268296800"] as const;
  const body = (inner: string) => `{"rule":"r","priority":"Notice","output":"o",${inner}}`;

  it("ignores a top-level key of the same name, before or after the fields", () => {
    for (const text of [
      body(`"evt.time":${decoys[0]},"output_fields":{"evt.time":${EXACT}}`),
      body(`"output_fields":{"evt.time":${EXACT}},"evt.time":${decoys[0]}`),
      body(`"x":{"evt.time":${decoys[1]}},"output_fields":{"evt.time":${EXACT}}`),
    ]) {
      const { event } = parseEvent(text);
      assert.equal(event.field("evt.time"), BigInt(EXACT), text);
      assert.equal(event.outputFields["evt.time"], BigInt(EXACT), text);
    }
  });

  it("takes the value JSON.parse keeps (the last) of duplicate keys, at the top level and inside the fields", () => {
    const cases: [string, string][] = [
      [body(`"output_fields":{"evt.time":${decoys[0]}},"output_fields":{"evt.time":${EXACT}}`), EXACT],
      [body(`"output_fields":{"evt.time":${decoys[0]},"evt.time":${EXACT}}`), EXACT],
      [
        body(
          `"output_fields":{"evt.time":${decoys[0]},"evt.time":${decoys[1]}},"output_fields":{"evt.time":${decoys[2]},"evt.time":${EXACT}}`,
        ),
        EXACT,
      ],
      // Talon's capitalised key: the one the event uses (the last) gives the digits.
      [body(`"output_fields":{"evt.time":${decoys[0]}},"Output_Fields":{"evt.time":${EXACT}}`), EXACT],
    ];
    for (const [text, exact] of cases) {
      const { event } = parseEvent(text);
      assert.equal(event.outputFields["evt.time"], BigInt(exact), text);
    }
  });

  it("keeps a nested field of the same name apart from the top-level one", () => {
    const { event } = parseEvent(body(`"output_fields":{"n":{"evt.time":${decoys[0]}},"evt.time":${EXACT},"l":[${decoys[2]}]}`));
    assert.equal(event.outputFields["evt.time"], BigInt(EXACT));
    assert.deepEqual(event.outputFields["n"], { "evt.time": BigInt(decoys[0]) });
    assert.deepEqual(event.outputFields["l"], [BigInt(decoys[2])]);
  });

  it("leaves numbers that are not integers in their text as numbers", () => {
    const { event } = parseEvent(body(`"output_fields":{"a":1e300,"b":9007199254740993.0,"c":-9007199254740993}`));
    assert.equal(event.outputFields["a"], 1e300);
    assert.equal(event.outputFields["b"], 9007199254740992);
    assert.equal(event.outputFields["c"], -9007199254740993n);
  });
});

describe("parseEvent: shape limits", () => {
  const withFields = (fields: string) => `{"rule":"r","priority":"Notice","output":"o","output_fields":${fields}}`;
  const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

  function limited(body: string, limit: RegExp, field?: string): void {
    assert.throws(
      () => parseEvent(body),
      (err: unknown) => err instanceof EventError && limit.test(err.message) && err.field === field && err.message.length < 300,
    );
  }

  it("refuses nesting deeper than the limit anywhere in the body, named, never a stack overflow", () => {
    // The body is level 1, output_fields 2, a field's array 3.
    const atLimit = parseEvent(withFields(`{"a":${nested(EVENT_LIMITS.depth - 2)}}`)).event;
    assert.ok(eventVariables(atLimit).get("A")!.startsWith("[[[")); // templates read it without overflowing
    limited(withFields(`{"a":${nested(EVENT_LIMITS.depth - 1)}}`), /nesting depth/, "output_fields");
    for (const depth of [1000, 100_000]) {
      limited(withFields(`{"a":${nested(depth)}}`), /more than 32 levels deep \(limit: nesting depth\)/, "output_fields");
      limited(`{"rule":"r","priority":"Notice","output":"o","extra":${nested(depth)}}`, /nesting depth/);
      limited(`{"rule":"r","priority":"Notice","output":"o","context":{"a":${nested(depth)}}}`, /nesting depth/);
      limited(`{"rule":"r","priority":"Notice","output":"o","Output_Fields":{"a":${nested(depth)}},"output_fields":{}}`, /nesting depth/);
      limited(withFields(`{"a":${`{"b":`.repeat(depth)}9007199254740993${"}".repeat(depth)}}`), /nesting depth/, "output_fields");
    }
  });

  it("refuses more output_fields than the limit", () => {
    const fields = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i])));
    assert.equal(
      Object.keys(parseEvent(withFields(fields(EVENT_LIMITS.outputFields))).event.outputFields).length,
      EVENT_LIMITS.outputFields,
    );
    limited(withFields(fields(EVENT_LIMITS.outputFields + 1)), /more than 1024 fields \(limit: number of output_fields\)/, "output_fields");
  });

  it("refuses a field longer than the limit: its value, a string inside it, or its name", () => {
    const max = "x".repeat(EVENT_LIMITS.fieldLength);
    assert.equal(parseEvent(withFields(JSON.stringify({ [max]: max }))).event.outputFields[max], max);
    const over = `${max}y`;
    limited(
      withFields(JSON.stringify({ "proc.cmdline": over })),
      /output field "proc\.cmdline" is longer than 65536 characters \(limit: field length\)/,
      "output_fields",
    );
    limited(withFields(JSON.stringify({ list: ["a", over] })), /output field "list" is longer/, "output_fields");
    limited(withFields(JSON.stringify({ obj: { [over]: 1 } })), /output field "obj" is longer/, "output_fields");
    limited(withFields(JSON.stringify({ [over]: 1 })), /output field "x{64}…" is longer/, "output_fields");
  });
});

describe("parseEvent: time", () => {
  const at = (time: string) => JSON.stringify({ rule: "r", priority: "Notice", output: "x", time });

  it("accepts real instants, leap days included", () => {
    for (const time of [
      "2024-02-29T23:59:59.999999999Z",
      "2000-02-29T00:00:00Z",
      "2024-12-31T00:00:00-23:59",
      "2024-01-31T12:00:00+14:00",
    ]) {
      assert.equal(parseEvent(at(time)).event.time, time);
    }
  });

  it("refuses a month, day, hour, minute, second or offset that does not exist", () => {
    for (const time of [
      "2024-13-01T00:00:00Z",
      "2024-00-10T00:00:00Z",
      "2024-01-00T00:00:00Z",
      "2024-04-31T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2024-01-32T00:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T00:60:00Z",
      "2024-01-01T00:00:60Z",
      "2024-01-01T00:00:00+24:00",
      "2024-01-01T00:00:00-01:60",
    ]) {
      assert.throws(
        () => parseEvent(at(time)),
        (err: unknown) => err instanceof EventError && err.field === "time" && /real instant/.test(err.message),
        time,
      );
    }
  });

  it("echoes at most a short prefix of what it refuses", () => {
    for (const body of [at("9".repeat(100_000)), JSON.stringify({ rule: "r", priority: "P".repeat(100_000), output: "x" })]) {
      assert.throws(
        () => parseEvent(body),
        (err: unknown) => err instanceof EventError && err.message.length < 300,
      );
    }
  });
});

describe("stripOutputPrefix", () => {
  it("removes Falco's local-time and ISO 8601 prefixes, Informational included", () => {
    assert.equal(stripOutputPrefix("14:37:27.505989596: Notice A shell"), "A shell");
    assert.equal(stripOutputPrefix("2024-12-30T15:41:04.268296715+0000: Warning Sensitive file"), "Sensitive file");
    assert.equal(stripOutputPrefix("14:37:27.505989596: Informational Something"), "Something");
    assert.equal(stripOutputPrefix("No prefix here"), "No prefix here");
  });
});
