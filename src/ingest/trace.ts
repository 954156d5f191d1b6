// Trace ids: continued from a W3C `traceparent` header when Falco or a proxy sends one, else new.
import { randomUUID } from "node:crypto";

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE = "00000000000000000000000000000000";

export function traceIdFrom(traceparent: string | string[] | undefined): string {
  if (typeof traceparent === "string") {
    const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
    if (m !== null && m[1] !== ZERO_TRACE) return m[1]!;
  }
  return newTraceId();
}

/** 32 lower-case hex characters, as OpenTelemetry trace ids are. */
export function newTraceId(): string {
  return randomUUID().replaceAll("-", "");
}
