// Integers beyond 2^53 kept exact. Falco writes some integers wider than a double holds (`evt.time` is epoch
// nanoseconds, 19 digits; large ids), and JSON.parse rounds them. Node 24's JSON.parse hands a reviver the
// source text of each value (`context.source`), so such a number becomes a bigint with its exact digits
// without a second JSON parser. A reviver costs a callback per value (about 4x JSON.parse), so it runs only
// when the text may hold such a number, and for an event only when its fields are read (./event.ts).

// A run of 16 digits is the cheapest sign that a text may hold an integer beyond 2^53.
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

/** An integer that JSON.parse could not keep exact (beyond 2^53). */
export function isBeyondSafe(n: number): boolean {
  return Number.isInteger(n) && !Number.isSafeInteger(n);
}

function reviveBigIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  // context.source is this value's own text (Node ≥ 22), wherever the same key appears elsewhere.
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/** JSON.parse, with integers beyond 2^53 as bigint (the reviver only when the text may hold one). Throws SyntaxError. */
export function parseExact(text: string): unknown {
  return LONG_DIGITS.test(text) ? JSON.parse(text, reviveBigIntegers as never) : JSON.parse(text);
}

/**
 * The value under top-level key `key` of an object's JSON text (parsed plainly before), parsed again with the
 * reviver so that its integers beyond 2^53 have their exact digits.
 */
export function exactValueAt(text: string, key: string): unknown {
  return (JSON.parse(text, reviveBigIntegers as never) as Record<string, unknown>)[key];
}
