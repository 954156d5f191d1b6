// The process logger: pino, writing JSON lines (log_format json) or one human-readable line per record
// (text, color) through pino-pretty run in this process (no worker thread). Secrets are redacted from
// every logged object and child binding, at any depth, and URL credentials from every line. Disabled
// levels are pino's no-op functions, so a `log.debug({...})` below the level costs a call and nothing else.
import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { prettyFactory } from "pino-pretty";
import { KestrelError } from "../errors.ts";
import { redactCredentials, redactSecrets } from "../redact.ts";

export type { Logger } from "pino";
export { REDACTED, redactSecrets, secretKeys } from "../redact.ts";

export type LogFormat = "color" | "text" | "json";

export interface LoggerSetup {
  format: LogFormat;
  /** A pino level: trace, debug, info, warn, error, fatal or silent. */
  level: string;
  /** Where lines go; stdout when omitted (flushed on exit). */
  destination?: NodeJS.WritableStream | DestinationStream;
}

/** The field names Kestrel's log lines use (Talon's LogLine keys, plus `falco_rule`). Use these instead
 * of writing the strings, so that a search on a field finds every line that carries it. */
export const LogFields = {
  traceId: "trace_id",
  rule: "rule",
  action: "action",
  actionner: "actionner",
  status: "status",
  notifier: "notifier",
  outputTarget: "output_target",
  falcoRule: "falco_rule",
  priority: "priority",
  source: "source",
} as const;

export type LogField = (typeof LogFields)[keyof typeof LogFields];

export function createLogger(setup: LoggerSetup): Logger {
  const level = setup.level.toLowerCase();
  if (!Object.hasOwn(pino.levels.values, level) && level !== "silent") {
    throw new KestrelError("ERR_CONFIG_INVALID", `unknown log level "${setup.level}"`);
  }
  const options: LoggerOptions = {
    level,
    base: null,
    serializers: { err: serializeError },
    formatters: { log: (object) => redactSecrets(object) },
    // The last net: URL credentials inside messages and errors (which the formatter does not open) are
    // replaced in the finished line, whatever produced it.
    hooks: { streamWrite: redactCredentials },
  };
  const destination = setup.destination ?? pino.destination(1);
  if (setup.format === "json") {
    options.timestamp = pino.stdTimeFunctions.isoTime;
    options.formatters = { ...options.formatters, level: (label) => ({ level: label }) };
    return redactBindings(pino(options, destination as DestinationStream));
  }
  return redactBindings(pino(options, prettyStream(setup.format === "color", destination)));
}

/** What pino's errWithCause serializer makes of an error: its own prototype, which redactSecrets does not open. */
const serializedErrorProto: unknown = Object.getPrototypeOf(pino.stdSerializers.errWithCause(new Error()));

/** An error as pino serializes it (type, message, stack, cause, own properties), with the secrets of its own
 * properties redacted like any logged object's: SDK errors may carry the request's headers or settings. The
 * log formatter runs before the serializers and cannot see inside an Error; URL credentials in the message
 * and stack are replaced in the finished line (streamWrite). */
function serializeError(err: unknown): unknown {
  const serialized = asPlain(pino.stdSerializers.errWithCause(err as Error), 0);
  return typeof serialized === "object" && serialized !== null ? redactSecrets(serialized) : serialized;
}

/** A serialized error (and its causes, aggregated errors, errors in properties) as plain objects. */
function asPlain(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => asPlain(v, depth + 1));
  if (Object.getPrototypeOf(value) !== serializedErrorProto) return value;
  const plain: Record<string, unknown> = {};
  for (const key in value) plain[key] = asPlain((value as Record<string, unknown>)[key], depth + 1);
  return plain;
}

/** pino's bindings formatter only sees the root's base bindings, so child() and setBindings() are wrapped
 * on the root; children inherit the wrappers through their prototype. */
function redactBindings(logger: Logger): Logger {
  const child = logger.child;
  const setBindings = logger.setBindings;
  const wrapped = {
    child(this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) {
      return Reflect.apply(child, this, [redactSecrets(bindings), options]) as Logger;
    },
    setBindings(this: Logger, bindings: pino.Bindings) {
      Reflect.apply(setBindings, this, [redactSecrets(bindings)]);
    },
  };
  return Object.assign(logger, wrapped);
}

/** A pino destination that turns each JSON line into one pretty line, synchronously, in this process. */
function prettyStream(colorize: boolean, destination: NodeJS.WritableStream | DestinationStream): DestinationStream {
  const prettify = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: "SYS:standard",
    ignore: "pid,hostname",
    // Errors stay inside the single line (as JSON, stack included) instead of a multi-line block.
    errorLikeObjectKeys: [],
  });
  return {
    write(line: string): void {
      destination.write(prettify(line));
    },
  };
}
