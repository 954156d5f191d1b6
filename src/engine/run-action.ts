// Runs one action of one matched rule for one event: context → templating → preflight → run (with a
// deadline) → artifact to its output → notifications. Every outcome is reported to the observer and the
// notifiers with its true status; nothing here throws.

import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { untilAborted } from "../abort.ts";
import type { Clients } from "../clients/index.ts";
import { errorMessage, KestrelError } from "../errors.ts";
import type { FalcoEvent } from "../events/event.ts";
import type { Registry } from "../plugins/registry.ts";
import type { ActionResult, ActionRun, ActionStatus, Artifact, ContextProvider, Notification } from "../plugins/types.ts";
import type { CompiledAction, CompiledRule } from "../rules/types.ts";
import { actionVariables } from "../template/action-variables.ts";
import type { Variables } from "../template/template.ts";
import type { Notifications } from "./notify.ts";
import type { EngineObserver } from "./observer.ts";

export interface RunEnvironment {
  readonly clients: Clients;
  readonly contexts: Registry<ContextProvider>;
  readonly notifications: Notifications;
  readonly observer: EngineObserver;
  readonly log: Logger;
  readonly actionTimeoutMs: number;
  /** Aborted at shutdown once the drain deadline has passed. */
  readonly shutdown: AbortSignal;
}

export interface RunInput {
  readonly event: FalcoEvent;
  readonly traceId: string;
  /** performance.now() when the event was received. */
  readonly receivedAt: number;
}

/** Inline artifacts larger than this are not copied into notifications. */
const INLINE_ARTIFACT_LIMIT = 64 * 1024;

/** Runs the action of a rule that is not a dry run (those go to reportDryRun); resolves to true when it failed. */
export async function runAction(env: RunEnvironment, input: RunInput, rule: CompiledRule, action: CompiledAction): Promise<boolean> {
  const started = performance.now();
  env.observer.actionDispatched(input.event, input.traceId, rule, action, (started - input.receivedAt) / 1000);
  const finish = (status: ActionStatus, summary: string, objects: Readonly<Record<string, string>>, error?: unknown): void => {
    env.observer.actionFinished({
      event: input.event,
      traceId: input.traceId,
      rule,
      action,
      status,
      summary,
      objects,
      error,
      durationSeconds: (performance.now() - started) / 1000,
    });
  };

  const deadline = AbortSignal.timeout(env.actionTimeoutMs);
  const signal = AbortSignal.any([deadline, env.shutdown]);
  let result: ActionResult;
  try {
    const ctx = await prepareRun(env, input, action, signal);
    const { actionner } = action;
    const state = actionner.preflight === undefined ? undefined : await withDeadline(actionner.preflight(ctx), signal, env.actionTimeoutMs);
    result = await withDeadline(actionner.run(ctx, state), signal, env.actionTimeoutMs);
  } catch (err) {
    finish("failure", "", {}, err);
    notify(env, input, rule, action, { kind: "action", status: "failure", summary: "", objects: {}, error: errorMessage(err) });
    return true;
  }

  const status = result.status ?? "success";
  const objects = result.objects ?? {};
  let summary = result.summary;
  if (result.artifact !== undefined && action.output === undefined) {
    // Talon's behaviour: without an output target, a (small) artifact such as pod logs goes into the result.
    const inline = (await inlineArtifact(result.artifact)).trimEnd();
    if (inline !== "") summary = `${summary}\n${inline}`;
  }
  finish(status, summary, objects);
  notify(env, input, rule, action, { kind: "action", status, summary, objects });

  if (result.artifact !== undefined && action.output !== undefined) {
    return !(await writeArtifact(env, input, rule, action, result.artifact, objects, signal));
  }
  return false;
}

/**
 * A dry run: nothing runs, the observer hears that the action was dispatched and not executed. Synchronous,
 * so that the engine reports the actions of a dry-run rule without a promise per action. Returns false (not
 * a failure).
 */
export function reportDryRun(env: RunEnvironment, input: RunInput, rule: CompiledRule, action: CompiledAction): false {
  const started = performance.now();
  env.observer.actionDispatched(input.event, input.traceId, rule, action, (started - input.receivedAt) / 1000);
  env.observer.actionFinished({
    event: input.event,
    traceId: input.traceId,
    rule,
    action,
    status: "dry_run",
    summary: "dry run: the action was not executed",
    objects: NO_OBJECTS,
    error: undefined,
    durationSeconds: 0, // nothing ran
  });
  return false;
}

