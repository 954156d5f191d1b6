import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { makeNotification } from "../../test/support/notification.ts";
import type { HttpClient } from "../clients/http.ts";
import { KestrelError } from "../errors.ts";
import alertmanager, { alertFor, labelName } from "./alertmanager.ts";

const settings = alertmanager.params.parse({ host_port: "http://am:9093" });

describe("alertmanager notifier", () => {
  it("sanitises label names like Falcosidekick", () => {
    assert.equal(labelName("proc.aname[2]"), "proc_aname_2");
    assert.equal(labelName("k8s.ns.name"), "k8s_ns_name");
    assert.equal(labelName("ka.uri.param[command]"), "ka_uri_param_command");
    assert.equal(labelName("evt.arg.flags"), "evt_arg_flags");
    assert.equal(labelName("...."), "");
    assert.equal(labelName("1x"), "_1x");
  });

  it("accepts one URL, a comma-separated list or a list; endpoint defaults to /api/v2/alerts", () => {
    assert.deepEqual(settings.host_port, ["http://am:9093"]);
    assert.equal(settings.endpoint, "/api/v2/alerts");
    assert.deepEqual(alertmanager.params.parse({ host_port: "http://a:9093, http://b:9093" }).host_port, [
      "http://a:9093",
      "http://b:9093",
    ]);
    assert.deepEqual(alertmanager.params.parse({ host_port: ["http://a:9093", "http://b:9093"] }).host_port, [
      "http://a:9093",
      "http://b:9093",
    ]);
    assert.equal(alertmanager.params.safeParse({}).success, false);
    assert.equal(alertmanager.params.safeParse({ host_port: "" }).success, false);
    assert.equal(alertmanager.params.safeParse({ host_port: "am:9093" }).success, false);
  });

  it("labels: string and number output fields, Falcosidekick's fixed labels, severity, and the result", () => {
    const n = makeNotification({
      event: {
        priority: "Warning",
        fields: { "proc.aname[2]": "sshd", "fd.num": 3, "user.loginuid": null, "evt.is_open_read": true, n_evts: 4 },
      },
    });
    const a = alertFor(n, settings);
    assert.deepEqual(a.labels, {
      evt_time: "1735573264268296",
      k8s_ns_name: "default",
      k8s_pod_name: n.event.outputFields["k8s.pod.name"],
      proc_name: "bash",
      proc_aname_2: "sshd",
      fd_num: "3",
      source: "falco",
      rule: "Terminal shell in container",
      alertname: "Terminal shell in container",
      eventsource: "syscall",
      hostname: "node-1",
      tags: "T1059,container,shell",
      priority: "Warning",
      severity: "warning",
      kestrel_rule: "Terminal shell in container",
      action: "Label the pod",
      actionner: "kubernetes:label",
      status: "success",
    });
    assert.equal(a.annotations["info"], n.event.output);
    assert.equal(a.annotations["description"], n.event.output);
    assert.equal(a.annotations["summary"], "Terminal shell in container");
    assert.equal(a.annotations["result"], n.summary);
    assert.equal(a.annotations["objects"], "Pod=nginx, Namespace=default");
    assert.equal(a.annotations["trace_id"], n.traceId);
    assert.equal(a.startsAt, "2024-12-30T14:37:27.505Z");
    assert.equal("endsAt" in a, false, "without expires_after, Alertmanager's resolve_timeout ends the alert");
    assert.equal("generatorURL" in a, false);
  });

  it("maps every priority to Falcosidekick's severities, or the custom map", () => {
    const sev = (priority: string, s = settings) => alertFor(makeNotification({ event: { priority } }), s).labels["severity"];
    assert.deepEqual(
      ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"].map((p) => sev(p)),
      ["critical", "critical", "critical", "warning", "warning", "information", "information", "information"],
    );
    const custom = alertmanager.params.parse({ host_port: "http://am:9093", custom_severity_map: "Warning:minor,Debug:none" });
    assert.equal(sev("Warning", custom), "minor");
    assert.equal(sev("Critical", custom), "critical");
  });

  it("an event has no action labels; extra labels and annotations override; expires_after sets endsAt", () => {
    const s = alertmanager.params.parse({
      host_port: "http://am:9093",
      expires_after: 600,
      generator_url: "https://grafana.example/d/falco",
      extra_labels: "team:security,source:kestrel",
      extra_annotations: { runbook: "https://wiki/falco" },
    });
    const n = makeNotification({ kind: "event", action: "", actionner: "", summary: "", objects: {} });
    const a = alertFor(n, s);
    for (const k of ["action", "actionner", "status"]) assert.equal(k in a.labels, false, k);
    assert.equal(a.labels["team"], "security");
    assert.equal(a.labels["source"], "kestrel");
    assert.equal(a.annotations["runbook"], "https://wiki/falco");
    assert.equal(a.endsAt, "2024-12-30T14:47:27.505Z");
    assert.equal(a.generatorURL, "https://grafana.example/d/falco");
    assert.equal("result" in a.annotations, false);
  });

  it("a failure carries its error; empty values are not labels", () => {
    const a = alertFor(
      makeNotification({ status: "failure", summary: "", error: "forbidden", event: { fields: { "container.id": "" } } }),
      settings,
    );
    assert.equal(a.labels["status"], "failure");
    assert.equal(a.annotations["error"], "forbidden");
    assert.equal("container_id" in a.labels, false);
  });

  it("Falco's drop alerts: n_drop* counters become threshold buckets and raise the priority", () => {
    const drop = (fields: Record<string, unknown>, priority = "Debug", s = settings) => {
      const a = alertFor(makeNotification({ event: { rule: "Falco internal: syscall event drop", priority, fields: fields as never } }), s);
      return {
        drops: Object.fromEntries(Object.entries(a.labels).filter(([k]) => k.startsWith("n_"))),
        priority: a.labels["priority"],
        severity: a.labels["severity"],
      };
    };
    // Defaults: 10000:critical, 1000:critical, 100:critical, 10:warning, 1:warning.
    assert.deepEqual(drop({ n_drops: 12345, n_evts: 99 }), { drops: { n_drops: ">10000" }, priority: "Critical", severity: "critical" });
    assert.deepEqual(drop({ n_drops_buffer_total: 150 }), {
      drops: { n_drops_buffer_total: ">100" },
      priority: "Critical",
      severity: "critical",
    });
    assert.deepEqual(drop({ n_drops: 5 }), { drops: { n_drops: ">1" }, priority: "Warning", severity: "warning" });
    assert.deepEqual(
      drop({ n_drops: 0 }),
      { drops: { n_drops: "0" }, priority: "Warning", severity: "warning" },
      "no drops: at least Warning",
    );
    assert.deepEqual(
      drop({ n_drops: 1 }),
      { drops: { n_drops: "1" }, priority: "Critical", severity: "critical" },
      "below every threshold: the default priority",
    );
    assert.deepEqual(
      drop({ n_drops: 5 }, "Emergency"),
      { drops: { n_drops: ">1" }, priority: "Emergency", severity: "critical" },
      "never lowered",
    );
    assert.deepEqual(drop({ n_drops: "2000" }), { drops: { n_drops: ">1000" }, priority: "Critical", severity: "critical" });
    // Several counters: the most severe wins.
    assert.equal(drop({ n_drops_pf: 3, n_drops_scratch_map: 50000 }).priority, "Critical");

    const custom = alertmanager.params.parse({
      host_port: "http://am:9093",
      drop_event_thresholds: { 50: "error", 5: "notice" },
      drop_event_default_priority: "info",
    });
    assert.deepEqual(custom.drop_event_thresholds, [
      { value: 50, level: 3 },
      { value: 5, level: 5 },
    ]);
    assert.deepEqual(drop({ n_drops: 60 }, "Debug", custom), { drops: { n_drops: ">50" }, priority: "Error", severity: "warning" });
    assert.deepEqual(drop({ n_drops: 6 }, "Debug", custom), { drops: { n_drops: ">5" }, priority: "Notice", severity: "information" });
    assert.deepEqual(drop({ n_drops: 2 }, "Debug", custom), {
      drops: { n_drops: "2" },
      priority: "Informational",
      severity: "information",
    });
    assert.equal(
      alertmanager.params.parse({ host_port: "http://am:9093", drop_event_thresholds: "100:error,10:warning" }).drop_event_thresholds
        .length,
      2,
    );
    assert.equal(alertmanager.params.safeParse({ host_port: "http://am:9093", drop_event_thresholds: "100:severe" }).success, false);
    assert.equal(alertmanager.params.safeParse({ host_port: "http://am:9093", drop_event_thresholds: "many:error" }).success, false);
  });

  it("rejects a malformed extra_labels string", () => {
    assert.equal(alertmanager.params.safeParse({ host_port: "http://am:9093", extra_labels: "nocolon" }).success, false);
  });
});

