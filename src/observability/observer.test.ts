import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import pino from "pino";
import { falcoEvent } from "../../test/support/events.ts";
import { KestrelError } from "../errors.ts";
import { parseEvent } from "../events/parse.ts";
import { createLogger } from "./logger.ts";
import { Metrics } from "./metrics.ts";
import { Observer } from "./observer.ts";

/** An observer logging JSON lines through Kestrel's logger (its error serializer included). */
function observed() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ format: "json", level: "info", destination });
  return { observer: new Observer({ log, metrics: new Metrics({ defaultMetrics: false }), printAllEvents: false }), lines };
}

describe("observer", () => {
  it("counts the events dropped at the shutdown deadline in the metrics and the exit summary", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const observer = new Observer({ log: pino({ level: "silent" }), metrics, printAllEvents: false });
    const { event } = parseEvent(falcoEvent());
    observer.eventFinished(event, "t1", "dropped");
    observer.eventFinished(event, "t2", "dropped");
    observer.eventFinished(event, "t3", "handled");
    assert.match(await metrics.registry.metrics(), /^kestrel_shutdown_dropped_events_total 2$/m);
    assert.match(observer.summary.format(), /^Events dropped at the shutdown deadline: 2$/m);
  });

  it("logs a problem's error as an error: its stack and cause under err, and a code", () => {
    const { observer, lines } = observed();
    const bug = new TypeError("cannot read properties of undefined", { cause: new Error("the root") });
    observer.problem("an event's actions failed unexpectedly", bug);
    observer.problem("intake error", new KestrelError("ERR_OVERLOADED", "full"));
    observer.problem("nothing attached");
    const [first, second, third] = lines;
    assert.equal(first?.["msg"], "an event's actions failed unexpectedly");
    assert.equal(first?.["code"], "ERR_UNEXPECTED");
    const err = first?.["err"] as Record<string, unknown>;
    assert.equal(err["type"], "TypeError");
    assert.equal(err["message"], "cannot read properties of undefined");
    assert.match(String(err["stack"]), /^TypeError: cannot read properties of undefined\n\s+at /);
    assert.equal((err["cause"] as Record<string, unknown>)["message"], "the root");
    assert.equal(second?.["code"], "ERR_OVERLOADED");
    assert.equal(third?.["err"], undefined);
    assert.equal(third?.["code"], undefined);
  });
});
