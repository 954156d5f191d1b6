// The additional contexts an action can ask for (`additional_contexts: [...]`): one file each.
import k8snode from "./k8snode.ts";
import aws from "./aws.ts";
import type { ContextProvider } from "../plugins/types.ts";

export const contexts: readonly ContextProvider[] = [k8snode as ContextProvider, aws as ContextProvider];
