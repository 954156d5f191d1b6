// The configuration schema: every key of Falco Talon's config.yaml with Talon's default, plus Kestrel's
// own additions under their own keys. Unknown keys are errors. Notifier settings (`notifiers.<name>`)
// are validated by each notifier's own schema in load.ts.
import { z } from "zod";

/** A boolean written as YAML true/false or as the strings "true"/"false" (Talon configs use both). */
export const looseBoolean = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

/** A port written as a number or a numeric string (Talon's example has `listen_port: "2803"`). */
const port = z.union([z.number(), z.string().regex(/^\d+$/, "must be a port number").transform(Number)]).pipe(
  z.number().int().min(0).max(65535),
);

const positiveInt = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(1));
const nonNegative = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/).transform(Number)]).pipe(z.number().min(0));
const stringList = z.union([z.array(z.string()), z.string().transform((s) => splitList(s))]);

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
  log_format: z.enum(["color", "text", "json"]).default("color"),
  /** Kestrel: pino level (Talon has none). */
  log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  deduplication: z
    .strictObject({
      /** Unset means: true inside Kubernetes, false elsewhere (resolved in load.ts). */
      leader_election: looseBoolean.optional(),
      /** 0 disables deduplication (in Talon it silently became 2 minutes). */
      time_window_seconds: nonNegative.default(5),
    })
    .prefault({}),
  default_notifiers: stringList.default([]),
  notifiers: z.record(z.string(), z.record(z.string(), z.unknown()).nullable()).default({}),
  otel: z
    .strictObject({
      traces_enabled: looseBoolean.default(false),
      metrics_enabled: looseBoolean.default(false),
      collector_endpoint: z.string().default("localhost"),
      collector_port: z.union([z.number(), z.string()]).transform(String).default("4317"),
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
