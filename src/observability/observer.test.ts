import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { falcoEvent } from "../../test/support/events.ts";
import { parseEvent } from "../events/parse.ts";
import { Metrics } from "./metrics.ts";
import { Observer } from "./observer.ts";

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
});
