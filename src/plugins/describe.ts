// Plugin metadata for `kestrel <kind> list` and the docs: everything comes from the declaration itself,
// parameters from their zod schema (types, defaults, required, descriptions in one place).
import { parse } from "yaml";
import { z } from "zod";
import { pluginId } from "./registry.ts";
import type { AnyPlugin } from "./types.ts";

export interface ParameterInfo {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  /** The values it takes, when they are a fixed few (`json`, `text`). */
  values?: unknown[];
  description?: string;
}

export function describeParameters(plugin: AnyPlugin): ParameterInfo[] {
  const schema = z.toJSONSchema(plugin.params, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<
      string,
      {
        type?: string | string[];
        default?: unknown;
        enum?: unknown[];
        description?: string;
        items?: { type?: string };
        anyOf?: { type?: string }[];
      }
    >;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, p]) => {
    const info: ParameterInfo = { name, type: typeName(p), required: required.has(name) && p.default === undefined };
    if (p.default !== undefined) info.default = p.default;
    if (p.enum !== undefined) info.values = p.enum;
    if (p.description !== undefined) info.description = p.description;
    return info;
  });
}

function typeName(p: { type?: string | string[]; items?: { type?: string }; anyOf?: { type?: string }[] }): string {
  if (Array.isArray(p.type)) return p.type.join(" | ");
  if (p.type === "array") return `list of ${p.items?.type ?? "values"}`;
  if (p.type === "object") return "map";
  if (p.type !== undefined) return p.type;
  if (p.anyOf !== undefined) return p.anyOf.map((a) => a.type ?? "value").join(" | ");
  return "value";
}

export function describePlugin(plugin: AnyPlugin): Record<string, unknown> {
  const d: Record<string, unknown> = { name: pluginId(plugin), description: plugin.description };
  if (plugin.notes?.behaviour !== undefined) d["behaviour"] = plugin.notes.behaviour;
  if (plugin.notes?.talon !== undefined) d["differs_from_talon"] = plugin.notes.talon;
  if (plugin.kind === "actionner") {
    d["category"] = plugin.category;
    d["source"] = plugin.source;
    d["continue"] = plugin.continueByDefault;
    d["output"] = plugin.artifact; // Talon's word in its docs: whether the actionner produces an artifact for an output
    d["required_output_fields"] = plugin.requiredFields.map((f) => (typeof f === "string" ? f : f.join(" or ")));
  }
  if (plugin.kind === "output") d["category"] = plugin.category;
  d["needs"] = plugin.needs;
  d["parameters"] = describeParameters(plugin);
  if (plugin.permissions !== undefined) d["permissions"] = plugin.permissions;
  d["example"] = plugin.example.trim();
  return d;
}

/** The parameters (actionners, outputs) or settings (notifiers) the plugin's example sets. */
export function exampleParameters(plugin: AnyPlugin): unknown {
  const doc = parse(plugin.example) as unknown;
  if (plugin.kind === "notifier") return (doc as { notifiers: Record<string, unknown> }).notifiers[plugin.name] ?? {};
  const item = (doc as Record<string, unknown>[])[0]!;
  if (plugin.kind === "output") return (item["output"] as { parameters: unknown }).parameters;
  return item["parameters"] ?? {};
}
