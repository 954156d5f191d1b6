// `kestrel actionners|outputs|notifiers list [NAME…]`: each plugin's name, description, parameters with
// their defaults, required fields, permissions and example; `--format json` for tools. NAMEs keep only
// those plugins: a full name (`kubernetes:terminate`, `slack`) or a category (`kubernetes`).
import { stringify } from "yaml";
import { describePlugin } from "../plugins/describe.ts";
import { pluginId } from "../plugins/registry.ts";
import type { AnyPlugin } from "../plugins/types.ts";
import { createRegistries } from "../registries.ts";
import { didYouMean } from "../yaml/source.ts";
import { ExitError } from "./shared.ts";

export type ListKind = "actionners" | "outputs" | "notifiers";

export interface ListOptions {
  names?: readonly string[];
  format?: "text" | "json";
}

/** The plugins `names` select (all when none), in registry order; throws on a name that selects nothing. */
export function selectPlugins(kind: ListKind, plugins: readonly AnyPlugin[], names: readonly string[]): AnyPlugin[] {
  if (names.length === 0) return [...plugins];
  const selected = new Set<AnyPlugin>();
  const unknown: string[] = [];
  for (const name of names) {
    const hits = plugins.filter((p) => pluginId(p) === name || p.category === name);
    if (hits.length === 0) unknown.push(name);
    for (const p of hits) selected.add(p);
  }
  if (unknown.length > 0) {
    const candidates = [...plugins.map(pluginId), ...new Set(plugins.flatMap((p) => (p.category === undefined ? [] : [p.category])))];
    const singular = kind.slice(0, -1);
    throw new ExitError(1, unknown.map((n) => `no ${singular} "${n}"${didYouMean(n, candidates)}`).join("; "));
  }
  return plugins.filter((p) => selected.has(p));
}

export function listCommand(kind: ListKind, options: ListOptions): void {
  const plugins = selectPlugins(kind, createRegistries()[kind].list(), options.names ?? []);
  if (options.format === "json") {
    process.stdout.write(`${JSON.stringify(plugins.map(describePlugin), null, 2)}\n`);
    return;
  }
  for (const p of plugins) {
    process.stdout.write(`--- ${pluginId(p)} ---\n${stringify(describePlugin(p), { lineWidth: 0 })}\n`);
  }
}
