import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import type { HttpClient } from "../clients/http.ts";
import pagerduty, { dedupKey, encode, type PagerDutyEvent, pagerDutyEvent, severityOf } from "./pagerduty.ts";

const settings = pagerduty.params.parse({ routing_key: "R0UT1NGKEY" });

describe("pagerduty notifier", () => {
  it("requires routing_key; region us|eu; dedup on by default", () => {
    assert.equal(pagerduty.params.safeParse({}).success, false);
    assert.equal(pagerduty.params.safeParse({ routing_key: "" }).success, false);
    assert.equal(pagerduty.params.safeParse({ routing_key: "k", region: "ap" }).success, false);
    assert.equal(settings.region, "us");
    assert.equal(settings.dedup, true);
    assert.deepEqual(settings.resolve_on, []);
  });

  it("maps priorities to severities (not always critical)", () => {
    assert.deepEqual(["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"].map(severityOf), [
      "critical",
      "critical",
      "critical",
      "error",
      "warning",
      "info",
      "info",
      "info",
    ]);
  });

  it("triggers with summary, source, severity, timestamp, dedup_key and the fields as custom_details", () => {
    const base = makeNotification({ event: { priority: "Error" } });
    const n = { ...base, event: { ...base.event, outputFields: { ...base.event.outputFields, "evt.time": 12345678901234567890n } } };
    const e = pagerDutyEvent(n, settings);
    assert.equal(e.routing_key, "R0UT1NGKEY");
    assert.equal(e.event_action, "trigger");
    assert.equal(e.dedup_key, "falco/Terminal shell in container/default/nginx");
    const p = e.payload!;
    assert.equal(p.severity, "error");
    assert.equal(p.source, "node-1");
    assert.equal(p.timestamp, "2024-12-30T14:37:27.505Z");
    assert.equal(p.component, "default/nginx");
    assert.equal(p.group, "syscall");
    assert.equal(p.class, "Terminal shell in container");
    assert.equal(
      p.summary,
      '[success] Terminal shell in container: action Label the pod (kubernetes:label): the pod "nginx" in the namespace "default" has been labelled — Terminal shell in container',
    );
    const d = p.custom_details;
    assert.equal(d["rule"], "Terminal shell in container");
    assert.equal(d["actionner"], "kubernetes:label");
    assert.equal(d["status"], "success");
    assert.equal(d["trace_id"], n.traceId);
    assert.deepEqual(d["objects"], { Pod: "nginx", Namespace: "default" });
    // big integers survive JSON exactly
    const body = JSON.parse(encode(e).replace(/"evt\.time":(\d+)/, '"evt.time":"$1"')) as {
      payload: { custom_details: { output_fields: Record<string, string> } };
    };
    assert.equal(body.payload.custom_details.output_fields["evt.time"], "12345678901234567890");
  });

  it("repeats of the same Falco rule and pod share the dedup_key; another pod does not", () => {
    const a = dedupKey(makeNotification({ objects: { pod: "web-1", namespace: "shop" } }));
    const b = dedupKey(
      makeNotification({ action: "Terminate", actionner: "kubernetes:terminate", objects: { pod: "web-1", namespace: "shop" } }),
    );
    const c = dedupKey(makeNotification({ objects: { pod: "web-2", namespace: "shop" } }));
    assert.equal(a, b);
    assert.notEqual(a, c);
    // an event without objects: the pod comes from the output fields; without a pod, the host
    assert.match(dedupKey(makeNotification({ kind: "event", objects: {} })), /^falco\/Terminal shell in container\/default\/nginx-\d+$/);
    assert.equal(
      dedupKey(makeNotification({ objects: {}, event: { fields: { "k8s.pod.name": null, "k8s.ns.name": null } } })),
      "falco/Terminal shell in container/node-1",
    );
    assert.ok(dedupKey(makeNotification({ event: { rule: "x".repeat(400) } })).length <= 255);
  });

  it("dedup: false sends no dedup_key", () => {
    assert.equal("dedup_key" in pagerDutyEvent(makeNotification(), { ...settings, dedup: false }), false);
  });

  it("resolves the incident when an actionner of resolve_on succeeds, triggers when it fails", () => {
    const s = { ...settings, resolve_on: ["kubernetes:terminate"] };
    const ok = pagerDutyEvent(makeNotification({ actionner: "kubernetes:terminate" }), s);
    assert.deepEqual(ok, {
      routing_key: "R0UT1NGKEY",
      event_action: "resolve",
      dedup_key: "falco/Terminal shell in container/default/nginx",
    });
    assert.equal(
      pagerDutyEvent(makeNotification({ actionner: "kubernetes:terminate", status: "failure", error: "x" }), s).event_action,
      "trigger",
    );
    assert.equal(pagerDutyEvent(makeNotification(), s).event_action, "trigger");
  });

  it("events use their output as summary; summaries and huge bodies are cut to PagerDuty's limits", () => {
    const ev = pagerDutyEvent(makeNotification({ kind: "event", summary: "", event: { priority: "Critical" } }), settings);
    assert.match(ev.payload!.summary, /^Terminal shell in container: A shell was spawned \(n=\d+\)$/);
    assert.equal(ev.payload!.severity, "critical");
    const huge = pagerDutyEvent(makeNotification({ summary: "y".repeat(600_000) }), settings);
    assert.equal(huge.payload!.summary.length, 1024);
    const body = encode(huge);
    assert.ok(Buffer.byteLength(body) <= 500_000, `${Buffer.byteLength(body)} bytes`);
    assert.match((JSON.parse(body) as { payload: { custom_details: { output: string } } }).payload.custom_details.output, /… \(cut\)$/);
  });
});