describe("alertmanager notifier delivery to several instances", () => {
  const log = pino({ level: "silent" });
  async function deliver(answers: Record<string, KestrelError | "ok">): Promise<{ urls: string[]; error: unknown }> {
    const urls: string[] = [];
    const http: HttpClient = async (url, req) => {
      urls.push(url);
      assert.equal(JSON.parse(String(req.body)).length, 1);
      const a = answers[new URL(url).host]!;
      if (a !== "ok") throw a;
      return { status: 200, headers: new Headers(), body: "" };
    };
    const s = alertmanager.params.parse({ host_port: Object.keys(answers).map((h) => `http://${h}/`) });
    const inst = await alertmanager.create(s, { clients: { http }, log });
    try {
      await inst.send(makeNotification(), AbortSignal.timeout(1000));
      return { urls, error: undefined };
    } catch (error) {
      return { urls, error };
    }
  }
  const down = (retryAfter?: number) =>
    new KestrelError("ERR_NOTIFY", "HTTP 503", { retryable: true, ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }) });

  it("posts to every instance; one acceptance is a success", async () => {
    const r = await deliver({ "a:9093": down(), "b:9093": "ok" });
    assert.deepEqual(r.urls.sort(), ["http://a:9093/api/v2/alerts", "http://b:9093/api/v2/alerts"]);
    assert.equal(r.error, undefined);
  });

  it("fails when all refuse: retryable if any may accept later, after the longest Retry-After", async () => {
    const r = await deliver({ "a:9093": down(2), "b:9093": new KestrelError("ERR_NOTIFY", "HTTP 400") });
    assert.ok(r.error instanceof KestrelError);
    assert.equal(r.error.retryable, true);
    assert.equal(r.error.retryAfterSeconds, 2);
    assert.match(r.error.message, /HTTP 503; HTTP 400/);
    const bad = await deliver({
      "a:9093": new KestrelError("ERR_NOTIFY", "HTTP 400"),
      "b:9093": new KestrelError("ERR_NOTIFY", "HTTP 400"),
    });
    assert.equal((bad.error as KestrelError).retryable, false);
  });
});
