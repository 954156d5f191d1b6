// Validation of a Falco alert body (Falco's http_output, Falcosidekick's webhook/Talon output).
// Hand-written rather than schema-driven: this runs for every event and must stay allocation-light.
import { KestrelError } from "../errors.ts";
import { type FalcoEvent, type FieldValue, ReceivedEvent } from "./event.ts";
import { isBeyondSafe, parseExact } from "./exact-integers.ts";
import { PRIORITIES, priorityLevel } from "./priority.ts";

/** Why an event was rejected (code ERR_EVENT_INVALID): HTTP intake answers 400 with `{ error, field }`. */
export class EventError extends KestrelError {
  override readonly name = "EventError";
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super("ERR_EVENT_INVALID", message);
    this.field = field;
  }
}

export interface ParsedEvent {
  event: FalcoEvent;
  /** The client sent a `context` object; it is never trusted, so it was dropped. */
  droppedContext: boolean;
}

// RFC 3339 date-time; Falco always sends 9 fractional digits and "Z", Falcosidekick trims trailing zeros.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
/**
 * Limits on an event's shape, checked at intake (a 400 names the one exceeded). Falco's output fields are
 * flat and short; these bound what an event can make Kestrel hold, copy or recurse into (templates, keys).
 */
export const EVENT_LIMITS = {
  /** Arrays and objects nested in the body, the body itself included (Falco's alerts have 3). */
  depth: 32,
  /** Keys of `output_fields`. */
  outputFields: 1024,
  /** Characters of one output field: its name, and each string in its value. */
  fieldLength: 65_536,
} as const;

/** Attacker text echoed in a 400 (and logged) is cut short: the client knows what it sent. */
const ECHO_LIMIT = 64;