describe("pagerduty notifier delivery", () => {
  const log = pino({ level: "silent" });
  function fakeHttp(delays: number[]) {
    const calls: { url: string; body: PagerDutyEvent }[] = [];
    const http: HttpClient = async (url, req) => {
      const body = JSON.parse(String(req.body)) as PagerDutyEvent;
      const delay = delays.shift() ?? 0;
      await new Promise((r) => setTimeout(r, delay));
      calls.push({ url, body });
      return { status: 202, headers: new Headers(), body: "{}" };
    };
    return { calls, clients: { http } };
  }

  it("posts to the region's endpoint, or api_url", async () => {
    for (const [extra, url] of [
      [{}, "https://events.pagerduty.com/v2/enqueue"],
      [{ region: "eu" }, "https://events.eu.pagerduty.com/v2/enqueue"],
      [{ region: "eu", api_url: "http://127.0.0.1:1/v2/enqueue" }, "http://127.0.0.1:1/v2/enqueue"],
    ] as const) {
      const f = fakeHttp([]);
      const inst = await pagerduty.create(pagerduty.params.parse({ routing_key: "k", ...extra }), { clients: f.clients, log });
      await inst.send(makeNotification(), AbortSignal.timeout(1000));
      assert.equal(f.calls[0]!.url, url);
    }
  });

  it("never lets a resolve overtake the trigger of the same incident", async () => {
    const f = fakeHttp([80, 0, 0]); // the trigger is slow to answer
    const inst = await pagerduty.create(pagerduty.params.parse({ routing_key: "k", resolve_on: ["kubernetes:terminate"] }), {
      clients: f.clients,
      log,
    });
    const signal = AbortSignal.timeout(2000);
    await Promise.all([
      inst.send(makeNotification({ kind: "event", objects: {}, event: { fields: { "k8s.pod.name": "p" } } }), signal),
      inst.send(makeNotification({ actionner: "kubernetes:terminate", objects: { pod: "p", namespace: "default" } }), signal),
      inst.send(makeNotification({ objects: { pod: "other", namespace: "default" } }), signal),
    ]);
    assert.deepEqual(
      f.calls.map((c) => [c.body.event_action, c.body.dedup_key]),
      [
        ["trigger", "falco/Terminal shell in container/default/other"],
        ["trigger", "falco/Terminal shell in container/default/p"],
        ["resolve", "falco/Terminal shell in container/default/p"],
      ],
    );
  });
});
