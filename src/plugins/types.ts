// The contracts every plugin implements. A plugin is one file that default-exports one of these
// declarations; its `params` schema is the single place where types, defaults and docs of its
// parameters live (used for validation, `rules check` and the `list` commands).
import type { Logger } from "pino";
import type { z } from "zod";
import type { Clients } from "../clients/index.ts";
import type { FalcoEvent } from "../events/event.ts";
import type { Variables } from "../template/template.ts";

export type PluginKind = "actionner" | "output" | "notifier" | "context";

/**
 * An external system a plugin reaches through `clients` (plain HTTP is always there). The app creates exactly
 * the clients that the loaded rules, the notifiers in use and the contexts asked for need, and checks their
 * settings at start. `aws`: AWS services, credentials verified with STS; `minio`: the minio.* server (through
 * the S3 client); `aws-metadata`: the EC2 instance metadata service.
 */
export type ClientNeed = "kubernetes" | "gcp" | "aws" | "minio" | "aws-metadata";

// biome-ignore lint/suspicious/noExplicitAny: the schema shape is the plugin's own business
export type ParamsSchema = z.ZodObject<any>;

export interface PluginInfo<P extends ParamsSchema = ParamsSchema> {
  readonly kind: PluginKind;
  /** `kubernetes` in `kubernetes:label`; notifiers and contexts have none (they are named bare, as in Talon). */
  readonly category?: string;
  readonly name: string;
  readonly description: string;
  /** The clients it uses; `[]` for none. Required, so that a plugin cannot silently get no client
   * (src/registries-needs.test.ts runs each plugin against clients that record what it touches). */
  readonly needs: readonly ClientNeed[];
  /** Parameters (actionners, outputs) or settings (notifiers). Unknown keys are reported by `rules check`. */
  readonly params: P;
  /** RBAC or IAM permissions the plugin needs, as printed by `list`. */
  readonly permissions?: string;
  /** A YAML example; a test checks that it validates against `params`. */
  readonly example: string;
  /** What `description` and the parameters' texts do not say, for `list` and the README's tables (npm run docs). */
  readonly notes?: PluginNotes;
}

export interface PluginNotes {
  /** How it behaves, beyond the description. Markdown, one paragraph. */
  readonly behaviour?: string;
  /** Where it differs from Falco Talon's plugin of the same name ("Kestrel only" when Talon has none). */
  readonly talon?: string;
}

export type ArtifactPolicy = "none" | "optional" | "required";

export type ActionStatus = "success" | "failure" | "ignored";

/** An artifact an action produced (logs, a downloaded file, a capture). Large ones are streamed. */
export interface Artifact {
  readonly name: string;
  readonly contentType?: string;
  readonly data: Uint8Array | string | AsyncIterable<Uint8Array>;
}

export interface ActionResult {
  /** `ignored` when the action decided not to act (a DaemonSet pod it was told to skip, …). Default success. */
  readonly status?: "success" | "ignored";
  /** What happened, for people: "the pod 'x' in the namespace 'y' has been terminated" (Talon's `output`). */
  readonly summary: string;
  /** The objects acted on ({ pod, namespace }); shown by notifiers, never used as metric labels. */
  readonly objects?: Readonly<Record<string, string>>;
  readonly artifact?: Artifact;
}

export interface ActionRun<P extends ParamsSchema = ParamsSchema> {
  readonly event: FalcoEvent;
  /** Parameters after templating and validation (those `verbatim` names are as written). */
  readonly params: z.output<P>;
  /** The template variables of this run (empty when the action's parameters have no template). */
  readonly variables: Variables;
  /**
   * Talon's context values (`falco-talon.rule`, …) plus those the action's additional contexts gathered.
   * ("Context" alone names the providers, plugins of kind "context"; what a plugin receives is an ActionRun.)
   */
  readonly contextValues: Readonly<Record<string, string>>;
  readonly clients: Clients;
  readonly log: Logger;
  /** Aborted when the action times out or the server shuts down. */
  readonly signal: AbortSignal;
  readonly traceId: string;
}

/**
 * An actionner, generic on its parameters' schema `P` and on `S`, what its preflight finds (the pod, its
 * node, the policy target…) and hands to run, so that run acts on what was checked without reading it again.
 */
