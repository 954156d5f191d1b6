// Reading config.yaml the way Talon's viper does: keys are case-insensitive, an empty value means "unset",
// and `rules_file` (a common Talon typo that viper ignores) is read as `rules_files`. The document as
// written is kept, so that a diagnostic about a normalised key can point at the spelling in the file.
import { z } from "zod";
import { errorMessage } from "../errors.ts";
import { FileError, readRegularFile } from "../files.ts";
import { type Diagnostic, type YamlPath, YamlSource } from "../yaml/source.ts";
import { configSchema } from "./schema.ts";
import { isPlainObject, type Obj, unwrap } from "./shape.ts";

/** Keys Talon users write that viper silently ignores, read here as the key they meant. */
const keyAliases: Readonly<Record<string, string>> = { rules_file: "rules_files" };

export interface ConfigText {
  /** Undefined when there is no file to read, or when it could not be read (then `problem` says why). */
  readonly text: string | undefined;
  readonly problem?: string;
}

/** Reads the file; "" means none. A missing file is no problem unless `requireFile`. */
export async function readConfigText(file: string, requireFile: boolean): Promise<ConfigText> {
  if (file === "") return requireFile ? { text: undefined, problem: "no configuration file given" } : { text: undefined };
  try {
    // A regular file under the size cap: a FIFO would hang the start, a huge file exhaust memory.
    return { text: (await readRegularFile(file)).toString("utf8") };
  } catch (err) {
    const code = err instanceof FileError ? err.sysCode : undefined;
    if (code === "ENOENT" && !requireFile) return { text: undefined };
    return { text: undefined, problem: `cannot read ${file}: ${err instanceof FileError ? err.reason : errorMessage(err)}` };
  }
}

export interface ParsedYaml {
  readonly source: YamlSource;
  /** The document as written; undefined when it has syntax errors or is not a mapping (nothing after
   * them would be reliable). An empty document is `{}`. */
  readonly document: Obj | undefined;
  readonly diagnostics: Diagnostic[];
}

export function parseConfigYaml(file: string, text: string): ParsedYaml {
  const source = new YamlSource(file, text);
  const failed = (message: string): ParsedYaml => ({
    source,
    document: undefined,
    diagnostics: [{ ...source.locate([]), severity: "error", code: "ERR_CONFIG_INVALID", message }],
  });
  const syntax = source.syntaxDiagnostics("ERR_CONFIG_INVALID");
  if (syntax.length > 0) return { source, document: undefined, diagnostics: syntax };
  let value: unknown;
  try {
    value = source.toJS();
  } catch (err) {
    return failed(errorMessage(err));
  }
  if (value === null || value === undefined) return { source, document: {}, diagnostics: [] };
  if (!isPlainObject(value)) return failed("the configuration must be a mapping of keys to values");
  return { source, document: value, diagnostics: [] };
}

/** Called with the written path of a key that another spelling of the same key already set. */
export type OnDuplicate = (path: YamlPath) => void;

/** The document with lower-case keys and without null values, as viper reads it. */
export function normalizeKeys(document: Obj, onDuplicate: OnDuplicate): Obj {
  return normalizeObject(document, configSchema, [], onDuplicate);
}

function normalizeObject(value: Obj, schema: z.ZodObject, at: YamlPath, onDuplicate: OnDuplicate): Obj {
  const out: Obj = {};
  const seen = new Set<string>();
  for (const [written, v] of Object.entries(value)) {
    const key = written.toLowerCase();
    if (seen.has(key)) {
      onDuplicate([...at, written]);
      continue;
    }
    seen.add(key);
    if (v === null) continue;
    const inner = schema.shape[key] === undefined ? undefined : unwrap(schema.shape[key]);
    if (inner instanceof z.ZodObject && isPlainObject(v)) out[key] = normalizeObject(v, inner, [...at, written], onDuplicate);
    else if (key === "notifiers" && at.length === 0 && isPlainObject(v)) out[key] = normalizeNotifiers(v, onDuplicate);
    else out[key] = v;
  }
  return out;
}

/** Notifier names and setting keys are lower-cased; a null or "" setting means "use the default" (Talon's
 * SetFields), and a notifier written with no settings (`webhook:`) has `{}`. */
function normalizeNotifiers(value: Obj, onDuplicate: OnDuplicate): Obj {
  const out: Obj = {};
  for (const [written, settings] of Object.entries(value)) {
    const name = written.toLowerCase();
    if (Object.hasOwn(out, name)) onDuplicate(["notifiers", written]);
    else if (settings === null) out[name] = {};
    else if (isPlainObject(settings)) out[name] = normalizeSettings(settings, written, onDuplicate);
    else out[name] = settings;
  }
  return out;
}

function normalizeSettings(settings: Obj, notifier: string, onDuplicate: OnDuplicate): Obj {
  const out: Obj = {};
  for (const [written, v] of Object.entries(settings)) {
    const key = written.toLowerCase();
    if (Object.hasOwn(out, key)) onDuplicate(["notifiers", notifier, written]);
    else if (v !== null && v !== "") out[key] = v;
  }
  return out;
}

/** Reads each alias as its key (a warning either way); `warn` gets the alias as written in the file. */
export function applyKeyAliases(raw: Obj, warn: (alias: string, message: string) => void): void {
  for (const [alias, key] of Object.entries(keyAliases)) {
    if (!Object.hasOwn(raw, alias)) continue;
    if (Object.hasOwn(raw, key)) {
      warn(alias, `"${alias}" is ignored: "${key}" is set`);
    } else {
      raw[key] = raw[alias];
      warn(alias, `"${alias}" is read as "${key}" (Talon ignores "${alias}")`);
    }
    delete raw[alias];
  }
}

export interface WrittenPath {
  readonly path: (string | number)[];
  /** Whether the file has that path. */
  readonly found: boolean;
}

/** Maps a normalised path (lower-case keys, aliases applied) back to the keys written in `document`. */
export function writtenPath(document: Obj, path: YamlPath): WrittenPath {
  const out: (string | number)[] = [];
  let node: unknown = document;
  let found = true;
  for (const seg of path) {
    const step = stepInto(node, seg, out.length === 0);
    node = step.node;
    if (node === undefined) found = false;
    out.push(step.key ?? seg);
  }
  return { path: out, found };
}

/** One step down the written document: the key as written (undefined when absent) and the node under it. */
function stepInto(node: unknown, seg: string | number, atRoot: boolean): { key: string | number | undefined; node: unknown } {
  if (typeof seg === "string" && isPlainObject(node)) {
    const key = writtenKeyIn(node, seg, atRoot);
    return { key, node: key === undefined ? undefined : node[key] };
  }
  return { key: seg, node: Array.isArray(node) && typeof seg === "number" ? node[seg] : undefined };
}

function writtenKeyIn(node: Obj, lower: string, atRoot: boolean): string | undefined {
  if (Object.hasOwn(node, lower)) return lower;
  const key = findKey(node, lower);
  if (key !== undefined || !atRoot) return key;
  const alias = Object.keys(keyAliases).find((a) => keyAliases[a] === lower);
  return alias === undefined ? undefined : findKey(node, alias);
}

function findKey(node: Obj, lower: string): string | undefined {
  return Object.keys(node).find((k) => k.toLowerCase() === lower);
}
