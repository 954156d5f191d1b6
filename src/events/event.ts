// The Falco alert as Kestrel holds it after validation (./parse.ts). Field names follow Falco's JSON, in camelCase.
import { exactValueAt, isBeyondSafe } from "./exact-integers.ts";
import { PRIORITIES, type Priority } from "./priority.ts";

/** A value of `output_fields`: Falco emits strings, integers, booleans, null and arrays. Integers beyond
 * 2^53 (for example `evt.time`, epoch nanoseconds) are kept exact as bigint. */
export type FieldValue = string | number | bigint | boolean | null | readonly FieldValue[] | { readonly [k: string]: FieldValue };

export interface FalcoEvent {
  /** Falcosidekick adds a v4 UUID; Falco itself never sends one. Kept and re-emitted when present. */
  readonly uuid: string | undefined;
  /** The rule's output line as Falco sent it ("" when Falco omits it). */
  readonly output: string;
  /** The output without its `time: Priority` prefix (Falco's `message` when sent, else derived). */
  readonly message: string;
  readonly priority: Priority;
  /** 0 = Emergency … 7 = Debug. */
  readonly priorityLevel: number;
  readonly rule: string;
  /** RFC 3339 time exactly as sent (nanoseconds kept); "" when absent. */
  readonly time: string;
  readonly source: string;
  readonly hostname: string;
  readonly tags: readonly string[];
  readonly outputFields: Readonly<Record<string, FieldValue>>;
  /**
   * One output field, as an own property (`constructor` is not a field unless Falco sent one), with its exact
   * value when it is an integer beyond 2^53. Matching and the target lookup read a few fields of every matched
   * event: unlike `outputFields`, this does not first search the body for the exact digits of every other big
   * integer (evt.time, in every alert).
   */
  field(key: string): FieldValue | undefined;
}

// The prefix Falco puts before the rule output: local `HH:MM:SS.nnnnnnnnn` or ISO 8601 time, then the priority.
// "Informational" is tried before "Info", so the prefix never leaves "rmational" behind (a Talon defect).
const OUTPUT_PREFIX =
  /^(?:\d{2}:\d{2}:\d{2}\.\d{9}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})): (?:Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) ?/i;

/** Removes Falco's `time: Priority ` prefix from an output line. */
export function stripOutputPrefix(output: string): string {
  const m = OUTPUT_PREFIX.exec(output);
  return m === null ? output : output.slice(m[0].length);
}

/** `fields[key]` unless it comes from Object.prototype: JSON values are never functions, nor that object. */
function ownValue(fields: Readonly<Record<string, FieldValue>>, key: string): FieldValue | undefined {
  const v = fields[key];
  return typeof v === "function" || v === (Object.prototype as unknown) ? undefined : v;
}

/** What a validated alert is made of (./parse.ts). */
export interface EventParts extends Omit<FalcoEvent, "priority" | "message" | "outputFields" | "field"> {
  /** Falco's `message` when sent, else derived from the output when first read. */
  readonly message: string | undefined;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** The body the fields were parsed from plainly, when a field holds an integer beyond 2^53. */
  readonly exactText: string | undefined;
  /** The body's key of the fields ("output_fields", or Talon's "Output_Fields"…). */
  readonly fieldsKey: string;
}

/**
 * A validated alert. What only some events need is computed when first read: the exact digits of the
 * fields' integers beyond 2^53 (the body parsed again, ./exact-integers.ts) and `message` (a regular
 * expression over the output). An unmatched event needs neither.
 */
export class ReceivedEvent implements FalcoEvent {
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
  readonly #fieldsKey: string;
  #message: string | undefined;

  constructor(parts: EventParts) {
    this.uuid = parts.uuid;
    this.output = parts.output;
    this.#message = parts.message;
    this.priority = PRIORITIES[parts.priorityLevel]!;
    this.priorityLevel = parts.priorityLevel;
    this.rule = parts.rule;
    this.time = parts.time;
    this.source = parts.source;
    this.hostname = parts.hostname;
    this.tags = parts.tags;
    this.#fields = parts.fields;
    this.#text = parts.exactText;
    this.#fieldsKey = parts.fieldsKey;
  }

  get outputFields(): Readonly<Record<string, FieldValue>> {
    if (this.#text !== undefined) {
      this.#fields = exactValueAt(this.#text, this.#fieldsKey) as Record<string, FieldValue>;
      this.#text = undefined;
    }
    return this.#fields;
  }

  get message(): string {
    if (this.#message === undefined) this.#message = stripOutputPrefix(this.output);
    return this.#message;
  }

  /** One field: the others keep their plain value until outputFields is read. */
  field(key: string): FieldValue | undefined {
    const v = ownValue(this.#fields, key);
    if (typeof v === "number" && this.#text !== undefined && isBeyondSafe(v)) return this.outputFields[key];
    return v;
  }
}
