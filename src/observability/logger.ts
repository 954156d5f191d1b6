// The process logger: pino, writing JSON lines (log_format json) or one human-readable line per record
// (text, color) through pino-pretty run in this process (no worker thread). Secrets are redacted from
// every logged object and child binding, at any depth. Disabled levels are pino's no-op functions, so a
// `log.debug({...})` below the level costs a call and nothing else.
import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { prettyFactory } from "pino-pretty";
import { KestrelError } from "../errors.ts";

export type { Logger } from "pino";

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

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** Keys whose values are never logged, wherever they appear (compared in lower case). */
export const secretKeys: ReadonlySet<string> = new Set([
  "password",
  "api_key",
  "apikey",
  "x-api-key",
  "token",
  "secret",
  "secret_key",
  "access_key",
  "webhook_url",
  "routing_key",
  "custom_headers",
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
]);

/** Key suffixes that mark a secret too (`smtp_password`, `bearer_token`, `client_secret`). */
const secretSuffixes = ["_password", "_token", "_secret"] as const;

/** How deep redaction looks into logged objects; deeper values are logged as they are. */
const MAX_DEPTH = 8;

export function createLogger(setup: LoggerSetup): Logger {
  const level = setup.level.toLowerCase();
  if (!Object.hasOwn(pino.levels.values, level) && level !== "silent") {
    throw new KestrelError("ERR_CONFIG_INVALID", `unknown log level "${setup.level}"`);
  }
  const options: LoggerOptions = {
    level,
    base: null,
    serializers: { err: pino.stdSerializers.errWithCause },
    formatters: { log: (object) => redactSecrets(object) },
  };
  const destination = setup.destination ?? pino.destination(1);
  if (setup.format === "json") {
    options.timestamp = pino.stdTimeFunctions.isoTime;
    options.formatters = { ...options.formatters, level: (label) => ({ level: label }) };
    return redactBindings(pino(options, destination as DestinationStream));
  }
  return redactBindings(pino(options, prettyStream(setup.format === "color", destination)));
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

/** Returns `value` with every secret replaced by "[redacted]"; objects without secrets are returned as
 * they are (no copy), objects with some are copied along the path to them. Besides `secretKeys`, the
 * `url` of each notifier's settings (`notifiers.<name>.url`) is a secret: webhook URLs carry tokens. */
export function redactSecrets<T extends object>(value: T): T {
  return redactObject(value as Record<string, unknown>, 0, Scope.Plain) as T;
}

// Plain numbers rather than an enum: erasable syntax only.
const Scope = { Plain: 0, NotifierMap: 1, NotifierSettings: 2 } as const;
type Scope = (typeof Scope)[keyof typeof Scope];

function isSecret(key: string, scope: Scope): boolean {
  const k = key.toLowerCase();
  if (secretKeys.has(k)) return true;
  if (scope === Scope.NotifierSettings && k === "url") return true;
  for (const suffix of secretSuffixes) if (k.endsWith(suffix)) return true;
  return false;
}

function childScope(key: string, scope: Scope): Scope {
  if (scope === Scope.NotifierMap) return Scope.NotifierSettings;
  return key === "notifiers" ? Scope.NotifierMap : Scope.Plain;
}

function redactValue(value: unknown, depth: number, scope: Scope): unknown {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactValue(value[i], depth + 1, scope);
      if (next !== value[i]) {
        out ??= [...value];
        out[i] = next;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // Error, Date, Buffer, class instances
  return redactObject(value as Record<string, unknown>, depth, scope);
}

function redactObject(obj: Record<string, unknown>, depth: number, scope: Scope): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const v = obj[key];
    let next = v;
    if (v !== undefined && v !== null && isSecret(key, scope)) next = REDACTED;
    else if (typeof v === "object" && v !== null) next = redactValue(v, depth + 1, childScope(key, scope));
    if (next !== v) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}
