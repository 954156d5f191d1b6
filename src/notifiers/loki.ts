// Pushes each notification to Grafana Loki (or Grafana Cloud Logs) through the push API, with Talon's
// settings. Unlike Talon, the stream labels are bounded: only values drawn from small sets (status, rule,
// action, actionner, kind, priority, source, output target) become labels; trace ids, pods, namespaces and
// texts stay in the log line, so that Loki's index does not grow with every event.
import { z } from "zod";
import { KestrelError } from "../errors.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { baseUrl, httpUrl, requireBaseUrl } from "./_base-url.ts";
import { formatLine } from "./_payload.ts";

export const params = z
  .strictObject({
    url: httpUrl.optional().describe("base URL of Loki, http(s)://host:port (Talon's setting; required unless host_port is set)"),
    host_port: httpUrl.optional().describe("the same as url (the name the Talon docs' example uses)"),
    endpoint: z.string().startsWith("/").default("/loki/api/v1/push").describe("path of the push API"),
    user: z.coerce.string().default("").describe("user for basic auth (Grafana Cloud: the stack's user id)"),
    api_key: z.string().default("").describe("password or API key for basic auth, sent when user is set"),
    tenant: z.string().default("").describe("tenant sent as the X-Scope-OrgID header (multi-tenant Loki)"),
    custom_headers: z.record(z.string(), z.coerce.string()).default({}).describe("extra HTTP headers"),
    format: z
      .enum(["json", "text"])
      .default("json")
      .describe("log line: json (Talon's notification body) or text (one readable line) (Kestrel addition)"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  })
  .superRefine(requireBaseUrl);

/** Talon's label value shaping for rule and action names: lower-cased, spaces replaced by `_`. */
function labelValue(v: string): string {
  return v.toLowerCase().replace(/\s+/g, "_");
}

/** Distinct sources kept as label values; an event's source is attacker-controlled, so beyond these (or
 * when it does not look like a Falco source name) it is "other": Loki's streams stay few. */
const SOURCE_LABELS_LIMIT = 50;
const sourceLabels = new Set<string>();
const SOURCE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

function sourceLabel(source: string): string {
  if (sourceLabels.has(source)) return source;
  if (!SOURCE_NAME.test(source) || sourceLabels.size >= SOURCE_LABELS_LIMIT) return "other";
  sourceLabels.add(source);
  return source;
}

/** The stream labels: bounded values only (never trace ids, pod names or free text). */
export function lokiLabels(n: Notification): Record<string, string> {
  const labels: Record<string, string> = {
    app: "kestrel",
    message: n.kind,
    status: n.status,
    rule: labelValue(n.rule),
    priority: n.event.priority,
    source: sourceLabel(n.event.source),
  };
  if (n.action !== "") labels["action"] = labelValue(n.action);
  if (n.actionner !== "") labels["actionner"] = n.actionner;
  if (n.target !== undefined) labels["output_target"] = n.target;
  return labels;
}

/** The push API body: one stream holding one entry, timestamped with the result's time in nanoseconds. */
export function lokiBody(n: Notification, format: "json" | "text"): string {
  const line = formatLine(n, format);
  const ns = (BigInt(n.time.getTime()) * 1_000_000n).toString();
  return JSON.stringify({ streams: [{ stream: lokiLabels(n), values: [[ns, line]] }] });
}

export default defineNotifier({
  name: "loki",
  needs: [],
  notes: {
    behaviour:
      "`url` or `host_port` is required. The push API, bounded labels only (status, rule, action, actionner, priority, source, output_target); the line is Talon's JSON or text.",
  },
  description: "Push each result to Grafana Loki as a log line with bounded labels",
  params,
  example: `
notifiers:
  loki:
    host_port: "https://logs-prod-eu-west-0.grafana.net"
    user: "99999"
    api_key: "xxxxx"
    tenant: "security"
`,
  create(settings, { clients }) {
    const base = baseUrl(settings);
    const target = `${base}${settings.endpoint}`;
    const headers: Record<string, string> = { ...settings.custom_headers, "content-type": "application/json", "user-agent": "Kestrel" };
    if (settings.tenant !== "") headers["x-scope-orgid"] = settings.tenant;
    if (settings.user !== "") headers["authorization"] = `Basic ${Buffer.from(`${settings.user}:${settings.api_key}`).toString("base64")}`;
    return {
      async send(n, signal) {
        try {
          await clients.http(target, {
            method: "POST",
            headers,
            body: lokiBody(n, settings.format),
            timeoutMs: settings.timeout_seconds * 1000,
            signal,
            errorCode: "ERR_NOTIFY",
          });
        } catch (err) {
          if (err instanceof KestrelError) throw new KestrelError(err.code, `loki: ${err.message}`, lokiErrorOptions(err));
          throw err;
        }
      },
    };
  },
});

function lokiErrorOptions(err: KestrelError): { cause: unknown; retryable: boolean; retryAfterSeconds?: number } {
  return {
    cause: err,
    retryable: err.retryable,
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
  };
}
