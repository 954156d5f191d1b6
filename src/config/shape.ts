// Walking the configuration schema and the decoded document: the shared vocabulary of the YAML reading,
// the env overlay and the notifier settings (./read-yaml.ts, ./env-overlay.ts, ./notifier-settings.ts).
import { z } from "zod";
import type { YamlPath } from "../yaml/source.ts";
import { configSchema } from "./schema.ts";

export type Obj = Record<string, unknown>;
export type AnySchema = z.core.$ZodType;

/** Strips default, prefault, optional, nullable and readonly wrappers. */
export function unwrap(schema: AnySchema): AnySchema {
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

/** The keys the schema allows at `path` (for did-you-mean on unknown keys). */
export function knownKeysAt(path: YamlPath): string[] {
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

export function isPlainObject(v: unknown): v is Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `otel.timeout`, `rules_files[1]`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
