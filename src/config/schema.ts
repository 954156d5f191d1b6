// The configuration schema: every key of Falco Talon's config.yaml with Talon's default, plus Kestrel's
// own additions under their own keys. Unknown keys are errors. Notifier settings (`notifiers.<name>`)
// are validated by each notifier's own schema (notifier-settings.ts).
import { z } from "zod";

/** The strings Go's strconv.ParseBool accepts (what viper's GetBool reads from YAML strings and env vars). */
const goTrue = ["1", "t", "T", "TRUE", "true", "True"] as const;
const goFalse = ["0", "f", "F", "FALSE", "false", "False"] as const;

/** The boolean a string means to Go's ParseBool; undefined when it means none. */
export function parseGoBool(text: string): boolean | undefined {
  if ((goTrue as readonly string[]).includes(text)) return true;
  return (goFalse as readonly string[]).includes(text) ? false : undefined;
}

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
  .union(
    [
      z.number(),
      z
        .string()
        .regex(/^\d+(\.\d+)?$/)
        .transform(Number),
    ],
    { error: "must be a number ≥ 0" },
  )
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
    // Unset means: color when standard output is a terminal, text otherwise (resolved in load.ts).
    .optional(),
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
  /** Kestrel: a notifier a rule names but `notifiers` leaves unusable is skipped with a warning (Talon's
   * behaviour), or stops the start ("error"); `rules check --strict` treats it as "error". */
  unconfigured_notifiers: z.enum(["skip", "error"], { error: 'must be "skip" or "error"' }).default("skip"),
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
      collector_port: z.union([z.number(), z.string()], { error: "must be a port number or a string" }).transform(String).default("4317"),
      collector_use_insecure_grpc: looseBoolean.default(false),
      timeout: nonNegative.default(10),
      // Kestrel additions. Talon speaks OTLP over gRPC only; OTLP/HTTP (protobuf) suits collectors behind
      // an HTTP proxy or ingress (then collector_port is usually 4318).
      protocol: z.enum(["grpc", "http/protobuf"], { error: 'must be "grpc" or "http/protobuf"' }).default("grpc"),
      service_name: z.string().min(1, "must not be empty").default("kestrel"),
      /** Seconds between two OTLP metric pushes (the OpenTelemetry SDK's default). */
      metrics_interval: positiveInt.default(60),
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
      /** A file path (Talon read this value as the JSON content itself: a bug). */
      credentials_path: z.string().optional(),
      /** Unused, as in Talon. */
      region: z.string().optional(),
      /** Kestrel addition: the Cloud Storage endpoint ("" = https://storage.googleapis.com), e.g. a private endpoint. */
      storage_endpoint: z.string().default(""),
      /** Kestrel addition: the Cloud Functions API base URL ("" = https://cloudfunctions.googleapis.com). */
      functions_endpoint: z.string().default(""),
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
  /** HTTPS on the intake; with client_ca_file, only clients with a certificate signed by that CA (mutual TLS). */
  tls: z
    .strictObject({
      cert_file: z.string().default(""),
      key_file: z.string().default(""),
      client_ca_file: z.string().default(""),
    })
    .prefault({})
    .check((ctx) => {
      const t = ctx.value;
      if ((t.cert_file === "") !== (t.key_file === "")) {
        ctx.issues.push({
          code: "custom",
          input: t,
          path: [t.cert_file === "" ? "cert_file" : "key_file"],
          message: "cert_file and key_file go together",
        });
      }
      if (t.client_ca_file !== "" && t.cert_file === "") {
        ctx.issues.push({
          code: "custom",
          input: t,
          path: ["client_ca_file"],
          message: "mutual TLS needs the server's own cert_file and key_file",
        });
      }
    }),
  /** Bearer tokens that may post events (Authorization: Bearer <token>); none = no authentication. */
  auth: z
    .strictObject({
      tokens: stringList.default([]),
      /** A file with one token per line (a mounted Secret); re-read when it changes. */
      tokens_file: z.string().default(""),
    })
    .prefault({}),
  /** Leader election (deduplication.leader_election): the Lease and its timing, as client-go's defaults. */
  cluster: z
    .strictObject({
      /** NATS server(s) with JetStream (comma-separated): replicas share events, deduplication and work. */
      nats_url: z.string().default(""),
      /** JetStream stream holding the events (its subject is kestrel.<stream, lower case>). */
      stream: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' and '_' only")
        .default("KESTREL_EVENTS"),
      /** An event not acknowledged (nor kept by heartbeats) for this long is given to another replica. */
      ack_wait_seconds: nonNegative.default(30),
      /** Deliveries of one event at most (a replica dying each time on it does not loop forever). */
      max_deliver: positiveInt.default(5),
      lease_name: z.string().min(1).default("kestrel"),
      /** Default: $NAMESPACE, else the service account's namespace, else "falco" (Talon's order). */
      lease_namespace: z.string().default(""),
      /** This replica's name in the lease. Default: $POD_NAME, else the host name (a pod's name). */
      identity: z.string().default(""),
      lease_duration_seconds: nonNegative.default(15),
      renew_deadline_seconds: nonNegative.default(10),
      retry_period_seconds: nonNegative.default(2),
    })
    .prefault({})
    .check((ctx) => {
      const c = ctx.value;
      if (
        !(
          c.retry_period_seconds > 0 &&
          c.retry_period_seconds < c.renew_deadline_seconds &&
          c.renew_deadline_seconds < c.lease_duration_seconds
        )
      ) {
        ctx.issues.push({
          code: "custom",
          input: c,
          path: ["renew_deadline_seconds"],
          message: "needs 0 < retry_period_seconds < renew_deadline_seconds < lease_duration_seconds",
        });
      }
    }),
  limits: z
    .strictObject({
      /** Events per second one client address may post (token bucket); 0 = no limit. Over it: 429. */
      events_per_second: nonNegative.default(0),
      /** Events a client may post at once above its rate (default: one second's worth). */
      burst: nonNegative.default(0),
      /** Time a client has to send the request headers (slowloris). */
      header_timeout_seconds: nonNegative.default(10),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** The validated configuration: notifier settings are parsed by each notifier's schema. */
export interface Config extends Omit<ParsedConfig, "deduplication" | "notifiers" | "log_format"> {
  readonly log_format: NonNullable<ParsedConfig["log_format"]>;
  readonly deduplication: { readonly leader_election: boolean; readonly time_window_seconds: number };
  readonly notifiers: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The file the configuration came from ("" when none). */
  readonly file: string;
}