export interface Actionner<P extends ParamsSchema = ParamsSchema, S = unknown> extends PluginInfo<P> {
  readonly kind: "actionner";
  readonly category: string;
  /** Event fields the actionner needs; an inner list means "one of these". */
  readonly requiredFields: readonly (string | readonly string[])[];
  /** The Falco source it is meant for ("syscall", "k8s_audit") or "any". Documentation only. */
  readonly source: string;
  /** Whether the rule's next action runs after this one when the action sets no `continue`. */
  readonly continueByDefault: boolean;
  readonly artifact: ArtifactPolicy;
  /** Cross-field checks the schema cannot express, for `rules check`. Returns problems. */
  check?(params: z.output<P>): string[];
  /** True for a parameter whose templates must not be rendered (`params` before templating): the plugin
   * passes their values itself, e.g. a shell script's values as positional parameters (template/shell.ts).
   * Everything else is rendered, each value inserted as data. */
  verbatim?(path: readonly (string | number)[], params: z.output<P>): boolean;
  /** Per-event precondition (the pod exists, …); returns what it found for run. Throws a KestrelError; a failure is notified. */
  preflight?(ctx: ActionRun<P>): Promise<S>;
  /** Acts; `state` is what preflight returned (void for an actionner without preflight). */
  run(ctx: ActionRun<P>, state: S): Promise<ActionResult>;
}

export interface ArtifactWrite<P extends ParamsSchema = ParamsSchema> {
  readonly event: FalcoEvent;
  readonly params: z.output<P>;
  /** The objects of the action that produced the artifact (namespace, pod, …), used to name it. */
  readonly objects: Readonly<Record<string, string>>;
  readonly clients: Clients;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly traceId: string;
}

export interface OutputResult {
  readonly summary: string;
  /** Where the artifact went: file:///…, s3://bucket/key, gs://bucket/key. */
  readonly location: string;
  readonly objects?: Readonly<Record<string, string>>;
}

export interface Output<P extends ParamsSchema = ParamsSchema> extends PluginInfo<P> {
  readonly kind: "output";
  readonly category: string;
  check?(params: z.output<P>): string[];
  write(artifact: Artifact, ctx: ArtifactWrite<P>): Promise<OutputResult>;
}

/**
 * What notifiers receive: the result of one action or of one artifact write, or (kind "event") a matched
 * Falco event that a rule without actions routes to its notifiers. An "event" notification has status
 * "success", empty `action` and `actionner`, the event's output as `output`, and no objects; notifiers
 * present it by the event's priority (colour, severity), results by their status.
 */
export interface Notification {
  /** "action" for an action result, "output" for an artifact write (Talon's `message`), "event" for an event. */
  readonly kind: "action" | "output" | "event";
  readonly status: ActionStatus;
  readonly rule: string;
  readonly action: string;
  readonly actionner: string;
  /** The output target (`aws:s3`) for kind "output". */
  readonly target?: string;
  /** What happened (the action's or output's own text); notifiers send it as Talon's `output`. */
  readonly summary: string;
  readonly error?: string;
  readonly objects: Readonly<Record<string, string>>;
  /** Where the artifact went, when there was one. */
  readonly location?: string;
  readonly event: FalcoEvent;
  readonly traceId: string;
  /** When the result was produced. */
  readonly time: Date;
}

export interface NotifierInstance {
  /** Delivers one notification. Throws a KestrelError (retryable or not) on failure. */
  send(notification: Notification, signal: AbortSignal): Promise<void>;
  /** Flushes what is buffered; called once at shutdown. */
  close?(): Promise<void>;
}

export interface NotifierSetup {
  readonly clients: Clients;
  readonly log: Logger;
}

export interface Notifier<P extends ParamsSchema = ParamsSchema> extends PluginInfo<P> {
  readonly kind: "notifier";
  /** Builds the notifier from its validated settings (`notifiers.<name>` in config.yaml). */
  create(settings: z.output<P>, ctx: NotifierSetup): NotifierInstance | Promise<NotifierInstance>;
}

export interface ContextProvider<P extends ParamsSchema = ParamsSchema> extends PluginInfo<P> {
  readonly kind: "context";
  /** Gathers `key → value` pairs (e.g. `node.hostname`) for one event. */
  gather(event: FalcoEvent, ctx: { clients: Clients; log: Logger; signal: AbortSignal }): Promise<Record<string, string>>;
}

export type AnyPlugin = Actionner | Output | Notifier | ContextProvider;
