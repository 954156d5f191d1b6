// Recording HTTP servers on 127.0.0.1 that answer like Slack's incoming webhooks and PagerDuty's Events
// API v2: they validate the body as those APIs do and answer with their status codes and bodies. Answers
// can be scripted (429 with Retry-After, 500, …) for the next requests.
import { type Answer, type ApiReceiver, startRecordingServer } from "./receiver.ts";

export type { Answer, ApiReceiver, ApiRequest } from "./receiver.ts";

const text = (status: number, body: string, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { "content-type": "text/html", ...headers },
  body,
});

/** Slack incoming webhook: 200 `ok`; 400 `invalid_payload` for bad JSON, `no_text` without text or attachments. */
export function startSlackReceiver(): Promise<ApiReceiver> {
  return startRecordingServer((req) => {
    if (req.method !== "POST") return text(405, "invalid_method");
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return text(400, "invalid_payload");
    }
    const b = body as { text?: unknown; attachments?: unknown };
    if (typeof b !== "object" || b === null) return text(400, "invalid_payload");
    if ((typeof b.text !== "string" || b.text === "") && !(Array.isArray(b.attachments) && b.attachments.length > 0))
      return text(400, "no_text");
    return text(200, "ok");
  });
}

export const SLACK_RATE_LIMITED = (retryAfter: string): Answer => text(429, "rate_limited", { "retry-after": retryAfter });
export const SLACK_SERVER_ERROR: Answer = text(500, "internal_error");

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** PagerDuty Events API v2 (`POST /v2/enqueue`): 202 `{status: "success", message, dedup_key}`; 400 for an invalid event. */
export function startPagerDutyReceiver(): Promise<ApiReceiver> {
  let n = 0;
  return startRecordingServer((req) => {
    if (req.method !== "POST" || req.url !== "/v2/enqueue") return json(404, { status: "not found" });
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return json(400, { status: "invalid event", message: "Event object is invalid", errors: ["Malformed JSON"] });
    }
    const errors: string[] = [];
    if (typeof e["routing_key"] !== "string" || e["routing_key"] === "") errors.push("'routing_key' is missing or blank");
    if (!["trigger", "acknowledge", "resolve"].includes(e["event_action"] as string)) errors.push("'event_action' is invalid");
    const key = e["dedup_key"];
    if (key !== undefined && (typeof key !== "string" || key.length > 255)) errors.push("'dedup_key' is invalid");
    if (e["event_action"] === "trigger") {
      const p = e["payload"] as Record<string, unknown> | undefined;
      if (typeof p !== "object" || p === null) errors.push("'payload' is missing");
      else {
        if (typeof p["summary"] !== "string" || p["summary"] === "" || p["summary"].length > 1024)
          errors.push("'payload.summary' is invalid");
        if (typeof p["source"] !== "string" || p["source"] === "") errors.push("'payload.source' is missing or blank");
        if (!["critical", "error", "warning", "info"].includes(p["severity"] as string)) errors.push("'payload.severity' is invalid");
        if (p["timestamp"] !== undefined && Number.isNaN(Date.parse(p["timestamp"] as string)))
          errors.push("'payload.timestamp' is invalid");
      }
    } else if (typeof key !== "string") errors.push("'dedup_key' is required to acknowledge or resolve");
    if (errors.length > 0) return json(400, { status: "invalid event", message: "Event object is invalid", errors });
    return json(202, { status: "success", message: "Event processed", dedup_key: typeof key === "string" ? key : `generated-${++n}` });
  });
}

export const PAGERDUTY_THROTTLED = (retryAfter: string): Answer =>
  json(429, { status: "throttle event", message: "Requests for this service are arriving too quickly." }, { "retry-after": retryAfter });
export const PAGERDUTY_SERVER_ERROR: Answer = json(500, { status: "error", message: "internal error" });
export const PAGERDUTY_INVALID: Answer = json(400, {
  status: "invalid event",
  message: "Event object is invalid",
  errors: ["'routing_key' is invalid"],
});
