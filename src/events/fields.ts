// Reading event fields as text, the event's template variables, and re-emitting an event as Falco JSON.
import type { FalcoEvent, FieldValue } from "./event.ts";

/** A field value as text, the way a rule condition compares it. Numbers print in plain decimal
 * (1234567, never 1.234567e+06); null prints as Talon's `<nil>`. Undefined when the field is absent. */
export function fieldText(value: FieldValue | undefined): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      return Number.isInteger(value) && Math.abs(value) >= 1e21 ? BigInt(value).toString() : String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return undefined;
    default:
      if (value === null) return "<nil>";
      return JSON.stringify(value, bigintReplacer);
  }
}

/** The first present, non-empty string-like field among `keys` (for target lookups such as the pod name). */
export function firstField(event: FalcoEvent, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = event.field(k);
    if (typeof v === "string" ? v !== "" : typeof v === "number" || typeof v === "bigint") return fieldText(v);
  }
  return undefined;
}

/** The name under which a field or context key is exposed to templates: upper case, `.` and `[` become `_`,
 * `]` is removed (`fd.name` → `FD_NAME`, `proc.aname[2]` → `PROC_ANAME_2`), as Talon names them. */
export function variableName(key: string): string {
  return key.toUpperCase().replaceAll(".", "_").replaceAll("[", "_").replaceAll("]", "");
}

/** The template variables of an event: its fields, plus PRIORITY, HOSTNAME, RULE, SOURCE and TAGS. */
export function eventVariables(event: FalcoEvent): Map<string, string> {
  const vars = new Map<string, string>();
  for (const key in event.outputFields) {
    const text = fieldText(event.outputFields[key]);
    // A null field (Falco's <NA>) is not defined: using it in a template is an error, not "<nil>".
    if (text !== undefined && event.outputFields[key] !== null) vars.set(variableName(key), text);
  }
  vars.set("PRIORITY", event.priority);
  vars.set("HOSTNAME", event.hostname);
  vars.set("RULE", event.rule);
  vars.set("SOURCE", event.source);
  vars.set("TAGS", event.tags.join(","));
  vars.set("OUTPUT", event.message);
  vars.set("TIME", event.time);
  return vars;
}

// JSON.rawJSON (Node ≥ 21) writes a number's exact digits; TypeScript's lib does not declare it yet.
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJSON(value.toString()) : value;
}

/** The event as Falcosidekick re-emits it (FalcoPayload), with `context` when given. Big integers stay exact. */
export function eventToJSON(event: FalcoEvent, context?: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(eventToObject(event, context), bigintReplacer);
}

export function eventToObject(event: FalcoEvent, context?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (event.uuid !== undefined) o["uuid"] = event.uuid;
  o["output"] = event.output;
  o["priority"] = event.priority;
  o["rule"] = event.rule;
  if (event.time !== "") o["time"] = event.time;
  o["output_fields"] = event.outputFields;
  o["source"] = event.source;
  if (event.tags.length > 0) o["tags"] = event.tags;
  if (event.hostname !== "") o["hostname"] = event.hostname;
  if (context !== undefined) o["context"] = context;
  return o;
}
