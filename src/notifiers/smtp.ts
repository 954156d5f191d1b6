// Mails each notification (Talon's smtp notifier and settings), as HTML with a plain-text alternative or
// as plain text only. Every value in the HTML is escaped: rule names, outputs and event texts come from
// Falco events, which an attacker can shape. Beyond Talon: the html format works, authentication is only
// attempted when a user is set, implicit TLS (port 465 or `implicit_tls`), and a CA file for private
// certificates. One connection per mail; an authentication failure or a 5xx answer is final, a 4xx answer
// or a connection problem is retried by the delivery queue.
import { isIP } from "node:net";
import { z } from "zod";
import { errorMessage, KestrelError } from "../errors.ts";
import { FileError, readRegularFileSync } from "../files.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { titleCase } from "./_payload.ts";

export const params = z.strictObject({
  host_port: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, "must be host:port")
    .describe("host:port of the SMTP server"),
  from: z.string().min(1).describe("From address"),
  to: z.string().min(1).describe("recipients, comma-separated"),
  user: z.coerce.string().default("").describe("user for SMTP authentication (none when empty)"),
  password: z.string().default("").describe("password for SMTP authentication"),
  format: z.enum(["html", "text"]).default("html").describe("html (HTML with a text alternative) or text"),
  tls: z.boolean().default(false).describe("require STARTTLS (without it, STARTTLS is still used when the server offers it)"),
  implicit_tls: z.boolean().optional().describe("TLS from the first byte (SMTPS); default: true on port 465 (Kestrel addition)"),
  ca_file: z.string().default("").describe("PEM file of the CA certificates to trust for the server's certificate (Kestrel addition)"),
  timeout_seconds: z.number().positive().default(10).describe("deadline of the connection and of each SMTP step (Kestrel addition)"),
});

type Settings = z.output<typeof params>;

