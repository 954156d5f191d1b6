// Trace ids: continued from a W3C `traceparent` header when Falco or a proxy sends one, else new.
import { randomFillSync } from "node:crypto";

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE = "00000000000000000000000000000000";

export function traceIdFrom(traceparent: string | string[] | undefined): string {
  if (typeof traceparent === "string") {
    const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
    if (m !== null && m[1] !== ZERO_TRACE) return m[1]!;
  }
  return newTraceId();
}

// Random bytes are drawn 4 KiB at a time and turned into hex at once: one system call and one hex
// conversion per 256 ids instead of one per event; each id is a slice of that text.
const pool = Buffer.alloc(4096);
let hex = "";
let offset = hex.length;

/** 32 lower-case hex characters (16 random bytes), as OpenTelemetry trace ids are. */
export function newTraceId(): string {
  if (offset === hex.length) {
    randomFillSync(pool);
    hex = pool.toString("hex");
    offset = 0;
  }
  const id = hex.slice(offset, offset + 32);
  offset += 32;
  return id;
}

const TRACEPARENT_PARTS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceParent {
  readonly traceId: string;
  /** The caller's span: the parent of Kestrel's `event` span. */
  readonly spanId: string;
  /** W3C trace flags (bit 0: sampled). */
  readonly flags: number;
}

/**
 * The parts of a valid W3C `traceparent` (version 00 or a later one; all-zero ids and version ff are
 * invalid). Only tracing calls this, so the intake does not split the header when traces are off.
 */
export function parseTraceparent(header: string | undefined): TraceParent | undefined {
  if (header === undefined) return undefined;
  const m = TRACEPARENT_PARTS.exec(header.trim().toLowerCase());
  if (m === null || m[1] === "ff" || m[2] === ZERO_TRACE || m[3] === "0000000000000000") return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: Number.parseInt(m[4]!, 16) };
}
