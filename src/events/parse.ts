// Validation of a Falco alert body (Falco's http_output, Falcosidekick's webhook/Talon output).
// Hand-written rather than schema-driven: this runs for every event and must stay allocation-light.
import type { FalcoEvent, FieldValue } from "./event.ts";
import { PRIORITIES, type Priority, priorityLevel } from "./priority.ts";

/** Why an event was rejected: HTTP intake answers 400 with `{ error, field }`. */
export class EventError extends Error {
  override readonly name = "EventError";
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

export interface ParsedEvent {
  event: FalcoEvent;
  /** The client sent a `context` object; it is never trusted, so it was dropped. */
  droppedContext: boolean;
}

// A run of 16 digits is the cheapest sign that the body may hold an integer beyond 2^53.
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;
// RFC 3339 date-time; Falco always sends 9 fractional digits and "Z", Falcosidekick trims trailing zeros.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
// The prefix Falco puts before the rule output: local `HH:MM:SS.nnnnnnnnn` or ISO 8601 time, then the priority.
// "Informational" is tried before "Info", so the prefix never leaves "rmational" behind (a Talon defect).
const OUTPUT_PREFIX =
  /^(?:\d{2}:\d{2}:\d{2}\.\d{9}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})): (?:Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) ?/i;

function reviveBigIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/** Parses JSON text, keeping integers beyond 2^53 exact (as bigint). Throws EventError on bad JSON. */
export function parseJson(text: string): unknown {
  try {
    return LONG_DIGITS.test(text) ? JSON.parse(text, reviveBigIntegers as never) : JSON.parse(text);
  } catch (err) {
    throw new EventError(`body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Parses an event body. A reviver costs a callback per value (5x slower than JSON.parse), so the body is
 * parsed plainly. The few integers beyond 2^53 of `output_fields` (evt.time, in every Falco alert) get their
 * exact digits back from the text when the fields are first read (ReceivedEvent): most events match no rule
 * and nothing reads their fields. Elsewhere, anything unsafe makes the body be parsed again with the reviver.
 */
function parseBody(text: string): { value: unknown; fields: object | undefined } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new EventError(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { value, fields: undefined };
  const top = value as Record<string, unknown>;
  let fields: object | undefined;
  for (const key in top) {
    const v = top[key];
    if (v === null || typeof v !== "object") continue;
    if (key === "output_fields" && !Array.isArray(v)) fields = v;
    else if (hasUnsafeInteger(v)) return { value: parseJson(text), fields: undefined };
  }
  return { value, fields };
}

/** `fields` (parsed plainly from `text`) with the exact value of its integers beyond 2^53. */
function exactFields(text: string, fields: Record<string, FieldValue>): Record<string, FieldValue> {
  if (restoreIntegers(text, fields as Record<string, unknown>)) return fields;
  // The repair could not vouch for a value: the whole body again, with the reviver (its "output_fields"
  // key is the one the plain parse gave these fields from).
  return (parseJson(text) as Record<string, Record<string, FieldValue>>)["output_fields"]!;
}

/** Gives the unsafe integers among the fields their exact value; false when one cannot be vouched for. */
function restoreIntegers(text: string, fields: Record<string, unknown>): boolean {
  for (const key in fields) {
    const v = fields[key];
    if (typeof v === "number") {
      if (!isBeyondSafe(v)) continue;
      const exact = exactInteger(text, key, v);
      if (exact === undefined) return false;
      fields[key] = exact;
    } else if (v !== null && typeof v === "object" && hasUnsafeInteger(v)) {
      return false;
    }
  }
  return true;
}

/** The exact integer written after `"key":` in the text, when it rounds to `rounded`. */
function exactInteger(text: string, key: string, rounded: number): bigint | undefined {
  // Field names are plain ASCII in practice; one that needs escaping is looked for in its JSON spelling.
  const needle = key.includes('"') || key.includes("\\") ? `${JSON.stringify(key)}:` : `"${key}":`;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (text.charCodeAt(at - 1) === 92) continue; // an escaped quote inside another string
    let start = at + needle.length;
    while (text.charCodeAt(start) === 32) start++;
    let end = text.charCodeAt(start) === 45 ? start + 1 : start; // "-"
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    const digits = text.slice(start, end);
    if (digits.length > 1 && Number(digits) === rounded) return BigInt(digits);
  }
  return undefined;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// Indexed and for-in loops: Object.values would copy every array (the tags of every event) to look at it.
function hasUnsafeInteger(v: object): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (isUnsafeInteger(v[i])) return true;
    return false;
  }
  for (const key in v) if (isUnsafeInteger((v as Record<string, unknown>)[key])) return true;
  return false;
}

function isUnsafeInteger(x: unknown): boolean {
  return typeof x === "number" ? isBeyondSafe(x) : x !== null && typeof x === "object" && hasUnsafeInteger(x);
}

/** An integer that JSON.parse could not keep exact (beyond 2^53). */
function isBeyondSafe(n: number): boolean {
  return Number.isInteger(n) && !Number.isSafeInteger(n);
}

/** Removes Falco's `time: Priority ` prefix from an output line. */
export function stripOutputPrefix(output: string): string {
  const m = OUTPUT_PREFIX.exec(output);
  return m === null ? output : output.slice(m[0].length);
}

/** Parses and validates one Falco alert from an HTTP body. */
export function parseEvent(body: string): ParsedEvent {
  if (body.length === 0) throw new EventError("body is empty: send one Falco event as JSON");
  const { value, fields } = parseBody(body);
  return validateEvent(value, fields === undefined ? undefined : { text: body, fields });
}

/**
 * Validates a decoded JSON value as a Falco alert. `plain`: the `output_fields` object that was parsed from
 * `text` without the exact value of its unsafe integers (parseEvent), given them on first read.
 */
export function validateEvent(value: unknown, plain?: { text: string; fields: object }): ParsedEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new EventError(`a Falco event must be a JSON object, got ${describe(value)}`);
  }
  const raw = value as Record<string, unknown>;
  let output: unknown;
  let message: unknown;
  let priority: unknown;
  let rule: unknown;
  let time: unknown;
  let source: unknown;
  let hostname: unknown;
  let tags: unknown;
  let outputFields: unknown;
  let uuid: unknown;
  let droppedContext = false;
  for (const key in raw) {
    const v = raw[key];
    // Falco sends lower-case keys; Talon (Go encoding/json) also accepted other cases ("Rule").
    switch (key.length > 0 && key.charCodeAt(0) < 97 ? key.toLowerCase() : key) {
      case "output": output = v; break;
      case "message": message = v; break;
      case "priority": priority = v; break;
      case "rule": rule = v; break;
      case "time": time = v; break;
      case "source": source = v; break;
      case "hostname": hostname = v; break;
      case "tags": tags = v; break;
      case "output_fields": outputFields = v; break;
      case "uuid": uuid = v; break;
      case "context": droppedContext = v !== undefined && v !== null; break;
      default: break; // unknown keys (trace_id, …) are ignored, as Falco may add keys in later versions
    }
  }

  if (rule === undefined || rule === null || rule === "") throw new EventError("missing required field \"rule\"", "rule");
  if (typeof rule !== "string") throw new EventError(`"rule" must be a string, got ${describe(rule)}`, "rule");
  if (priority === undefined || priority === null || priority === "") {
    throw new EventError("missing required field \"priority\"", "priority");
  }
  if (typeof priority !== "string") throw new EventError(`"priority" must be a string, got ${describe(priority)}`, "priority");
  const level = priorityLevel(priority);
  if (level < 0) {
    throw new EventError(`unknown priority "${priority}" (expected one of ${PRIORITIES.join(", ")}, or Info)`, "priority");
  }
  const hasOutput = output !== undefined && output !== null;
  const hasFields = outputFields !== undefined && outputFields !== null;
  if (!hasOutput && !hasFields) {
    throw new EventError("the event has neither \"output\" nor \"output_fields\"", "output");
  }
  if (hasOutput && typeof output !== "string") throw new EventError(`"output" must be a string, got ${describe(output)}`, "output");
  if (hasFields && (typeof outputFields !== "object" || Array.isArray(outputFields))) {
    throw new EventError(`"output_fields" must be an object, got ${describe(outputFields)}`, "output_fields");
  }
  if (message !== undefined && message !== null && typeof message !== "string") {
    throw new EventError(`"message" must be a string, got ${describe(message)}`, "message");
  }
  const timeText = optionalString(time, "time");
  if (timeText !== "" && !RFC3339.test(timeText)) {
    throw new EventError(`"time" must be an RFC 3339 date-time such as 2024-01-01T14:37:27.505989596Z, got "${timeText}"`, "time");
  }
  const sourceText = optionalString(source, "source");
  const hostnameText = optionalString(hostname, "hostname");
  const uuidText = optionalString(uuid, "uuid");
  const tagList = validateTags(tags);
  // JSON cannot hold undefined, so any decoded value is a valid field value.
  const fields = hasFields ? (outputFields as Record<string, FieldValue>) : EMPTY_FIELDS;

  const outputText = hasOutput ? (output as string) : "";
  const event = new ReceivedEvent(
    uuidText === "" ? undefined : uuidText,
    outputText,
    typeof message === "string" && message !== "" ? message : undefined,
    level,
    rule,
    timeText,
    // Talon's default when Falco sends no source; Falco ≥ 0.32 always sends one.
    sourceText === "" ? "syscall" : sourceText,
    hostnameText,
    tagList,
    fields,
    plain !== undefined && plain.fields === outputFields ? plain.text : undefined,
  );
  return { event, droppedContext };
}

/**
 * A validated alert. What only some events need is computed when first read: the exact digits of the
 * fields' integers beyond 2^53 (a search of the body per such field) and `message` (a regular expression
 * over the output). An unmatched event without deduplication needs neither.
 */
class ReceivedEvent implements FalcoEvent {
  readonly uuid: string | undefined;
  readonly output: string;
  readonly priority: Priority;
  readonly priorityLevel: number;
  readonly rule: string;
  readonly time: string;
  readonly source: string;
  readonly hostname: string;
  readonly tags: readonly string[];
  #fields: Readonly<Record<string, FieldValue>>;
  /** The body the fields were parsed from, until their unsafe integers have their exact value. */
  #text: string | undefined;
  #message: string | undefined;

  constructor(
    uuid: string | undefined,
    output: string,
    message: string | undefined,
    priorityLevel: number,
    rule: string,
    time: string,
    source: string,
    hostname: string,
    tags: readonly string[],
    fields: Readonly<Record<string, FieldValue>>,
    text: string | undefined,
  ) {
    this.uuid = uuid;
    this.output = output;
    this.#message = message;
    this.priority = PRIORITIES[priorityLevel]!;
    this.priorityLevel = priorityLevel;
    this.rule = rule;
    this.time = time;
    this.source = source;
    this.hostname = hostname;
    this.tags = tags;
    this.#fields = fields;
    this.#text = text;
  }

  get outputFields(): Readonly<Record<string, FieldValue>> {
    if (this.#text !== undefined) {
      this.#fields = exactFields(this.#text, this.#fields as Record<string, FieldValue>);
      this.#text = undefined;
    }
    return this.#fields;
  }

  get message(): string {
    if (this.#message === undefined) this.#message = stripOutputPrefix(this.output);
    return this.#message;
  }

  /** One field (see eventField): the others keep their plain value until outputFields is read. */
  field(key: string): FieldValue | undefined {
    const v = ownValue(this.#fields, key);
    if (typeof v === "number" && this.#text !== undefined && isBeyondSafe(v)) {
      return this.outputFields[key];
    }
    return v;
  }
}

/**
 * One output field of an event, as an own property (`constructor` is not a field unless Falco sent one),
 * with its exact value when it is an integer beyond 2^53. Matching and the target lookup read a few fields
 * of every matched event: unlike `event.outputFields`, this does not first search the body for the exact
 * digits of every other big integer (evt.time, in every alert).
 */
export function eventField(event: FalcoEvent, key: string): FieldValue | undefined {
  return event instanceof ReceivedEvent ? event.field(key) : ownValue(event.outputFields, key);
}

/** `fields[key]` unless it comes from Object.prototype: JSON values are never functions, nor that object. */
function ownValue(fields: Readonly<Record<string, FieldValue>>, key: string): FieldValue | undefined {
  const v = fields[key];
  return typeof v === "function" || v === (Object.prototype as unknown) ? undefined : v;
}

const EMPTY_FIELDS: Readonly<Record<string, FieldValue>> = Object.freeze({});
const EMPTY_TAGS: readonly string[] = Object.freeze([]);

function optionalString(v: unknown, field: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new EventError(`"${field}" must be a string, got ${describe(v)}`, field);
  return v;
}

function validateTags(tags: unknown): readonly string[] {
  if (tags === undefined || tags === null) return EMPTY_TAGS;
  if (!Array.isArray(tags)) throw new EventError(`"tags" must be an array of strings, got ${describe(tags)}`, "tags");
  for (let i = 0; i < tags.length; i++) {
    if (typeof tags[i] !== "string") throw new EventError(`"tags[${i}]" must be a string, got ${describe(tags[i])}`, `tags[${i}]`);
  }
  return tags as string[];
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "bigint") return "a number";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
