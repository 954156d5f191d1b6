// The configuration schema: every key of Falco Talon's config.yaml with Talon's default, plus Kestrel's
// own additions under their own keys. Unknown keys are errors. Notifier settings (`notifiers.<name>`)
// are validated by each notifier's own schema in load.ts.
import { z } from "zod";

/** The strings Go's strconv.ParseBool accepts (what viper's GetBool reads from YAML strings and env vars). */
const goTrue = ["1", "t", "T", "TRUE", "true", "True"] as const;
const goFalse = ["0", "f", "F", "FALSE", "false", "False"] as const;

/** A boolean written as YAML true/false or as a string Go's ParseBool accepts ("true", "False", "1"…);
 * Talon configs use both. */
export const looseBoolean = z.union(
  [z.boolean(), z.enum([...goTrue, ...goFalse]).transform((v) => (goTrue as readonly string[]).includes(v))],
  { error: "must be a boolean (true or false)" },
);

/** A port written as a number or a numeric string (Talon's example has `listen_port: "2803"`). */
const port = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: "must be a port number" })
  .pipe(z.number().int("must be a port number").min(0).max(65535, "must be a port number (0-65535)"));

const positiveInt = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: "must be a positive integer" })
  .pipe(z.number().int("must be a positive integer").min(1, "must be a positive integer"));
const nonNegative = z
  .union([z.number(), z.string().regex(/^\d+(\.\d+)?$/).transform(Number)], { error: "must be a number ≥ 0" })
  .pipe(z.number().min(0, "must be a number ≥ 0"));
/** A list written as a YAML sequence or as a comma-separated string (env vars, `RULES_FILES=a.yaml,b.yaml`). */
export const stringList = z.union([z.array(z.string()), z.string().transform((s) => splitList(s))], {
  error: "must be a list of strings (or a comma-separated string)",
});

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** A pino level, case-insensitive; "warning" is read as "warn" (the Helm chart's LOG_LEVEL may be upper case). */
const logLevel = z
  .string({ error: `must be one of ${logLevels.join(", ")}` })
  .transform((s) => {
    const l = s.trim().toLowerCase();
    return l === "warning" ? "warn" : l;
  })
  .pipe(z.enum(logLevels, { error: `must be one of ${logLevels.join(", ")}` }));

export function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

export const configSchema = z.strictObject({
  listen_address: z.string().default("0.0.0.0"),
  listen_port: port.default(2803),
  rules_files: stringList.default(["/etc/kestrel/rules.yaml"]),
  watch_rules: looseBoolean.default(true),
  print_all_events: looseBoolean.default(false),
  kubeconfig: z.string().default(""),
  log_format: z
    .string({ error: "must be one of color, text, json" })
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(["color", "text", "json"], { error: "must be one of color, text, json" }))
    .default("color"),
  /** Kestrel: pino level (Talon has none). */
  log_level: logLevel.default("info"),
  deduplication: z
    .strictObject({
      /** Unset means: true inside Kubernetes, false elsewhere (resolved in load.ts). */
      leader_election: looseBoolean.optional(),
      /** 0 disables deduplication (in Talon it silently became 2 minutes). */
      time_window_seconds: nonNegative.default(5),
    })
    .prefault({}),
  default_notifiers: stringList.default([]),
  notifiers: z
    .record(z.string(), z.record(z.string(), z.unknown(), { error: "must be a mapping of settings" }).nullable(), {
      error: "must be a mapping of notifier names to their settings",
    })
    .default({}),
  otel: z
    .strictObject({
      traces_enabled: looseBoolean.default(false),
      metrics_enabled: looseBoolean.default(false),
      collector_endpoint: z.string().default("localhost"),
      collector_port: z
        .union([z.number(), z.string()], { error: "must be a port number or a string" })
        .transform(String)
        .default("4317"),
      collector_use_insecure_grpc: looseBoolean.default(false),
      timeout: nonNegative.default(10),
    })
    .prefault({}),
  aws: z
    .strictObject({
      role_arn: z.string().optional(),
      external_id: z.string().optional(),
      region: z.string().optional(),
      access_key: z.string().optional(),
      secret_key: z.string().optional(),
    })
    .prefault({}),
  gcp: z
    .strictObject({
      credentials_path: z.string().optional(),
      region: z.string().optional(),
    })
    .prefault({}),
  minio: z
    .strictObject({
      endpoint: z.string().optional(),
      access_key: z.string().optional(),
      secret_key: z.string().optional(),
      use_ssl: looseBoolean.default(false),
    })
    .prefault({}),
  // ---- Kestrel additions ----
  queue: z
    .strictObject({
      /** Events waiting for workers; beyond this the intake answers 503. */
      size: positiveInt.default(10000),
    })
    .prefault({}),
  /** Actions on different targets run concurrently up to this many; one target's actions run in order. */
  workers: positiveInt.default(16),
  action_timeout_seconds: nonNegative.default(60),
  /** How long SIGTERM waits for queued and running actions before exiting. */
  shutdown_timeout_seconds: nonNegative.default(30),
  /** Request body limit of the intake, in bytes. */
  body_limit_bytes: positiveInt.default(1024 * 1024),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** The validated configuration: notifier settings are parsed by each notifier's schema. */
export interface Config extends Omit<ParsedConfig, "deduplication" | "notifiers"> {
  readonly deduplication: { readonly leader_election: boolean; readonly time_window_seconds: number };
  readonly notifiers: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The file the configuration came from ("" when none). */
  readonly file: string;
}
