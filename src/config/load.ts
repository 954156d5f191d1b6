// Loads config.yaml (Falco Talon's format plus Kestrel's own keys), overlays environment variables the
// way Talon's viper does (`otel.timeout` ← OTEL_TIMEOUT, no prefix), validates everything (the schema,
// then each notifier's settings with that notifier's own schema) and returns a deep-frozen Config.
// Every problem is collected as a Diagnostic with file:line:col (or `env:NAME` for env vars) before
// returning; the config is undefined when any of them is an error.

import { isIP } from "node:net";
import { z } from "zod";
import { type ErrorCode, errorMessage } from "../errors.ts";
import { FileError, readRegularFile } from "../files.ts";
import type { Registries } from "../plugins/registry.ts";
import { pluginId } from "../plugins/registry.ts";
import type { Notifier } from "../plugins/types.ts";
import { type Diagnostic, didYouMean, type Position, valueAt, type YamlPath, YamlSource } from "../yaml/source.ts";
import { DELIVERY_KEYS, deliverySettings } from "./delivery.ts";
import { DEFAULT_PATHS, type DefaultPaths, defaultRulesFile } from "./paths.ts";
import { type Config, configSchema, splitList } from "./schema.ts";
import { securityOverrideProblems } from "./security.ts";

export interface LoadConfigOptions {
  /** Path of config.yaml; undefined or "" means none (defaults plus env). */
  file?: string;
  /** The environment (the CLI passes process.env); nothing else is read from it. */
  env?: Record<string, string | undefined>;
  registries: Registries;
  /** When true a file that cannot be read is an error; otherwise a missing file means defaults. */
  requireFile?: boolean;
  /** Where `rules_files` points when neither the file nor RULES_FILES sets it (tests pass their own). */
  defaultPaths?: DefaultPaths;
  /** Whether the log goes to a terminal: `log_format` unset is color there, text in a pipe or a file.
   * process.stdout.isTTY when omitted. */
  stdoutIsTTY?: boolean;
}

export interface LoadConfigResult {
  /** Undefined when any diagnostic is an error. */
  config: Config | undefined;
  diagnostics: Diagnostic[];
}

type Obj = Record<string, unknown>;
type AnySchema = z.core.$ZodType;

/** A DNS host name (RFC 1123 labels). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Keys Talon users write that viper silently ignores, read here as the key they meant. */
const keyAliases: Readonly<Record<string, string>> = { rules_file: "rules_files" };

export async function loadConfig(options: LoadConfigOptions): Promise<LoadConfigResult> {
  const file = options.file ?? "";
  const loading = new Loading(file, options.env ?? {}, options.registries, options.defaultPaths ?? DEFAULT_PATHS);
  const text = await loading.read(options.requireFile ?? false);
  if (text !== undefined && !loading.parse(text)) return { config: undefined, diagnostics: loading.diagnostics };
  const config = loading.validate(options.stdoutIsTTY ?? process.stdout.isTTY === true);
  const diagnostics = loading.sortedDiagnostics();
  return { config: diagnostics.some((d) => d.severity === "error") ? undefined : config, diagnostics };
}

