// The additional contexts an action can ask for (`additional_contexts: [...]`): one file each.

import type { ContextProvider } from "../plugins/types.ts";
import aws from "./aws.ts";
import k8snode from "./k8snode.ts";

export const contexts: readonly ContextProvider[] = [k8snode, aws];
