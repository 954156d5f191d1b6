// Which clients a configuration and a rules set need, from what each plugin in use declares (`needs`). The app
// creates exactly these clients and `rules check` checks exactly their settings, so a new plugin that talks
// to the cluster gets its client by saying so, without a list elsewhere to update.
import type { Config } from "../config/schema.ts";
import type { Registries } from "../plugins/registry.ts";
import type { ClientNeed, PluginInfo } from "../plugins/types.ts";
import type { RuleSet } from "./types.ts";

/**
 * The needs of the rules' actionners and outputs, of the contexts their actions ask for, and of the notifiers
 * in use (the configuration's defaults and those the rules name). A name no registry knows adds nothing: the
 * rules check reports it.
 */
export function clientNeeds(config: Pick<Config, "default_notifiers">, ruleSet: RuleSet, registries: Registries): ReadonlySet<ClientNeed> {
  const needs = new Set<ClientNeed>();
  const add = (plugin: PluginInfo | undefined) => {
    for (const need of plugin?.needs ?? []) needs.add(need);
  };
  for (const rule of ruleSet.rules) {
    for (const action of rule.actions) {
      add(action.actionner);
      add(action.output?.plugin);
      for (const name of action.additionalContexts) add(registries.contexts.get(name));
    }
  }
  for (const name of new Set([...config.default_notifiers, ...ruleSet.notifierNames])) add(registries.notifiers.get(name));
  return needs;
}

/** What of AWS is used, as the AWS clients' prepare() takes it; undefined when nothing is. */
export function awsUses(
  needs: ReadonlySet<ClientNeed>,
): { readonly aws: boolean; readonly minio: boolean; readonly metadata: boolean } | undefined {
  const uses = { aws: needs.has("aws"), minio: needs.has("minio"), metadata: needs.has("aws-metadata") };
  return uses.aws || uses.minio || uses.metadata ? uses : undefined;
}