/** The env var names Kestrel reads for configuration, with the config key each one sets. */
export function configEnvVars(registries: Registries): { name: string; key: string }[] {
  const out = configLeaves().map((l) => ({ name: l.env, key: l.path.join(".") }));
  for (const n of registries.notifiers.list()) {
    for (const key of [...Object.keys(n.params.shape), ...DELIVERY_KEYS]) {
      out.push({ name: notifierEnvName(pluginId(n), key), key: `notifiers.${pluginId(n)}.${key}` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

class Loading {
  readonly file: string;
  readonly env: Record<string, string | undefined>;
  readonly registries: Registries;
  readonly defaultPaths: DefaultPaths;
  readonly diagnostics: Diagnostic[] = [];
  #source: YamlSource | undefined;
  /** The document as written (original key spelling), for turning paths back into positions. */
  #original: Obj = {};
  /** Paths set from env vars, keyed by their dotted form, with the variable's name. */
  readonly #fromEnv = new Map<string, string>();
  /** The file was read (false: missing and optional, so Config.file is ""). */
  #fileRead = false;

  constructor(file: string, env: Record<string, string | undefined>, registries: Registries, defaultPaths: DefaultPaths) {
    this.file = file;
    this.env = env;
    this.registries = registries;
    this.defaultPaths = defaultPaths;
  }

  async read(requireFile: boolean): Promise<string | undefined> {
    if (this.file === "") {
      if (requireFile) this.#fileError("no configuration file given");
      return undefined;
    }
    try {
      // A regular file under the size cap: a FIFO would hang the start, a huge file exhaust memory.
      const text = (await readRegularFile(this.file)).toString("utf8");
      this.#fileRead = true;
      return text;
    } catch (err) {
      const code = err instanceof FileError ? err.sysCode : undefined;
      if (code === "ENOENT" && !requireFile) return undefined;
      this.#fileError(`cannot read ${this.file}: ${err instanceof FileError ? err.reason : errorMessage(err)}`);
      return undefined;
    }
  }

  /** Parses the YAML; false when it has syntax errors (nothing after them would be reliable). */
  parse(text: string): boolean {
    const source = new YamlSource(this.file, text);
    this.#source = source;
    const syntax = source.syntaxDiagnostics("ERR_CONFIG_INVALID");
    if (syntax.length > 0) {
      this.diagnostics.push(...syntax);
      return false;
    }
    let value: unknown;
    try {
      value = source.toJS();
    } catch (err) {
      this.#error(source.locate([]), errorMessage(err));
      return false;
    }
    if (value === null || value === undefined) return true;
    if (!isPlainObject(value)) {
      this.#error(source.locate([]), "the configuration must be a mapping of keys to values");
      return false;
    }
    this.#original = value;
    return true;
  }

  validate(stdoutIsTTY: boolean): Config | undefined {
    const raw = this.#normalizeObject(this.#original, configSchema, []);
    this.#applyAliases(raw);
    this.#applyEnv(raw);
    this.#checkSecurityOverrides(raw);
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) this.#reportIssues(parsed.error.issues, [], "ERR_CONFIG_INVALID");
    const defaults = this.#checkDefaultNotifiers(raw["default_notifiers"], raw["notifiers"]);
    const notifiers = this.#checkNotifiers(raw["notifiers"], defaults);
    if (!parsed.success) return undefined;
    this.#checkListenAddress(parsed.data.listen_address);
    for (const name of defaults.names) {
      const settings = defaults.settings.get(name);
      if (notifiers[name] === undefined && settings !== undefined) notifiers[name] = settings;
    }
    const { deduplication, notifiers: _unparsed, ...rest } = parsed.data;
    const config: Config = {
      ...rest,
      // Unset in the file and the environment: colors for a terminal only, no escape codes in a pipe or a file.
      log_format: rest.log_format ?? (stdoutIsTTY ? "color" : "text"),
      // Unset in the file and the environment: /etc/kestrel/rules.yaml, else Talon's /etc/falco-talon/rules.yaml.
      rules_files: raw["rules_files"] === undefined ? [defaultRulesFile(this.defaultPaths)] : rest.rules_files,
      deduplication: {
        leader_election: deduplication.leader_election ?? nonEmpty(this.env["KUBERNETES_SERVICE_HOST"]),
        time_window_seconds: deduplication.time_window_seconds,
      },
      notifiers,
      file: this.#fileRead ? this.file : "",
    };
    return deepFreeze(config);
  }

  /** listen_address must be an IP address or a host name: anything else would fail at listen time with a
   * resolver's stack trace instead of a line naming the setting (or LISTEN_ADDRESS). */
  #checkListenAddress(address: string): void {
    if (isIP(address) !== 0 || HOST_NAME.test(address)) return;
    this.#error(this.#where(["listen_address"]), `listen_address: ${JSON.stringify(address)} is not an IP address or a host name`);
  }

  /** Diagnostics of the file in line order, then those of env vars. */
  sortedDiagnostics(): Diagnostic[] {
    const rank = (d: Diagnostic) => (d.file === this.file ? 0 : 1);
    return [...this.diagnostics].sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 ? a.line - b.line || a.column - b.column : 0));
  }

  // ---- normalisation: viper reads keys case-insensitively and treats an empty value as unset ----

  #normalizeObject(value: Obj, schema: z.ZodObject, at: YamlPath): Obj {
    const out: Obj = {};
    const seen = new Set<string>();
    for (const [written, v] of Object.entries(value)) {
      const key = written.toLowerCase();
      if (seen.has(key)) {
        this.#duplicate([...at, written]);
        continue;
      }
      seen.add(key);
      if (v === null) continue;
      const inner = schema.shape[key] === undefined ? undefined : unwrap(schema.shape[key]);
      if (inner instanceof z.ZodObject && isPlainObject(v)) out[key] = this.#normalizeObject(v, inner, [...at, written]);
      else if (key === "notifiers" && at.length === 0 && isPlainObject(v)) out[key] = this.#normalizeNotifiers(v);
      else out[key] = v;
    }
    return out;
  }

  /** Notifier names and setting keys are lower-cased; a null or "" setting means "use the default" (Talon's
   * SetFields), and a notifier written with no settings (`webhook:`) has `{}`. */
  #normalizeNotifiers(value: Obj): Obj {
    const out: Obj = {};
    for (const [written, settings] of Object.entries(value)) {
      const name = written.toLowerCase();
      if (Object.hasOwn(out, name)) {
        this.#duplicate(["notifiers", written]);
        continue;
      }
      if (settings === null) out[name] = {};
      else if (!isPlainObject(settings)) out[name] = settings;
      else {
        const s: Obj = {};
        for (const [k, v] of Object.entries(settings)) {
          const key = k.toLowerCase();
          if (Object.hasOwn(s, key)) this.#duplicate(["notifiers", written, k]);
          else if (v !== null && v !== "") s[key] = v;
        }
        out[name] = s;
      }
    }
    return out;
  }

  #duplicate(path: YamlPath): void {
    const key = String(path[path.length - 1]);
    this.#error(this.#whereKey(path), `duplicate key "${key}" (keys are case-insensitive, as in Talon)`);
  }

  #applyAliases(raw: Obj): void {
    for (const [alias, key] of Object.entries(keyAliases)) {
      if (!Object.hasOwn(raw, alias)) continue;
      const at = this.#whereKey([alias]);
      if (Object.hasOwn(raw, key)) {
        this.#warn(at, `"${alias}" is ignored: "${key}" is set`);
      } else {
        raw[key] = raw[alias];
        this.#warn(at, `"${alias}" is read as "${key}" (Talon ignores "${alias}")`);
      }
      delete raw[alias];
    }
  }

  // ---- environment ----

  #applyEnv(raw: Obj): void {
    for (const leaf of configLeaves()) this.#setFromEnv(raw, leaf.path, leaf.env, leaf.schema);
    for (const n of this.registries.notifiers.list()) {
      const id = pluginId(n);
      const shapes = { ...(n.params.shape as Record<string, AnySchema>), ...(deliverySettings.shape as Record<string, AnySchema>) };
      for (const [key, schema] of Object.entries(shapes)) {
        this.#setFromEnv(raw, ["notifiers", id, key], notifierEnvName(id, key), schema);
      }
    }
  }

  /** Env overrides that would leave authentication or TLS empty or unusable (./security.ts): env:NAME errors. */
  #checkSecurityOverrides(raw: Obj): void {
    for (const p of securityOverrideProblems(raw, (key) => this.#fromEnv.has(key))) this.#error(this.#where(p.path), p.message);
  }

  #setFromEnv(raw: Obj, path: readonly string[], name: string, schema: AnySchema): void {
    const value = this.env[name];
    if (value === undefined || value === "") return; // viper ignores empty env vars
    let node = raw;
    for (const seg of path.slice(0, -1)) {
      const next = node[seg];
      if (next === undefined) node[seg] = {};
      else if (!isPlainObject(next)) return; // the file's value is wrong already; the schema reports it
      node = node[seg] as Obj;
    }
    node[path[path.length - 1]!] = coerceEnv(value, schema);
    this.#fromEnv.set(path.join("."), name);
  }

  // ---- notifiers ----

  /** Checks `default_notifiers` names; returns the registered ones and the default settings of those that
   * have no `notifiers.<name>` entry. */
  #checkDefaultNotifiers(value: unknown, configured: unknown): { names: Set<string>; settings: Map<string, Obj> } {
    const names = new Set<string>();
    const settings = new Map<string, Obj>();
    const items: [string, YamlPath][] = [];
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (typeof v === "string") items.push([v, ["default_notifiers", i]]);
      });
    } else if (typeof value === "string") {
      for (const v of splitList(value)) items.push([v, ["default_notifiers"]]);
    }
    for (const [name, path] of items) {
      const notifier = this.registries.notifiers.get(name);
      if (notifier === undefined) {
        this.#unknownNotifier(this.#where(path), name);
        continue;
      }
      names.add(name);
      if ((isPlainObject(configured) && Object.hasOwn(configured, name)) || settings.has(name)) continue;
      const parsed = notifier.params.safeParse({});
      if (parsed.success) settings.set(name, parsed.data as Obj);
      else {
        const missing = parsed.error.issues.map((i) => `"${pathText(i.path)}"`).join(", ");
        this.#error(this.#where(path), `notifier "${name}" has no settings: notifiers.${name} needs ${missing}`, "ERR_PARAMS_INVALID");
      }
    }
    return { names, settings };
  }

  #checkNotifiers(value: unknown, defaults: { names: Set<string> }): Record<string, Obj> {
    const out: Record<string, Obj> = {};
    if (!isPlainObject(value)) return out;
    for (const [name, settings] of Object.entries(value)) {
      const notifier = this.registries.notifiers.get(name);
      if (notifier === undefined) {
        const written = this.#writtenPath(["notifiers", name]).path[1] ?? name;
        this.#unknownNotifier(this.#whereKey(["notifiers", name]), String(written));
        continue;
      }
      if (!isPlainObject(settings)) continue; // the schema reports the wrong type
      const parsed = this.#parseSettings(notifier, name, settings, defaults.names.has(name));
      if (parsed !== undefined) out[name] = parsed;
    }
    return out;
  }

  /** Validates one notifier's settings with its own schema. A notifier whose only problem is a missing
   * required setting is left out with a warning when no default_notifiers entry needs it (Talon only
   * checks a notifier when it is used); rules that name it fail their own check. */
  #parseSettings(notifier: Notifier, name: string, settings: Obj, required: boolean): Obj | undefined {
    const at: YamlPath = ["notifiers", name];
    const known = Object.keys(notifier.params.shape);
    const input: Obj = {};
    const delivery: Obj = {};
    let unknown = false;
    for (const [key, v] of Object.entries(settings)) {
      if (known.includes(key)) input[key] = v;
      else if (DELIVERY_KEYS.includes(key)) delivery[key] = v;
      else {
        unknown = true;
        const shown = this.#writtenKey([...at, key]);
        this.#error(
          this.#whereKey([...at, key]),
          `unknown setting "${shown}" of notifier "${name}"${didYouMean(key, known)}`,
          "ERR_PARAMS_INVALID",
        );
      }
    }
    const filters = deliverySettings.safeParse(delivery);
    if (!filters.success) {
      this.#reportIssues(filters.error.issues, at, "ERR_PARAMS_INVALID");
      unknown = true;
    }
    const parsed = notifier.params.safeParse(input);
    // The common filters (min_priority, on_status) travel with the notifier's own settings.
    if (parsed.success) return unknown || !filters.success ? undefined : { ...(parsed.data as Obj), ...filters.data };
    const missing = parsed.error.issues.filter((i) => i.code === "invalid_type" && valueAt(input, i.path) === undefined);
    if (!required && missing.length === parsed.error.issues.length) {
      const list = missing.map((i) => `"${pathText(i.path)}"`).join(", ");
      this.#warn(
        this.#whereKey(at),
        `notifier "${name}" cannot be used: it needs ${list} (no default_notifiers entry uses it; rules that name it skip it, with a warning, unless unconfigured_notifiers is "error")`,
      );
      return undefined;
    }
    this.#reportIssues(parsed.error.issues, at, "ERR_PARAMS_INVALID");
    return undefined;
  }

  #unknownNotifier(at: Position, name: string): void {
    const message = `unknown notifier "${name}"${didYouMean(name.toLowerCase(), this.registries.notifiers.ids())}`;
    this.#error(at, message, "ERR_PLUGIN_UNKNOWN");
  }

  // ---- issues and positions ----

  #reportIssues(issues: readonly z.core.$ZodIssue[], prefix: YamlPath, code: ErrorCode): void {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path.map(pathSegment)];
      const branch = issue.code === "invalid_union" ? matchedBranch(issue.errors) : undefined;
      if (branch !== undefined) {
        this.#reportIssues(branch, path, code);
        continue;
      }
      if (issue.code === "unrecognized_keys") {
        const candidates = knownKeysAt(path);
        for (const key of issue.keys) {
          const shown = this.#writtenKey([...path, key]);
          this.#error(this.#whereKey([...path, key]), `unknown key "${shown}"${didYouMean(key, candidates)}`, code);
        }
        continue;
      }
      const where = path.length === 0 ? "" : `${this.#writtenKey(path)}: `;
      this.#error(this.#where(path), `${where}${issue.message}`, code);
    }
  }

  /** The env var that set `path` or one of its parents; when the file does not have `path` at all, also
   * one that set something under it (NOTIFIERS_WEBHOOK_URL for `notifiers.webhook`). */
  #envFor(path: YamlPath, inFile: boolean): string | undefined {
    for (let n = path.length; n > 0; n--) {
      const name = this.#fromEnv.get(path.slice(0, n).join("."));
      if (name !== undefined) return name;
    }
    if (inFile) return undefined;
    const prefix = `${path.join(".")}.`;
    for (const [key, name] of this.#fromEnv) if (key.startsWith(prefix)) return name;
    return undefined;
  }

  #where(path: YamlPath): Position {
    return this.#position(path, false);
  }

  #whereKey(path: YamlPath): Position {
    return this.#position(path, true);
  }

  #position(path: YamlPath, key: boolean): Position {
    const written = this.#writtenPath(path);
    const env = this.#envFor(path, written.found);
    if (env !== undefined) return { file: `env:${env}`, line: 0, column: 0 };
    if (this.#source === undefined) return { file: this.file, line: 0, column: 0 };
    return key ? this.#source.locateKey(written.path) : this.#source.locate(written.path);
  }

  /** The dotted path as the user wrote it (original case, aliases). */
  #writtenKey(path: YamlPath): string {
    return pathText(this.#writtenPath(path).path);
  }

  /** Maps a normalised path (lower-case keys, aliases applied) back to the keys written in the file;
   * `found` tells whether the file has that path. */
  #writtenPath(path: YamlPath): { path: (string | number)[]; found: boolean } {
    const out: (string | number)[] = [];
    let node: unknown = this.#original;
    let found = true;
    for (const seg of path) {
      let key: string | number | undefined = seg;
      if (typeof seg === "string" && isPlainObject(node)) {
        key = Object.hasOwn(node, seg) ? seg : findKey(node, seg);
        if (key === undefined && out.length === 0) {
          const alias = Object.keys(keyAliases).find((a) => keyAliases[a] === seg);
          if (alias !== undefined) key = findKey(node, alias);
        }
        node = key === undefined ? undefined : node[key];
      } else {
        node = Array.isArray(node) && typeof seg === "number" ? node[seg] : undefined;
      }
      if (node === undefined) found = false;
      out.push(key ?? seg);
    }
    return { path: out, found };
  }

  #fileError(message: string): void {
    this.#error({ file: this.file, line: 0, column: 0 }, message);
  }

  #error(at: Position, message: string, code: ErrorCode = "ERR_CONFIG_INVALID"): void {
    this.diagnostics.push({ ...at, severity: "error", code, message });
  }

  #warn(at: Position, message: string): void {
    this.diagnostics.push({ ...at, severity: "warning", code: "ERR_CONFIG_INVALID", message });
  }
}