export function escapeHtml(v: string): string {
  return v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One line, no control characters: header values must not carry line breaks. */
function oneLine(v: string): string {
  return v.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
}

/** What the notification is about: its status, or the event's priority for an event. */
function headline(n: Notification): string {
  return n.kind === "event" ? n.event.priority : n.status;
}

export function mailSubject(n: Notification): string {
  const parts = [`[kestrel][${headline(n)}][${n.kind}]`];
  if (n.target !== undefined) parts.push(`OutputTarget '${n.target}'`);
  if (n.action !== "") parts.push(`Action '${n.action}'`);
  parts.push(`Rule '${n.rule}'`);
  return oneLine(parts.join(" "));
}

/** The fields shown in both bodies, in order; empty ones left out. */
export function mailFields(n: Notification): [string, string][] {
  const rows: [string, string][] = [
    ["Status", n.status],
    ["Message", n.kind],
    ["Rule", n.rule],
    ["Action", n.action],
    ["Actionner", n.actionner],
    ["OutputTarget", n.target ?? ""],
  ];
  for (const k of Object.keys(n.objects)) rows.push([titleCase(k), n.objects[k]!]);
  rows.push(
    ["Output", n.summary],
    ["Error", n.error ?? ""],
    ["Location", n.location ?? ""],
    ["Event", n.event.message],
    ["Priority", n.event.priority],
    ["Source", n.event.source],
    ["Time", n.time.toISOString()],
    ["Trace ID", n.traceId],
  );
  return rows.filter(([, v]) => v !== "");
}

export function mailText(n: Notification): string {
  return `${mailFields(n)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}\n`;
}

const COLOURS: Record<string, string> = { success: "#23ba47", failure: "#e20b0b", ignored: "#a4a8b1" };
const PRIORITY_COLOURS: Record<string, string> = {
  Emergency: "#e20b0b",
  Alert: "#ff5400",
  Critical: "#ff9000",
  Error: "#ffc700",
  Warning: "#ffff00",
  Notice: "#5bffb5",
  Informational: "#68c2ff",
  Debug: "#ccfff2",
};

export function mailHtml(n: Notification): string {
  const colour = n.kind === "event" ? (PRIORITY_COLOURS[n.event.priority] ?? "#a4a8b1") : (COLOURS[n.status] ?? "#a4a8b1");
  const rows = mailFields(n)
    .map(
      ([k, v]) =>
        `<tr><th style="text-align:left;vertical-align:top;padding:4px 8px">${escapeHtml(k)}</th><td style="padding:4px 8px;white-space:pre-wrap;font-family:monospace">${escapeHtml(v)}</td></tr>`,
    )
    .join("\n");
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(mailSubject(n))}</title></head>
<body style="font-family:sans-serif">
<table style="border-collapse:collapse;border:1px solid #ccc">
<tr><td colspan="2" style="background:${colour};padding:8px;font-weight:bold">${escapeHtml(`${headline(n)} — ${n.rule}`)}</td></tr>
${rows}
</table>
</body></html>
`;
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(hostPort.slice(i + 1)) };
}

/** nodemailer's error to a KestrelError: 4xx answers and connection problems are retryable; refused
 * authentication, 5xx answers, certificate problems and malformed messages are not. */
export function smtpError(err: unknown): KestrelError {
  const e = err as { code?: string; responseCode?: number; response?: string };
  const message = `smtp: ${errorMessage(err)}`;
  const code = e.responseCode;
  let retryable: boolean;
  if (typeof code === "number") retryable = code >= 400 && code < 500;
  else if (e.code === "EAUTH" || e.code === "EENVELOPE" || e.code === "EMESSAGE" || e.code === "ETLS") retryable = false;
  else if (/certificate|self.signed|altnames|unable to verify/i.test(errorMessage(err))) retryable = false;
  else retryable = true; // ECONNECTION, ESOCKET, ETIMEDOUT, EDNS, …
  return new KestrelError(e.code === "ETIMEDOUT" ? "ERR_TIMEOUT" : "ERR_NOTIFY", message, { cause: err, retryable });
}

function readCa(file: string): string {
  try {
    return readRegularFileSync(file).toString("utf8");
  } catch (err) {
    const reason = err instanceof FileError ? err.reason : errorMessage(err);
    throw new KestrelError("ERR_CONFIG_INVALID", `smtp: cannot read ca_file ${file}: ${reason}`, { cause: err });
  }
}

function transportOptions(s: Settings) {
  const { host, port } = splitHostPort(s.host_port);
  const implicit = s.implicit_tls ?? port === 465;
  const ms = s.timeout_seconds * 1000;
  return {
    host,
    port,
    secure: implicit,
    requireTLS: !implicit && s.tls,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    tls: {
      minVersion: "TLSv1.2" as const,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(s.ca_file === "" ? {} : { ca: readCa(s.ca_file) }),
    },
    ...(s.user === "" ? {} : { auth: { user: s.user, pass: s.password } }),
  };
}

export default defineNotifier({
  name: "smtp",
  needs: [],
  notes: {
    behaviour:
      "One mail per notification, HTML with every value escaped plus a text alternative; `tls` requires STARTTLS; `implicit_tls` is true on port 465.",
  },
  description: "Mail each result (HTML with a text alternative, or text)",
  params,
  example: `
notifiers:
  smtp:
    host_port: "smtp.example.com:587"
    from: "falco@example.com"
    to: "secops@example.com, oncall@example.com"
    user: "falco"
    password: "xxxxx"
    format: html
    tls: true
`,
  async create(settings) {
    // nodemailer (≈ 60 ms to import) is loaded only when an smtp notifier is configured.
    const { default: nodemailer } = await import("nodemailer");
    const transport = nodemailer.createTransport(transportOptions(settings));
    const to = settings.to
      .split(",")
      .map((a) => a.trim())
      .filter((a) => a !== "");
    return {
      async send(n) {
        const text = mailText(n);
        try {
          await transport.sendMail({
            from: settings.from,
            to,
            subject: mailSubject(n),
            date: n.time,
            text,
            ...(settings.format === "html" ? { html: mailHtml(n) } : {}),
            headers: { "X-Kestrel-Trace-Id": oneLine(n.traceId) },
          });
        } catch (err) {
          throw smtpError(err);
        }
      },
      async close() {
        transport.close();
      },
    };
  },
});
