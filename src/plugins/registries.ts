// The four plugin registries, built from the static lists in each kind's index.ts. Plugins are never
// loaded from a path named in configuration: this is a security tool.
import { actionners } from "../actionners/index.ts";
import { contexts } from "../contexts/index.ts";
import { notifiers } from "../notifiers/index.ts";
import { outputs } from "../outputs/index.ts";
import { Registry } from "./registry.ts";
import type { Actionner, ContextProvider, Notifier, Output } from "./types.ts";

export interface Registries {
  readonly actionners: Registry<Actionner>;
  readonly outputs: Registry<Output>;
  readonly notifiers: Registry<Notifier>;
  readonly contexts: Registry<ContextProvider>;
}

export function createRegistries(): Registries {
  return {
    actionners: new Registry("actionners", actionners),
    outputs: new Registry("outputs", outputs),
    notifiers: new Registry("notifiers", notifiers),
    contexts: new Registry("contexts", contexts),
  };
}