/** The issues of the one union branch whose type the value had (all its issues are below the value,
 * like a list with one bad item), so that the problem is reported where it is; else undefined. */
function matchedBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const deep = branches.filter((b) => b.length > 0 && b.every((i) => i.path.length > 0));
  return deep.length === 1 ? deep[0] : undefined;
}

// ---- schema introspection ----

interface Leaf {
  readonly path: readonly string[];
  readonly env: string;
  readonly schema: AnySchema;
}

let leaves: readonly Leaf[] | undefined;

/** Every scalar or list key of the schema (`otel.timeout`), with its env var (`OTEL_TIMEOUT`). */
function configLeaves(): readonly Leaf[] {
  if (leaves !== undefined) return leaves;
  const out: Leaf[] = [];
  const walk = (schema: z.ZodObject, at: readonly string[]) => {
    for (const [key, field] of Object.entries(schema.shape as Record<string, AnySchema>)) {
      const inner = unwrap(field);
      const path = [...at, key];
      if (inner instanceof z.ZodObject) walk(inner, path);
      else if (!(inner instanceof z.ZodRecord)) out.push({ path, env: envName(path.join("_")), schema: field });
    }
  };
  walk(configSchema, []);
  leaves = out;
  return out;
}

/** The keys the schema allows at `path` (for did-you-mean on unknown keys). */
function knownKeysAt(path: YamlPath): string[] {
  let schema: AnySchema = configSchema;
  for (const seg of path) {
    const inner = unwrap(schema);
    if (!(inner instanceof z.ZodObject) || typeof seg !== "string") return [];
    const next = (inner.shape as Record<string, AnySchema>)[seg];
    if (next === undefined) return [];
    schema = next;
  }
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** Strips default, prefault, optional, nullable and readonly wrappers. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    if (
      s instanceof z.ZodDefault ||
      s instanceof z.ZodPrefault ||
      s instanceof z.ZodOptional ||
      s instanceof z.ZodNullable ||
      s instanceof z.ZodReadonly
    ) {
      s = s.unwrap() as AnySchema;
    } else return s;
  }
}

