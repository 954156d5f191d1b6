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

// Random bytes are drawn 4 KiB at a time: one system call per 256 ids instead of one per event.
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** 32 lower-case hex characters (16 random bytes), as OpenTelemetry trace ids are. */
export function newTraceId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("hex", offset, offset + 16);
  offset += 16;
  return id;
}
