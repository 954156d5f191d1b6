// The Falco alert as Kestrel holds it after validation. Field names follow Falco's JSON, in camelCase.
import type { Priority } from "./priority.ts";

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
}
