// Posts each notification to a Slack incoming webhook with Falco Talon's message layout: a header line,
// one attachment coloured by the result's status (by the event's priority for matched events) and, in
// the long format, Talon's fields (rule, action, actionner, status, objects, event, output, error, trace id).
import { z } from "zod";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { titleCase } from "./_payload.ts";

export interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export interface SlackAttachment {
  fallback: string;
  color: string;
  text?: string;
  footer?: string;
  fields?: SlackField[];
}

export interface SlackPayload {
  text?: string;
  username?: string;
  icon_url?: string;
  attachments: SlackAttachment[];
}

/** Talon's colours for results. */
export const STATUS_COLORS: Readonly<Record<string, string>> = { success: "#23ba47", failure: "#e20b0b", ignored: "#a4a8b1" };

/** Falcosidekick's Slack colours for Falco priorities, used for matched events. */
export const PRIORITY_COLORS: Readonly<Record<string, string>> = {
  Emergency: "#e20b0b",
  Alert: "#ff5400",
  Critical: "#ff5400",
  Error: "#e20b0b",
  Warning: "#ffc700",
  Notice: "#5bffb5",
  Informational: "#68c2ff",
  Debug: "#ccfff2",
};

/** Longest text put in one field; Slack cuts messages beyond 40,000 characters and folds long fields. */
const MAX_FIELD = 3000;

export interface SlackSettings {
  icon: string;
  username: string;
  footer: string;
  format: "long" | "short";
}

/** Slack's mrkdwn treats `&`, `<` and `>` as control characters; they must be escaped in any text. */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function cut(text: string): string {
  return text.length > MAX_FIELD ? `${text.slice(0, MAX_FIELD)}…` : text;
}

/** Inline code: backticks inside would end it, so they become a look-alike. */
function code(text: string): string {
  return `\`${slackEscape(cut(text)).replaceAll("`", "ˋ")}\``;
}

function block(text: string): string {
  return `\`\`\`\n${slackEscape(cut(text)).replaceAll("```", "ˋˋˋ")}\`\`\``;
}

/** Talon's header: `[*status*][*message*] Rule: `r` Action: `a` OutputTarget: `t``; events show their priority. */
export function slackHeader(n: Notification): string {
  if (n.kind === "event") return `[*${n.event.priority}*][*event*] Rule: ${code(n.rule)} Falco rule: ${code(n.event.rule)}`;
  let text = `[*${n.status}*][*${n.kind}*] Rule: ${code(n.rule)} Action: ${code(n.action)}`;
  if (n.target !== undefined) text += ` OutputTarget: ${code(n.target)}`;
  return text;
}

export function slackColor(n: Notification): string {
  return n.kind === "event" ? (PRIORITY_COLORS[n.event.priority] ?? "#a4a8b1") : (STATUS_COLORS[n.status] ?? "#a4a8b1");
}

export function slackPayload(n: Notification, s: SlackSettings): SlackPayload {
  const header = slackHeader(n);
  const attachment: SlackAttachment = { fallback: plainFallback(n), color: slackColor(n) };
  const payload: SlackPayload = { attachments: [attachment] };
  if (s.username !== "") payload.username = s.username;
  if (s.icon !== "") payload.icon_url = s.icon;
  if (s.format === "short") {
    // Talon's short format: the header and the outcome in the attachment's text, no fields, no footer.
    attachment.text = header + shortOutcome(n);
    return payload;
  }
  payload.text = header;
  attachment.fields = slackFields(n);
  if (s.footer !== "") attachment.footer = s.footer;
  return payload;
}

/** The short format's outcome after the header: the error, else the output, else nothing. */
function shortOutcome(n: Notification): string {
  if (n.error !== undefined && n.error !== "") return `, with error: ${code(n.error)}`;
  return n.summary !== "" ? `, with output: ${code(n.summary)}` : "";
}

/** Talon's fields of the long format, in its order. */
function slackFields(n: Notification): SlackField[] {
  const fields: SlackField[] = [];
  const add = (title: string, value: string, short: boolean) => fields.push({ title, value, short });
  add("Rule", code(n.rule), false);
  if (n.kind === "event") {
    add("Priority", code(n.event.priority), true);
    add("Source", code(n.event.source), true);
    if (n.event.hostname !== "") add("Hostname", code(n.event.hostname), true);
    if (n.event.tags.length > 0) add("Tags", code([...n.event.tags].sort().join(", ")), true);
  } else {
    add("Action", code(n.action), false);
    add("Actionner", code(n.actionner), true);
    add("Status", code(n.status), true);
  }
  for (const key of Object.keys(n.objects).sort()) add(titleCase(key), code(n.objects[key]!), true);
  add("Event", code(n.event.message || n.event.output), false);
  if (n.kind !== "event") add("Message", code(n.kind), true);
  if (n.target !== undefined) add("OutputTarget", code(n.target), true);
  if (n.location !== undefined) add("Location", code(n.location), false);
  if (n.error !== undefined && n.error !== "") add("Error", code(n.error), false);
  add("Trace ID", code(n.traceId), false);
  if (n.kind !== "event" && n.summary !== "") add("Output", block(n.summary), false);
  return fields;
}

/** Plain text for notifications and clients that cannot show attachments. */
function plainFallback(n: Notification): string {
  if (n.kind === "event") return `[${n.event.priority}] ${n.rule}: ${n.event.message || n.event.output}`;
  const what = n.target !== undefined ? `output ${n.target}` : `action ${n.action}`;
  return `[${n.status}] ${n.rule}: ${what}${n.error ? `: ${n.error}` : ""}`;
}

export default defineNotifier({
  name: "slack",
  needs: [],
  notes: {
    behaviour: "An incoming-webhook message in Talon's layout, coloured by status (results) or priority (events).",
  },
  description: "Post each result to a Slack incoming webhook (Talon's message layout)",
  params: z.strictObject({
    webhook_url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).describe("Slack incoming webhook URL"),
    icon: z
      .string()
      .default("https://upload.wikimedia.org/wikipedia/commons/2/26/Circaetus_gallicus_claw.jpg")
      .describe("avatar URL of the messages"),
    username: z.string().default("Falco Talon").describe("user name of the messages"),
    footer: z.string().default("https://github.com/falcosecurity/falco-talon").describe("footer of the messages (long format)"),
    format: z.enum(["long", "short"]).default("long").describe("long: header and all fields; short: one line of text"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  }),
  example: `
notifiers:
  slack:
    webhook_url: "https://hooks.slack.com/services/XXXX"
    icon: "https://upload.wikimedia.org/wikipedia/commons/2/26/Circaetus_gallicus_claw.jpg"
    username: "Falco Talon"
    footer: "https://github.com/falcosecurity/falco-talon"
    format: long
`,
  create(settings, { clients }) {
    const headers = { "content-type": "application/json; charset=utf-8", "user-agent": "Kestrel" };
    return {
      async send(n, signal) {
        await clients.http(settings.webhook_url, {
          method: "POST",
          headers,
          body: JSON.stringify(slackPayload(n, settings)),
          timeoutMs: settings.timeout_seconds * 1000,
          signal,
          errorCode: "ERR_NOTIFY",
        });
      },
    };
  },
});
