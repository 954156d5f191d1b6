// What the engine's tests and the tracing tests share: rules and actions compiled by hand (no rules file, no
// compiler), so that only the engine and its observers are under test, around test actionners whose
// definition is neutral but for what each test gives, and a recording notifier.
import { defineActionner } from "../../plugins/define.ts";
import type { Actionner, Notification, ParamsSchema } from "../../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../../rules/types.ts";
import { compileParams } from "../../template/template.ts";
import { Notifications } from "../notify.ts";
import type { EngineObserver } from "../observer.ts";

type TestActionnerParts<P extends ParamsSchema> = Pick<Actionner<P, void>, "params" | "run"> &
  Partial<Pick<Actionner<P, void>, "continueByDefault" | "artifact" | "preflight">>;

/** An actionner of category "test": continues by default, stores no artifact, unless `parts` says otherwise. */
export function testActionner<P extends ParamsSchema>(name: string, parts: TestActionnerParts<P>): Actionner {
  return defineActionner<P, void>({
    category: "test",
    name,
    needs: [],
    description: name,
    source: "any",
    requiredFields: [],
    continueByDefault: true,
    artifact: "none",
    example: "",
    ...parts,
  });
}

/** An action of `actionner`, named "<actionner> action", without parameters, output or contexts unless `parts` gives them. */
export function testAction(actionner: Actionner, parts: Partial<CompiledAction> = {}): CompiledAction {
  return {
    spec: {} as CompiledAction["spec"],
    name: `${actionner.name} action`,
    actionnerName: `test:${actionner.name}`,
    actionner,
    params: compileParams({}),
    output: undefined,
    continueAfter: actionner.continueByDefault,
    ignoreErrors: false,
    additionalContexts: [],
    staticContext: {},
    ...parts,
  };
}

/** A rule that matches every event and notifies "recorder". */
export function testRule(name: string, actions: CompiledAction[], options: { stop?: boolean; dryRun?: boolean } = {}): CompiledRule {
  return {
    spec: {} as CompiledRule["spec"],
    name,
    index: 0,
    stopAfter: options.stop ?? false,
    dryRun: options.dryRun ?? false,
    notifiers: ["recorder"],
    actions,
    matches: () => true,
  };
}

/** The notifications of the one notifier "recorder" (testRule's), which keeps what it is sent in `sent`. */
export function recordingNotifications(observer: EngineObserver, sent: Notification[]): Notifications {
  return new Notifications({ instances: new Map([["recorder", { send: async (n) => void sent.push(n) }]]), defaults: [], observer });
}
