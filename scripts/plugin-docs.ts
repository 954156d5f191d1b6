// The README's plugin tables, from what each plugin declares (describePlugin: its description, notes and
// parameters with their defaults). Shared by scripts/generate-plugin-docs.ts and the test that checks the
// README is current, so the tables cannot drift from the schemas as hand-written copies did.
import { describeParameters, type ParameterInfo } from "../src/plugins/describe.ts";
import { pluginId } from "../src/plugins/registry.ts";
import type { AnyPlugin } from "../src/plugins/types.ts";
import { createRegistries } from "../src/registries.ts";

export const README = new URL("../README.md", import.meta.url);

const TABLES = {
  actionners: { plugin: "actionner", does: "what it does", parameters: "parameters (defaults)" },
  outputs: { plugin: "output", does: "what it does", parameters: "parameters (defaults)" },
  notifiers: { plugin: "notifier", does: "what it sends", parameters: "settings (defaults)" },
} as const;

export type TableKind = keyof typeof TABLES;

const start = (kind: TableKind) => `<!-- generated: ${kind} table (npm run docs) -->`;
const end = (kind: TableKind) => `<!-- end of the generated ${kind} table -->`;

/** Markdown for a table cell: one line, `|` escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

/** `POST`, 10, true; nothing for an empty default ("", [], {}). */
function defaultText(value: unknown): string | undefined {
  if (value === undefined || value === "" || (typeof value === "object" && value !== null && Object.keys(value).length === 0))
    return undefined;
  if (typeof value === "string") return `\`${value}\``;
  return typeof value === "object" ? `\`${JSON.stringify(value)}\`` : String(value);
}

const MAX_CHOICES = 6;

/** `url` (required), `http_method` (`POST`), `format` (`json`\|`text`: the default first), `custom_headers`. A
 * default that the description states in words (the machine's host name) is left to the description: it is
 * not the same on every machine. */
function parameterText(p: ParameterInfo): string {
  if (p.required) return `\`${p.name}\` (required)`;
  const given = p.description?.includes("default:") ? undefined : defaultText(p.default);
  // A long list of choices (syslog's 24 facilities) is left to `list`.
  const others = (p.values ?? []).length > MAX_CHOICES ? [] : (p.values ?? []).filter((v) => v !== p.default).map(defaultText);
  const shown = [given, ...others].filter((t) => t !== undefined);
  return shown.length === 0 ? `\`${p.name}\`` : `\`${p.name}\` (${shown.join("|")})`;
}

function row(plugin: AnyPlugin, withTalon: boolean): string {
  const parameters = describeParameters(plugin).map(parameterText).join(", ");
  const does = plugin.notes?.behaviour === undefined ? plugin.description : `${plugin.description}. ${plugin.notes.behaviour}`;
  const cells = [`\`${pluginId(plugin)}\``, does, parameters === "" ? "none" : parameters];
  if (withTalon) cells.push(plugin.notes?.talon ?? "");
  return `| ${cells.map(cell).join(" | ")} |`;
}

export function renderTable(kind: TableKind, plugins: readonly AnyPlugin[]): string {
  const header = TABLES[kind];
  const withTalon = plugins.some((p) => p.notes?.talon !== undefined);
  const columns = [header.plugin, header.does, header.parameters, ...(withTalon ? ["where Kestrel differs from Talon"] : [])];
  return [`| ${columns.join(" | ")} |`, `|${columns.map(() => "---").join("|")}|`, ...plugins.map((p) => row(p, withTalon))].join("\n");
}

/** `readme` with each table between its markers replaced by the one the plugins give now. */
export function withPluginTables(readme: string): string {
  const registries = createRegistries();
  let text = readme;
  for (const kind of Object.keys(TABLES) as TableKind[]) {
    const from = text.indexOf(start(kind));
    const to = text.indexOf(end(kind));
    if (from < 0 || to < from) throw new Error(`README.md: the markers of the ${kind} table are missing: ${start(kind)} … ${end(kind)}`);
    text = `${text.slice(0, from)}${start(kind)}\n${renderTable(kind, registries[kind].list())}\n${text.slice(to)}`;
  }
  return text;
}
