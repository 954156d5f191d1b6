// Sends each notification to PagerDuty's Events API v2 (`POST /v2/enqueue`). The severity follows the
// Falco priority, and a dedup_key made of the Falco rule and the pod (or host) makes the repeats of one
// threat — the event and the results of the actions taken against it — update one incident instead of
// opening one each. The success of an actionner listed in `resolve_on` (say kubernetes:terminate: the
// pod is gone) resolves that incident.
import { createHash } from "node:crypto";
import { z } from "zod";
import { bigintReplacer, firstField } from "../events/fields.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { talonPayload } from "./_payload.ts";

export const ENDPOINTS = {
  us: "https://events.pagerduty.com/v2/enqueue",
  eu: "https://events.eu.pagerduty.com/v2/enqueue",
} as const;

export type PagerDutySeverity = "critical" | "error" | "warning" | "info";

export function severityOf(priority: string): PagerDutySeverity {
  switch (priority) {
    case "Emergency":
    case "Alert":
    case "Critical":
      return "critical";
    case "Error":
      return "error";
    case "Warning":
      return "warning";
    default:
      return "info";
  }
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: "trigger" | "resolve";
  dedup_key?: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp: string;
    component?: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
}

export interface PagerDutySettings {
  routing_key: string;
  dedup: boolean;
  resolve_on: readonly string[];
}

const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

/** `falco/<Falco rule>/<namespace>/<pod>`, or `falco/<Falco rule>/<hostname>` outside Kubernetes. */
export function dedupKey(n: Notification): string {
  const e = n.event;
  const pod = n.objects["pod"] ?? firstField(e, ["k8s.pod.name"]);
  const namespace = n.objects["namespace"] ?? firstField(e, ["k8s.ns.name"]);
  const where = pod !== undefined ? `${namespace ?? ""}/${pod}` : e.hostname;
  const key = `falco/${e.rule}/${where}`;
  if (key.length <= MAX_DEDUP_KEY) return key;
  return `falco/${createHash("sha256").update(key).digest("hex")}`;
}

function summaryOf(n: Notification): string {
  const e = n.event;
  let text: string;
  if (n.kind === "event") text = `${e.rule}: ${e.message || e.output}`;
  else {
    const what = n.target !== undefined ? `output ${n.target}` : `action ${n.action} (${n.actionner})`;
    const outcome = n.error !== undefined && n.error !== "" ? n.error : n.summary;
    text = `[${n.status}] ${n.rule}: ${what}${outcome !== "" ? `: ${outcome}` : ""} — ${e.rule}`;
  }
  return text.length > MAX_SUMMARY ? `${text.slice(0, MAX_SUMMARY - 1)}…` : text;
}

export function pagerDutyEvent(n: Notification, s: PagerDutySettings): PagerDutyEvent {
  const e = n.event;
  const key = s.dedup ? dedupKey(n) : undefined;
  if (key !== undefined && n.kind !== "event" && n.status === "success" && s.resolve_on.includes(n.actionner)) {
    return { routing_key: s.routing_key, event_action: "resolve", dedup_key: key };
  }
  const time = Date.parse(e.time);
  const pod = n.objects["pod"] ?? firstField(e, ["k8s.pod.name"]);
  const namespace = n.objects["namespace"] ?? firstField(e, ["k8s.ns.name"]);
  const details: Record<string, unknown> = { ...talonPayload(n), falco_rule: e.rule, tags: e.tags, output_fields: e.outputFields };
  if (e.hostname !== "") details["hostname"] = e.hostname;
  const event: PagerDutyEvent = {
    routing_key: s.routing_key,
    event_action: "trigger",
    payload: {
      summary: summaryOf(n),
      source: e.hostname || "falco",
      severity: severityOf(e.priority),
      timestamp: new Date(Number.isNaN(time) ? n.time.getTime() : time).toISOString(),
      ...(pod === undefined ? {} : { component: namespace === undefined ? pod : `${namespace}/${pod}` }),
      group: e.source,
      class: e.rule,
      custom_details: details,
    },
  };
  if (key !== undefined) event.dedup_key = key;
  return event;
}

/** PagerDuty refuses events over 512 KB: a long output (inlined logs) is cut to fit. */
const MAX_BODY = 500_000;

export function encode(event: PagerDutyEvent): string {
  const body = JSON.stringify(event, bigintReplacer);
  const details = event.payload?.custom_details;
  const size = Buffer.byteLength(body);
  if (size <= MAX_BODY || details === undefined || typeof details["output"] !== "string") return body;
  const output = details["output"];
  const keep = Math.max(0, output.length - (size - MAX_BODY) - 100);
  return JSON.stringify(
    { ...event, payload: { ...event.payload, custom_details: { ...details, output: `${output.slice(0, keep)}… (cut)` } } },
    bigintReplacer,
  );
}

export default defineNotifier({
  name: "pagerduty",
  needs: [],
  notes: {
    behaviour:
      "Events API v2 `trigger`, severity from the priority, `dedup_key` per Falco rule and pod; `resolve` when an actionner listed in `resolve_on` succeeds.",
    talon: "Kestrel only",
  },
  description: "Trigger (or resolve) PagerDuty incidents through the Events API v2, one incident per rule and pod",
  params: z.strictObject({
    routing_key: z
      .string()
      .min(1, "the integration (routing) key is required")
      .describe("integration key of the PagerDuty service (Events API v2)"),
    region: z.enum(["us", "eu"]).default("us").describe("us: events.pagerduty.com; eu: events.eu.pagerduty.com"),
    api_url: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .optional()
      .describe("full URL of the enqueue endpoint, replacing the region's (a proxy, a test server)"),
    dedup: z
      .boolean()
      .default(true)
      .describe("send a dedup_key (Falco rule + namespace/pod, or host) so repeats update one incident; false: one alert per notification"),
    resolve_on: z
      .array(z.string())
      .default([])
      .describe("actionners (kubernetes:terminate, …) whose success resolves the incident instead of triggering it"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  }),
  example: `
notifiers:
  pagerduty:
    routing_key: "0123456789abcdef0123456789abcdef"
    region: eu
    resolve_on: [kubernetes:terminate, kubernetes:delete]
`,
  create(settings, { clients }) {
    const url = settings.api_url ?? ENDPOINTS[settings.region];
    const headers = { "content-type": "application/json", "user-agent": "Kestrel" };
    // Notifications of one incident are sent one after the other, in the order they were handed over, so
    // that a resolve (the pod was terminated) never overtakes the trigger of the same event.
    const chains = new Map<string, Promise<unknown>>();
    return {
      async send(n, signal) {
        const event = pagerDutyEvent(n, settings);
        const post = () =>
          clients.http(url, {
            method: "POST",
            headers,
            body: encode(event),
            timeoutMs: settings.timeout_seconds * 1000,
            signal,
            errorCode: "ERR_NOTIFY",
          });
        const key = event.dedup_key;
        if (key === undefined) {
          await post();
          return;
        }
        const previous = chains.get(key) ?? Promise.resolve();
        const mine = previous.catch(() => undefined).then(post);
        chains.set(key, mine);
        try {
          await mine;
        } finally {
          if (chains.get(key) === mine) chains.delete(key);
        }
      },
    };
  },
});
