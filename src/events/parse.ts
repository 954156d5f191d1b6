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

function reviveBigIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  // context.source is this value's own text (Node ≥ 22), wherever the same key appears elsewhere.
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
 * The output fields of `text` (parsed plainly before) under the top-level key `key`, parsed again with the
 * reviver so that its integers beyond 2^53 have their exact digits. A reviver costs a callback per value
 * (4x JSON.parse), so this runs only when a field holds such an integer and the fields are read: most
 * events match no rule and nothing reads their fields. The shape limits keep the reviver's recursion shallow.
 */
function exactFields(text: string, key: string): Record<string, FieldValue> {
  return (JSON.parse(text, reviveBigIntegers as never) as Record<string, Record<string, FieldValue>>)[key]!;
}

/** An integer that JSON.parse could not keep exact (beyond 2^53). */
function isBeyondSafe(n: number): boolean {
  return Number.isInteger(n) && !Number.isSafeInteger(n);
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
    if (key.length > EVENT_LIMITS.fieldLength) throw tooLong(key);
    const v = (fields as Record<string, unknown>)[key];
    if (typeof v === "string") {
      if (v.length > EVENT_LIMITS.fieldLength) throw tooLong(key);
    } else if (typeof v === "number") {
      if (isBeyondSafe(v)) unsafe = true;
    } else if (v !== null && typeof v === "object" && checkNested(v, 3, key)) {
      unsafe = true;
    }
  }
  return unsafe;
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

/** Removes Falco's `time: Priority ` prefix from an output line. */
export function stripOutputPrefix(output: string): string {
  const m = OUTPUT_PREFIX.exec(output);
  return m === null ? output : output.slice(m[0].length);
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

/**
 * Validates a decoded JSON value as a Falco alert, shape limits included. `text`: the body `value` was
 * parsed from plainly (parseEvent); the fields' integers beyond 2^53 get their exact value from it on first read.
 */
export function validateEvent(value: unknown, text?: string): ParsedEvent {
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
  /** The key outputFields came from ("output_fields", or Talon's "Output_Fields"…). */
  let fieldsKey = "";
  let fieldsKeys = 0;
  let uuid: unknown;
  let droppedContext = false;
  for (const key in raw) {
    const v = raw[key];
    // Falco sends lower-case keys; Talon (Go encoding/json) also accepted other cases ("Rule").
    const name = key.length > 0 && key.charCodeAt(0) < 97 ? key.toLowerCase() : key;
    // Nothing else is walked (tags must be strings): the nesting limit holds for ignored keys too, as the
    // exact re-parse of the body (exactFields) recurses into them.
    if (name !== "output_fields" && name !== "tags" && v !== null && typeof v === "object") checkNested(v, 2, undefined);
    switch (name) {
      case "output":
        output = v;
        break;
      case "message":
        message = v;
        break;
      case "priority":
        priority = v;
        break;
      case "rule":
        rule = v;
        break;
      case "time":
        time = v;
        break;
      case "source":
        source = v;
        break;
      case "hostname":
        hostname = v;
        break;
      case "tags":
        tags = v;
        break;
      case "output_fields":
        outputFields = v;
        fieldsKey = key;
        fieldsKeys++;
        break;
      case "uuid":
        uuid = v;
        break;
      case "context":
        droppedContext = v !== undefined && v !== null;
        break;
      default:
        break; // unknown keys (trace_id, …) are ignored, as Falco may add keys in later versions
    }
  }

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
  const hasOutput = output !== undefined && output !== null;
  const hasFields = outputFields !== undefined && outputFields !== null;
  if (!hasOutput && !hasFields) {
    throw new EventError('the event has neither "output" nor "output_fields"', "output");
  }
  if (hasOutput && typeof output !== "string") throw new EventError(`"output" must be a string, got ${describe(output)}`, "output");
  if (hasFields && (typeof outputFields !== "object" || Array.isArray(outputFields))) {
    throw new EventError(`"output_fields" must be an object, got ${describe(outputFields)}`, "output_fields");
  }
  // Talon's case-insensitive keys may give output_fields twice: the one not used is held to the nesting limit.
  if (fieldsKeys > 1) {
    for (const key in raw) {
      const v = raw[key];
      if (key !== fieldsKey && key.toLowerCase() === "output_fields" && v !== null && typeof v === "object") checkNested(v, 2, undefined);
    }
  }
  const unsafe = hasFields && checkFields(outputFields as object);
  if (message !== undefined && message !== null && typeof message !== "string") {
    throw new EventError(`"message" must be a string, got ${describe(message)}`, "message");
  }
  const timeText = optionalString(time, "time");
  if (timeText !== "" && !(RFC3339.test(timeText) && isRealInstant(timeText))) {
    throw new EventError(
      `"time" must be an RFC 3339 date-time such as 2024-01-01T14:37:27.505989596Z, a real instant, got "${clip(timeText)}"`,
      "time",
    );
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
    unsafe && text !== undefined ? text : undefined,
    fieldsKey,
  );
  return { event, droppedContext };
}

/**
 * A validated alert. What only some events need is computed when first read: the exact digits of the
 * fields' integers beyond 2^53 (the body parsed again) and `message` (a regular expression over the
 * output). An unmatched event needs neither.
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
  /** The body's key of the fields. */
  readonly #fieldsKey: string;
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
    fieldsKey: string,
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
    this.#fieldsKey = fieldsKey;
  }

  get outputFields(): Readonly<Record<string, FieldValue>> {
    if (this.#text !== undefined) {
      this.#fields = exactFields(this.#text, this.#fieldsKey);
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
