// The composition of the plugins: the four registries, built from the static lists in each kind's index.ts.
// It sits at the top, beside app.ts, because only the composition may know every concrete plugin. Plugins are never
// loaded from a path named in configuration: this is a security tool.
import { actionners } from "./actionners/index.ts";
import { contexts } from "./contexts/index.ts";
import { notifiers } from "./notifiers/index.ts";
import { outputs } from "./outputs/index.ts";
import { type Registries, Registry } from "./plugins/registry.ts";

export function createRegistries(): Registries {
  return {
    actionners: new Registry("actionners", actionners),
    outputs: new Registry("outputs", outputs),
    notifiers: new Registry("notifiers", notifiers),
    contexts: new Registry("contexts", contexts),
  };
}

export type { Registries };