const NO_OBJECTS: Readonly<Record<string, string>> = Object.freeze({});
const NO_VARIABLES: Variables = new Map();

async function prepareRun(env: RunEnvironment, input: RunInput, action: CompiledAction, signal: AbortSignal): Promise<ActionRun> {
  let contextValues = action.staticContext;
  if (action.additionalContexts.length > 0) {
    const gathered: Record<string, string> = { ...contextValues };
    for (const name of action.additionalContexts) {
      const provider = env.contexts.get(name);
      if (provider === undefined) throw new KestrelError("ERR_CONTEXT", `unknown context "${name}"`);
      const started = performance.now();
      try {
        Object.assign(gathered, await provider.gather(input.event, { clients: env.clients, log: env.log, signal }));
        env.observer.contextGathered?.(input.event, input.traceId, action, name, (performance.now() - started) / 1000);
      } catch (err) {
        env.observer.contextGathered?.(input.event, input.traceId, action, name, (performance.now() - started) / 1000, err);
        throw new KestrelError("ERR_CONTEXT", `context "${name}": ${errorMessage(err)}`, { cause: err });
      }
    }
    contextValues = gathered;
  }
  let params = action.params.raw;
  let variables: Variables = NO_VARIABLES;
  if (action.params.hasTemplates) {
    variables = actionVariables(input.event, contextValues, input.traceId);
    const { verbatim } = action.actionner;
    params = action.params.render(variables, verbatim === undefined ? undefined : (path) => verbatim(path, action.params.raw));
  }
  return {
    event: input.event,
    params,
    variables,
    contextValues,
    clients: env.clients,
    log: env.log.child({ trace_id: input.traceId, action: action.name, actionner: action.actionnerName }),
    signal,
    traceId: input.traceId,
  };
}

/** Rejects when the signal aborts, even if the plugin ignores its signal. */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  return untilAborted(work, signal, (s) => abortError(s, timeoutMs));
}

function abortError(signal: AbortSignal, timeoutMs: number): KestrelError {
  const reason = signal.reason as { name?: string } | undefined;
  if (reason?.name === "TimeoutError") return new KestrelError("ERR_TIMEOUT", `the action did not finish within ${timeoutMs / 1000} s`);
  return new KestrelError("ERR_SHUTTING_DOWN", "the action was cancelled: the server is shutting down");
}

async function writeArtifact(
  env: RunEnvironment,
  input: RunInput,
  rule: CompiledRule,
  action: CompiledAction,
  artifact: Artifact,
  objects: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<boolean> {
  const out = action.output!;
  const base = { event: input.event, traceId: input.traceId, rule, action, target: out.target };
  try {
    const params = out.params.hasTemplates
      ? out.params.render(actionVariables(input.event, action.staticContext, input.traceId))
      : out.params.raw;
    const ctx = { event: input.event, params, objects, clients: env.clients, log: env.log, signal, traceId: input.traceId };
    const res = await withDeadline(out.plugin.write(artifact, ctx), signal, env.actionTimeoutMs);
    env.observer.outputFinished({ ...base, status: "success", location: res.location });
    notify(env, input, rule, action, {
      kind: "output",
      status: "success",
      target: out.target,
      summary: res.summary,
      objects: { ...objects, ...res.objects },
      location: res.location,
    });
    return true;
  } catch (err) {
    env.observer.outputFinished({ ...base, status: "failure", error: err });
    notify(env, input, rule, action, {
      kind: "output",
      status: "failure",
      target: out.target,
      summary: "",
      objects,
      error: errorMessage(err),
    });
    return false;
  }
}

async function inlineArtifact(artifact: Artifact): Promise<string> {
  const { data } = artifact;
  if (typeof data === "string") return data.slice(0, INLINE_ARTIFACT_LIMIT);
  if (data instanceof Uint8Array) return Buffer.from(data.subarray(0, INLINE_ARTIFACT_LIMIT)).toString("utf8");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of data) {
    if (size < INLINE_ARTIFACT_LIMIT) chunks.push(chunk.subarray(0, INLINE_ARTIFACT_LIMIT - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

type NotificationFields = Pick<Notification, "kind" | "status" | "summary" | "objects"> &
  Partial<Pick<Notification, "error" | "target" | "location">>;

function notify(env: RunEnvironment, input: RunInput, rule: CompiledRule, action: CompiledAction, fields: NotificationFields): void {
  env.notifications.notify(rule.notifiers, {
    ...fields,
    rule: rule.name,
    action: action.name,
    actionner: action.actionnerName,
    event: input.event,
    traceId: input.traceId,
    time: new Date(),
  });
}