/** Parses JSON text, keeping integers beyond 2^53 exact (as bigint). Throws EventError on bad JSON. */
export function parseJson(text: string): unknown {
  try {
    return parseExact(text);
  } catch (err) {
    throw new EventError(`body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Checks the shape limits of `output_fields` in the one walk over it; true when a field holds an integer
 * beyond 2^53 (the fields are then parsed again exactly when read). Indexed and for-in loops: Object.values
 * would copy every array to look at it.
 */
function checkFields(fields: object): boolean {
  let count = 0;
  let unsafe = false;
  for (const key in fields) {
    if (++count > EVENT_LIMITS.outputFields) {
      throw new EventError(
        `"output_fields" has more than ${EVENT_LIMITS.outputFields} fields (limit: number of output_fields)`,
        "output_fields",
      );
    }
    if (checkField(key, (fields as Record<string, unknown>)[key])) unsafe = true;
  }
  return unsafe;
}

/** Checks one output field's name and value; true when it holds an integer beyond 2^53. */
function checkField(key: string, v: unknown): boolean {
  if (key.length > EVENT_LIMITS.fieldLength) throw tooLong(key);
  if (typeof v === "string") {
    if (v.length > EVENT_LIMITS.fieldLength) throw tooLong(key);
    return false;
  }
  if (typeof v === "number") return isBeyondSafe(v);
  return v !== null && typeof v === "object" && checkNested(v, 3, key);
}

/** Checks a value at `depth` (the body is 1) inside field `field` (undefined outside output_fields). */
function checkNested(v: object, depth: number, field: string | undefined): boolean {
  if (depth > EVENT_LIMITS.depth) {
    throw new EventError(
      `the event nests arrays and objects more than ${EVENT_LIMITS.depth} levels deep (limit: nesting depth)`,
      field === undefined ? undefined : "output_fields",
    );
  }
  let unsafe = false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (checkItem(v[i], depth, field)) unsafe = true;
    return unsafe;
  }
  for (const key in v) {
    if (field !== undefined && key.length > EVENT_LIMITS.fieldLength) throw tooLong(field);
    if (checkItem((v as Record<string, unknown>)[key], depth, field)) unsafe = true;
  }
  return unsafe;
}

function checkItem(x: unknown, depth: number, field: string | undefined): boolean {
  if (typeof x === "number") return isBeyondSafe(x);
  if (typeof x === "string") {
    if (field !== undefined && x.length > EVENT_LIMITS.fieldLength) throw tooLong(field);
    return false;
  }
  return x !== null && typeof x === "object" && checkNested(x, depth + 1, field);
}

function tooLong(field: string): EventError {
  return new EventError(
    `output field "${clip(field)}" is longer than ${EVENT_LIMITS.fieldLength} characters (limit: field length)`,
    "output_fields",
  );
}

function clip(text: string): string {
  return text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text;
}

/** Two decimal digits at `at`. */
function twoDigits(s: string, at: number): number {
  return (s.charCodeAt(at) - 48) * 10 + (s.charCodeAt(at + 1) - 48);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An RFC 3339 text (RFC3339 matched: fixed positions) names a real instant: a month 1–12, a day its month
 * has, hours < 24, minutes and seconds < 60 (Go, hence Falco, never writes a leap second), an offset < 24 h.
 */
function isRealInstant(t: string): boolean {
  const year = twoDigits(t, 0) * 100 + twoDigits(t, 2);
  const month = twoDigits(t, 5);
  const day = twoDigits(t, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  if (twoDigits(t, 11) > 23 || twoDigits(t, 14) > 59 || twoDigits(t, 17) > 59) return false;
  const end = t.length;
  const zone = t.charCodeAt(end - 1);
  if (zone === 90 || zone === 122) return true; // Z, z
  return twoDigits(t, end - 5) <= 23 && twoDigits(t, end - 2) <= 59;
}

/** Parses and validates one Falco alert from an HTTP body. */
export function parseEvent(body: string): ParsedEvent {
  if (body.length === 0) throw new EventError("body is empty: send one Falco event as JSON");
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new EventError(`body is not valid JSON: ${(err as Error).message}`);
  }
  return validateEvent(value, body);
}

/** The keys of an alert that Kestrel reads, as sent (not validated yet). */
interface RawAlert {
  output: unknown;
  message: unknown;
  priority: unknown;
  rule: unknown;
  time: unknown;
  source: unknown;
  hostname: unknown;
  tags: unknown;
  outputFields: unknown;
  /** The key outputFields came from ("output_fields", or Talon's "Output_Fields"…), and how many there were. */
  fieldsKey: string;
  fieldsKeys: number;
  uuid: unknown;
  droppedContext: boolean;
}

/** Reads the known keys of an alert; holds every other object value to the nesting limit. */
function readAlert(raw: Record<string, unknown>): RawAlert {
  const a: RawAlert = {
    output: undefined,
    message: undefined,
    priority: undefined,
    rule: undefined,
    time: undefined,
    source: undefined,
    hostname: undefined,
    tags: undefined,
    outputFields: undefined,
    fieldsKey: "",
    fieldsKeys: 0,
    uuid: undefined,
    droppedContext: false,
  };
  for (const key in raw) {
    const v = raw[key];
    // Falco sends lower-case keys; Talon (Go encoding/json) also accepted other cases ("Rule").
    const name = key.length > 0 && key.charCodeAt(0) < 97 ? key.toLowerCase() : key;
    // Nothing else is walked (tags must be strings): the nesting limit holds for ignored keys too, as the
    // exact re-parse of the body (./exact-integers.ts) recurses into them.
    if (name !== "output_fields" && name !== "tags" && v !== null && typeof v === "object") checkNested(v, 2, undefined);
    if (name === "output_fields") {
      a.outputFields = v;
      a.fieldsKey = key;
      a.fieldsKeys++;
    } else if (name === "context") a.droppedContext = v !== undefined && v !== null;
    else setKnown(a, name, v);
  }
  return a;
}

/** Keeps `v` when `name` is a key Kestrel reads; unknown keys (trace_id, …) are ignored, as Falco may add keys. */
function setKnown(a: RawAlert, name: string, v: unknown): void {
  switch (name) {
    case "output":
    case "message":
    case "priority":
    case "rule":
    case "time":
    case "source":
    case "hostname":
    case "tags":
    case "uuid":
      a[name] = v;
      break;
    default:
      break;
  }
}

/** The priority's level (0 = Emergency … 7 = Debug); the rule is checked on the way. */
function requiredRuleAndLevel(a: RawAlert): number {
  const { rule, priority } = a;
  if (rule === undefined || rule === null || rule === "") throw new EventError('missing required field "rule"', "rule");
  if (typeof rule !== "string") throw new EventError(`"rule" must be a string, got ${describe(rule)}`, "rule");
  if (priority === undefined || priority === null || priority === "") {
    throw new EventError('missing required field "priority"', "priority");
  }
  if (typeof priority !== "string") throw new EventError(`"priority" must be a string, got ${describe(priority)}`, "priority");
  const level = priorityLevel(priority);
  if (level < 0) {
    throw new EventError(`unknown priority "${clip(priority)}" (expected one of ${PRIORITIES.join(", ")}, or Info)`, "priority");
  }
  return level;
}

/** Checks `output` and `output_fields` (one of them at least); true when a field holds an integer beyond 2^53. */
function checkOutputAndFields(a: RawAlert, raw: Record<string, unknown>): boolean {
  const hasOutput = a.output !== undefined && a.output !== null;
  const hasFields = a.outputFields !== undefined && a.outputFields !== null;
  if (!hasOutput && !hasFields) throw new EventError('the event has neither "output" nor "output_fields"', "output");
  if (hasOutput && typeof a.output !== "string") throw new EventError(`"output" must be a string, got ${describe(a.output)}`, "output");
  if (!hasFields) return false;
  if (typeof a.outputFields !== "object" || Array.isArray(a.outputFields)) {
    throw new EventError(`"output_fields" must be an object, got ${describe(a.outputFields)}`, "output_fields");
  }
  if (a.fieldsKeys > 1) checkUnusedFields(raw, a.fieldsKey);
  return checkFields(a.outputFields as object);
}

/** Talon's case-insensitive keys may give output_fields twice: the ones not used are held to the nesting limit. */
function checkUnusedFields(raw: Record<string, unknown>, used: string): void {
  for (const key in raw) {
    const v = raw[key];
    if (key !== used && key.toLowerCase() === "output_fields" && v !== null && typeof v === "object") checkNested(v, 2, undefined);
  }
}

function validTime(time: unknown): string {
  const text = optionalString(time, "time");
  if (text !== "" && !(RFC3339.test(text) && isRealInstant(text))) {
    throw new EventError(
      `"time" must be an RFC 3339 date-time such as 2024-01-01T14:37:27.505989596Z, a real instant, got "${clip(text)}"`,
      "time",
    );
  }
  return text;
}

/**
 * Validates a decoded JSON value as a Falco alert, shape limits included. `text`: the body `value` was
 * parsed from plainly (parseEvent); the fields' integers beyond 2^53 get their exact value from it on first read.
 */
export function validateEvent(value: unknown, text?: string): ParsedEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new EventError(`a Falco event must be a JSON object, got ${describe(value)}`);
  }
  const raw = value as Record<string, unknown>;
  const a = readAlert(raw);
  const level = requiredRuleAndLevel(a);
  const unsafe = checkOutputAndFields(a, raw);
  const { message } = a;
  if (message !== undefined && message !== null && typeof message !== "string") {
    throw new EventError(`"message" must be a string, got ${describe(message)}`, "message");
  }
  const time = validTime(a.time);
  const source = optionalString(a.source, "source");
  const hostname = optionalString(a.hostname, "hostname");
  const uuid = optionalString(a.uuid, "uuid");
  const tags = validateTags(a.tags);
  const event = new ReceivedEvent({
    uuid: uuid === "" ? undefined : uuid,
    output: typeof a.output === "string" ? a.output : "",
    message: typeof message === "string" && message !== "" ? message : undefined,
    priorityLevel: level,
    rule: a.rule as string,
    time,
    // Talon's default when Falco sends no source; Falco ≥ 0.32 always sends one.
    source: source === "" ? "syscall" : source,
    hostname,
    tags,
    // JSON cannot hold undefined, so any decoded value is a valid field value.
    fields: a.outputFields === undefined || a.outputFields === null ? EMPTY_FIELDS : (a.outputFields as Record<string, FieldValue>),
    exactText: unsafe && text !== undefined ? text : undefined,
    fieldsKey: a.fieldsKey,
  });
  return { event, droppedContext: a.droppedContext };
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
