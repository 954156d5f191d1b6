// The additional contexts an action can ask for (`additional_contexts: [...]`): one file each.
import type { ContextProvider } from "../plugins/types.ts";

export const contexts: readonly ContextProvider[] = [];
