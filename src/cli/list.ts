// `kestrel actionners|outputs|notifiers list`: each plugin's name, description, parameters with their
// defaults, required fields, permissions and example.
import { stringify } from "yaml";
import { describePlugin } from "../plugins/describe.ts";
import { createRegistries } from "../plugins/registries.ts";
import { pluginId } from "../plugins/registry.ts";
import type { AnyPlugin } from "../plugins/types.ts";

export type ListKind = "actionners" | "outputs" | "notifiers";

export function listCommand(kind: ListKind, options: { json?: boolean }): void {
  const plugins: readonly AnyPlugin[] = createRegistries()[kind].list();
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(plugins.map(describePlugin), null, 2)}\n`);
    return;
  }
  for (const p of plugins) {
    process.stdout.write(`--- ${pluginId(p)} ---\n${stringify(describePlugin(p), { lineWidth: 0 })}\n`);
  }
}
