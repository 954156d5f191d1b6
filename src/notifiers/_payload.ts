// The notification as Falco Talon's notifiers send it (its LogLine JSON), so receivers written for Talon
// keep working: object keys Title-cased (`Pod`, `Namespace`), empty fields omitted.
import { z } from "zod";
import type { Notification } from "../plugins/types.ts";

export interface TalonPayload {
  time: string;
  message: "action" | "output" | "event";
  status: string;
  rule: string;
  event: string;
  priority: string;
  source: string;
  action: string;
  actionner: string;
  output_target?: string;
  objects?: Record<string, string>;
  output?: string;
  error?: string;
  location?: string;
  trace_id: string;
}

export function titleCase(key: string): string {
  return key.length === 0 ? key : key[0]!.toUpperCase() + key.slice(1);
}

export function talonPayload(n: Notification): TalonPayload {
  const p: TalonPayload = {
    time: n.time.toISOString(),
    message: n.kind,
    status: n.status,
    rule: n.rule,
    event: n.event.message,
    priority: n.event.priority,
    source: n.event.source,
    action: n.action,
    actionner: n.actionner,
    trace_id: n.traceId,
  };
  if (n.target !== undefined) p.output_target = n.target;
  const keys = Object.keys(n.objects);
  if (keys.length > 0) {
    const objects: Record<string, string> = {};
    for (const k of keys) objects[titleCase(k)] = n.objects[k]!;
    p.objects = objects;
  }
  if (n.summary !== "") p.output = n.summary;
  if (n.error !== undefined && n.error !== "") p.error = n.error;
  if (n.location !== undefined) p.location = n.location;
  return p;
}

/** The `format` setting of the notifiers that write one line per notification (stdout, file, program). */
export const lineFormat = z.enum(["json", "text"]).default("json").describe("json: one JSON object per line; text: one readable line");

/** The line a Falco-style channel writes for a notification (no trailing newline). */
export function formatLine(n: Notification, format: "json" | "text"): string {
  return format === "json" ? JSON.stringify(talonPayload(n)) : textLine(n);
}

/** One line of text, Falco-style: `<time>: <Status> <rule> › <action> (<actionner>) …`. */
export function textLine(n: Notification): string {
  const parts = [
    `${n.time.toISOString()}: ${titleCase(n.status)} rule=${quote(n.rule)} action=${quote(n.action)} actionner=${n.actionner}`,
  ];
  if (n.target !== undefined) parts.push(`output_target=${n.target}`);
  for (const k of Object.keys(n.objects)) parts.push(`${k}=${quote(n.objects[k]!)}`);
  if (n.summary !== "") parts.push(`output=${quote(n.summary)}`);
  if (n.error !== undefined && n.error !== "") parts.push(`error=${quote(n.error)}`);
  if (n.location !== undefined) parts.push(`location=${n.location}`);
  parts.push(`trace_id=${n.traceId}`);
  return parts.join(" ");
}

function quote(v: string): string {
  return /^[^\s"=]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
}
