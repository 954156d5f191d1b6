// A registry of one kind of plugin, indexed by its full name (`category:name`, or the bare name).
import { KestrelError } from "../errors.ts";
import type { Actionner, ContextProvider, Notifier, Output, PluginInfo } from "./types.ts";

export function pluginId(p: Pick<PluginInfo, "category" | "name">): string {
  return p.category === undefined ? p.name : `${p.category}:${p.name}`;
}

export class Registry<T extends PluginInfo> {
  readonly kind: string;
  readonly #byId = new Map<string, T>();

  constructor(kind: string, plugins: readonly T[]) {
    this.kind = kind;
    for (const p of plugins) {
      const id = pluginId(p);
      if (this.#byId.has(id)) throw new KestrelError("ERR_PLUGIN_DUPLICATE", `two ${kind} are named "${id}"`);
      this.#byId.set(id, p);
    }
  }

  get(id: string): T | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  ids(): string[] {
    return [...this.#byId.keys()];
  }

  list(): readonly T[] {
    return [...this.#byId.values()];
  }
}

/** The four registries; the composition (src/registries.ts) fills them from the static plugin lists. */
export interface Registries {
  readonly actionners: Registry<Actionner>;
  readonly outputs: Registry<Output>;
  readonly notifiers: Registry<Notifier>;
  readonly contexts: Registry<ContextProvider>;
}