type EnvKind = "list" | "boolean" | "number" | "map" | "string";

/** What an env string must become for `schema`: lists are comma-separated, booleans as Go's ParseBool. */
function envKind(schema: AnySchema): EnvKind {
  const s = unwrap(schema);
  if (s instanceof z.ZodArray) return "list";
  if (s instanceof z.ZodBoolean) return "boolean";
  if (s instanceof z.ZodNumber) return "number";
  if (s instanceof z.ZodRecord || s instanceof z.ZodObject) return "map";
  if (s instanceof z.ZodPipe) {
    const out = envKind(s.out as AnySchema);
    return out === "string" ? envKind(s.in as AnySchema) : out;
  }
  if (s instanceof z.ZodUnion) {
    const kinds = new Set((s.options as AnySchema[]).map(envKind));
    return (["list", "boolean", "number", "map"] as const).find((k) => kinds.has(k)) ?? "string";
  }
  return "string";
}

const goBools: Readonly<Record<string, boolean>> = {
  "1": true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  "0": false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/** Turns an env string into the value the schema expects; a value that does not fit stays a string, so
 * that the schema reports it. */
function coerceEnv(value: string, schema: AnySchema): unknown {
  switch (envKind(schema)) {
    case "list":
      return splitList(value);
    case "boolean":
      return goBools[value.trim()] ?? value;
    case "number":
      return /^\s*[+-]?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
    case "map":
      return parseEnvMap(value);
    default:
      return value;
  }
}

/** A mapping from env: a JSON object, or `key=value,key2=value2`. */
function parseEnvMap(value: string): unknown {
  const text = value.trim();
  if (text.startsWith("{")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return value;
    }
  }
  const out: Record<string, string> = {};
  for (const pair of splitList(text)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) return value;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

// ---- helpers ----

function envName(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

function notifierEnvName(notifier: string, key: string): string {
  return `NOTIFIERS_${envName(notifier)}_${envName(key)}`;
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && v !== "";
}

function isPlainObject(v: unknown): v is Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function findKey(node: Obj, lower: string): string | undefined {
  return Object.keys(node).find((k) => k.toLowerCase() === lower);
}

function pathSegment(seg: PropertyKey): string | number {
  return typeof seg === "number" ? seg : String(seg);
}

/** `otel.timeout`, `rules_files[1]`. */
function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
