// Environment variables over the file, the way Talon's viper reads them: every key of the schema has one
// (`otel.timeout` ← OTEL_TIMEOUT, no prefix), every notifier setting too (NOTIFIERS_WEBHOOK_URL), an empty
// variable is ignored, and the string becomes what the schema expects (lists are comma-separated, booleans
// as Go's ParseBool). The overlay remembers which variable set which key, so that a problem with a value
// is reported at `env:NAME` rather than at a line of the file that did not write it.
import { z } from "zod";
import type { Registries } from "../plugins/registry.ts";
import { pluginId } from "../plugins/registry.ts";
import type { YamlPath } from "../yaml/source.ts";
import { DELIVERY_KEYS, deliverySettings } from "./delivery.ts";
import { configSchema, parseGoBool, splitList } from "./schema.ts";
import { type AnySchema, isPlainObject, type Obj, unwrap } from "./shape.ts";

export class EnvOverlay {
  readonly #env: Record<string, string | undefined>;
  readonly #registries: Registries;
  /** Paths set from env vars, keyed by their dotted form, with the variable's name. */
  readonly #fromEnv = new Map<string, string>();

  constructor(env: Record<string, string | undefined>, registries: Registries) {
    this.#env = env;
    this.#registries = registries;
  }

  /** Sets in `raw` (the normalised document) every key that an env var gives. */
  apply(raw: Obj): void {
    for (const leaf of configLeaves()) this.#setFromEnv(raw, leaf.path, leaf.env, leaf.schema);
    for (const n of this.#registries.notifiers.list()) {
      const id = pluginId(n);
      const shapes = { ...(n.params.shape as Record<string, AnySchema>), ...(deliverySettings.shape as Record<string, AnySchema>) };
      for (const [key, schema] of Object.entries(shapes)) {
        this.#setFromEnv(raw, ["notifiers", id, key], notifierEnvName(id, key), schema);
      }
    }
  }

  /** Whether an env var set the dotted key (`auth.tokens`). */
  setBy(key: string): boolean {
    return this.#fromEnv.has(key);
  }

  /** The env var that set `path` or one of its parents; when the file does not have `path` at all, also
   * one that set something under it (NOTIFIERS_WEBHOOK_URL for `notifiers.webhook`). */
  variableFor(path: YamlPath, inFile: boolean): string | undefined {
    for (let n = path.length; n > 0; n--) {
      const name = this.#fromEnv.get(path.slice(0, n).join("."));
      if (name !== undefined) return name;
    }
    if (inFile) return undefined;
    const prefix = `${path.join(".")}.`;
    for (const [key, name] of this.#fromEnv) if (key.startsWith(prefix)) return name;
    return undefined;
  }

  #setFromEnv(raw: Obj, path: readonly string[], name: string, schema: AnySchema): void {
    const value = this.#env[name];
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

/** Turns an env string into the value the schema expects; a value that does not fit stays a string, so
 * that the schema reports it. */
function coerceEnv(value: string, schema: AnySchema): unknown {
  switch (envKind(schema)) {
    case "list":
      return splitList(value);
    case "boolean":
      return parseGoBool(value.trim()) ?? value;
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

function envName(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

function notifierEnvName(notifier: string, key: string): string {
  return `NOTIFIERS_${envName(notifier)}_${envName(key)}`;
}
