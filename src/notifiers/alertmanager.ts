// Posts each notification as one alert to Prometheus Alertmanager (`POST /api/v2/alerts`), with the labels
// and annotations Falcosidekick's alertmanager output uses (so Alertmanager routes written for it keep
// working), plus the action's outcome. Several Alertmanagers of an HA cluster each get the alert; the
// delivery succeeds when at least one accepts it.
import { z } from "zod";
import { KestrelError } from "../errors.ts";
import { fieldText } from "../events/fields.ts";
import { PRIORITIES, priorityLevel } from "../events/priority.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { titleCase } from "./_payload.ts";

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/** Falcosidekick's default severity for each Falco priority. */
export const DEFAULT_SEVERITY: Readonly<Record<string, string>> = {
  Emergency: "critical",
  Alert: "critical",
  Critical: "critical",
  Error: "warning",
  Warning: "warning",
  Notice: "information",
  Informational: "information",
  Debug: "information",
};

/** Falcosidekick's label name sanitising: `[^a-zA-Z0-9_]` → `_`, `__` → `_` once, `_` trimmed at both ends
 * (`proc.aname[2]` → `proc_aname_2`). A name that would start with a digit gets a leading `_`. */
export function labelName(key: string): string {
  const name = key
    .replace(/[^a-zA-Z0-9_]/g, "_")
    .replaceAll("__", "_")
    .replace(/^_+|_+$/g, "");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** `a:b,c:d` (Falcosidekick's form, as in an env var) or a mapping. */
const pairs = z
  .union([
    z.record(z.string(), z.coerce.string()),
    z.string().transform((text, ctx) => {
      const out: Record<string, string> = {};
      for (const item of text.split(",")) {
        if (item.trim() === "") continue;
        const at = item.indexOf(":");
        if (at <= 0) {
          ctx.addIssue({ code: "custom", message: `"${item.trim()}" is not name:value` });
          return z.NEVER;
        }
        out[item.slice(0, at).trim()] = item.slice(at + 1).trim();
      }
      return out;
    }),
  ])
  .default({});

const hostPorts = z
  .union([
    z.string().transform((s) =>
      s
        .split(",")
        .map((u) => u.trim())
        .filter((u) => u !== ""),
    ),
    z.array(z.string()),
  ])
  .pipe(z.array(z.url({ protocol: /^https?$/, error: "must be an http(s) URL" })).min(1, "at least one Alertmanager URL is needed"));

/** A drop-count threshold: more drops than `value` make the alert at least `level` (0 Emergency … 7 Debug). */
export interface DropThreshold {
  value: number;
  level: number;
}

const priorityName = z.string().transform((name, ctx) => {
  const level = priorityLevel(name.trim());
  if (level < 0) {
    ctx.addIssue({ code: "custom", message: `"${name.trim()}" is not a Falco priority (${PRIORITIES.join(", ")})` });
    return z.NEVER;
  }
  return level;
});

/**
 * `10000:critical, 1000:critical, …` (Falcosidekick's form) or a mapping `{10000: critical}`, sorted from the
 * highest value down. The default is Falcosidekick's documented one (its code default has a typo that leaves a
 * single threshold).
 */
const dropThresholds = pairs
  .pipe(z.record(z.string().regex(/^\d+$/, "must be a number of dropped events"), priorityName))
  .transform((map): DropThreshold[] =>
    Object.entries(map)
      .map(([value, level]) => ({ value: Number(value), level }))
      .sort((a, b) => b.value - a.value),
  );

export interface AlertmanagerSettings {
  endpoint: string;
  drop_event_thresholds: readonly DropThreshold[];
  /** Level for drops above zero below every threshold. */
  drop_event_default_priority: number;
  expires_after: number;
  generator_url?: string | undefined;
  extra_labels: Record<string, string>;
  extra_annotations: Record<string, string>;
  custom_severity_map: Record<string, string>;
}

/**
 * Falco's own "syscall event drop" alerts carry drop counters (`n_drops`, `n_drops_buffer_total`, …). Like
 * Falcosidekick, each becomes a bucket label (`>1000`, or `0`) instead of an ever-changing number that would
 * make every alert unique, and the alert's priority is raised to the threshold's: no drops is at least
 * Warning, drops below every threshold take the default priority.
 */
function dropLabel(count: number, s: AlertmanagerSettings): { label: string; level: number } {
  if (count === 0) return { label: "0", level: 4 };
  for (const t of s.drop_event_thresholds) if (count > t.value) return { label: `>${t.value}`, level: t.level };
  return { label: String(count), level: s.drop_event_default_priority };
}

export function alertFor(n: Notification, s: AlertmanagerSettings): PostableAlert {
  const e = n.event;
  const labels: Record<string, string> = {};
  const level = addFieldLabels(labels, e.outputFields, e.priorityLevel, s);
  labels["source"] = "falco";
  labels["rule"] = e.rule;
  labels["alertname"] = e.rule;
  labels["eventsource"] = e.source;
  if (e.hostname !== "") labels["hostname"] = e.hostname;
  if (e.tags.length > 0) labels["tags"] = [...e.tags].sort().join(",");
  const priority = PRIORITIES[level]!;
  labels["priority"] = priority;
  labels["severity"] = s.custom_severity_map[priority] ?? DEFAULT_SEVERITY[priority] ?? "information";
  addResultLabels(labels, n);
  Object.assign(labels, s.extra_labels);
  // Alertmanager drops empty labels itself; dropping them here keeps the identity the same on both sides.
  for (const k of Object.keys(labels)) if (labels[k] === "") delete labels[k];
  return { labels, annotations: annotationsFor(n, s), ...alertTimes(n, s) };
}

/**
 * The event's output fields as labels (sanitised names; drop counters as buckets), into `labels`. Returns
 * the alert's priority level: the event's, raised by its drop counters.
 */
function addFieldLabels(
  labels: Record<string, string>,
  fields: Notification["event"]["outputFields"],
  level: number,
  s: AlertmanagerSettings,
): number {
  let raised = level;
  for (const [key, value] of Object.entries(fields)) {
    if (key.startsWith("n_evts")) continue;
    if (key.startsWith("n_drop")) {
      const count = dropCount(value);
      if (count === undefined) continue;
      const drop = dropLabel(count, s);
      labels[labelName(key)] = drop.label;
      raised = Math.min(raised, drop.level);
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "bigint") continue;
    const name = labelName(key);
    if (name !== "") labels[name] = fieldText(value)!;
  }
  return raised;
}

/** A drop counter's value as a count, or undefined when it is not a non-negative integer. */
function dropCount(value: unknown): number | undefined {
  const count = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if ((typeof count === "number" && Number.isInteger(count) && count >= 0) || typeof count === "bigint") return Number(count);
  return undefined;
}

/** Kestrel's own: which response rule sent it and, for results, what was done and how it went. */
function addResultLabels(labels: Record<string, string>, n: Notification): void {
  labels["kestrel_rule"] = n.rule;
  if (n.kind === "event") return;
  labels["action"] = n.action;
  labels["actionner"] = n.actionner;
  labels["status"] = n.status;
  if (n.target !== undefined) labels["output_target"] = n.target;
}

function annotationsFor(n: Notification, s: AlertmanagerSettings): Record<string, string> {
  const output = n.event.output || n.event.message;
  const annotations: Record<string, string> = { info: output, description: output, summary: n.event.rule };
  if (n.kind !== "event") {
    if (n.summary !== "") annotations["result"] = n.summary;
    if (n.error !== undefined && n.error !== "") annotations["error"] = n.error;
    const objects = Object.keys(n.objects).map((k) => `${titleCase(k)}=${n.objects[k]}`);
    if (objects.length > 0) annotations["objects"] = objects.join(", ");
    if (n.location !== undefined) annotations["location"] = n.location;
  }
  annotations["trace_id"] = n.traceId;
  Object.assign(annotations, s.extra_annotations);
  return annotations;
}

/** startsAt (the event's time, else the notification's), endsAt and generatorURL when configured. */
function alertTimes(n: Notification, s: AlertmanagerSettings): Pick<PostableAlert, "startsAt" | "endsAt" | "generatorURL"> {
  const eventTime = Date.parse(n.event.time);
  const start = Number.isNaN(eventTime) ? n.time.getTime() : eventTime;
  const times: Pick<PostableAlert, "startsAt" | "endsAt" | "generatorURL"> = { startsAt: new Date(start).toISOString() };
  // Without expires_after, Alertmanager resolves the alert after its resolve_timeout (5m by default).
  if (s.expires_after > 0) times.endsAt = new Date(start + s.expires_after * 1000).toISOString();
  if (s.generator_url !== undefined && s.generator_url !== "") times.generatorURL = s.generator_url;
  return times;
}

export default defineNotifier({
  name: "alertmanager",
  needs: [],
  notes: {
    behaviour:
      "`host_port`: one Alertmanager or several (HA). One alert per notification to every Alertmanager (success if one accepts), Falcosidekick's labels (`alertname` = Falco rule, `severity`, sanitised field labels) plus the action's; Falco's drop alerts get `n_drop*` bucket labels (`>1000`) and a raised priority, as in Falcosidekick.",
    talon: "Kestrel only",
  },
  description: "Send each result or event as an alert to Prometheus Alertmanager (API v2), Falcosidekick's labels",
  params: z.strictObject({
    host_port: hostPorts.describe("Alertmanager URL (http://host:port), or several (a list or comma-separated) for an HA cluster"),
    endpoint: z.string().startsWith("/").default("/api/v2/alerts").describe("path of the alerts API"),
    expires_after: z
      .number()
      .nonnegative()
      .default(0)
      .describe("seconds after the event when the alert ends (endsAt); 0: Alertmanager's resolve_timeout applies"),
    generator_url: z.url().optional().describe("generatorURL of the alerts (a link back, for example to a dashboard)"),
    extra_labels: pairs.describe("labels added to every alert (a mapping, or name:value,name2:value2); they override the others"),
    extra_annotations: pairs.describe("annotations added to every alert (a mapping, or name:value,…)"),
    custom_severity_map: pairs.describe(
      "severity label per Falco priority (Warning: major, …); default critical for Emergency/Alert/Critical, warning for Error/Warning, information below",
    ),
    drop_event_thresholds: dropThresholds
      .prefault("10000:critical, 1000:critical, 100:critical, 10:warning, 1:warning")
      .describe(
        "Falco's drop alerts: n_drop* counters above a threshold become the label >threshold and raise the priority (count:priority, …)",
      ),
    drop_event_default_priority: priorityName
      .prefault("Critical")
      .describe("priority of a drop alert whose counters are above 0 but below every threshold"),
    custom_headers: z.record(z.string(), z.coerce.string()).default({}).describe("extra HTTP headers (for example Authorization)"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  }),
  example: `
notifiers:
  alertmanager:
    host_port:
      - "http://alertmanager-0.monitoring:9093"
      - "http://alertmanager-1.monitoring:9093"
    expires_after: 3600
    extra_labels:
      team: security
    custom_severity_map:
      Warning: minor
`,
  create(settings, { clients }) {
    const headers: Record<string, string> = {
      ...settings.custom_headers,
      "content-type": "application/json; charset=utf-8",
      "user-agent": "Kestrel",
    };
    const urls = settings.host_port.map((u) => u.replace(/\/+$/, "") + settings.endpoint);
    return {
      async send(n, signal) {
        const body = JSON.stringify([alertFor(n, settings)]);
        const results = await Promise.allSettled(
          urls.map((url) =>
            clients.http(url, {
              method: "POST",
              headers,
              body,
              timeoutMs: settings.timeout_seconds * 1000,
              signal,
              errorCode: "ERR_NOTIFY",
            }),
          ),
        );
        if (results.some((r) => r.status === "fulfilled")) return;
        const errors = results.map((r) => (r as PromiseRejectedResult).reason as unknown);
        if (errors.length === 1) throw errors[0];
        // Every instance refused: retry if any of them may accept later, after the longest wait any asked for.
        const kestrel = errors.filter((e): e is KestrelError => e instanceof KestrelError);
        const waits = kestrel.flatMap((e) => (e.retryAfterSeconds === undefined ? [] : [e.retryAfterSeconds]));
        throw new KestrelError("ERR_NOTIFY", `no Alertmanager accepted the alert: ${errors.map((e) => (e as Error).message).join("; ")}`, {
          retryable: kestrel.some((e) => e.retryable),
          ...(waits.length === 0 ? {} : { retryAfterSeconds: Math.max(...waits) }),
        });
      },
    };
  },
});
