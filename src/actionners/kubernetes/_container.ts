// Which container of the event's pod an exec, script, log, download or capture acts on. Talon runs exec and
// script in every container in turn; Kestrel acts in ONE container: the `container` parameter when set
// (it must exist), else the container the event came from (the pod container named like the event's
// k8s.container.name or container.name), else the pod's first container. The pod is read once per action
// run: preflight returns what it found (podContainerOf) and run receives it.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { kubernetesOf } from "../../clients/index.ts";
import type { KubeApi, V1ContainerState, V1EphemeralContainer, V1Pod } from "../../clients/kubernetes/api.ts";
import { KestrelError } from "../../errors.ts";
import type { FalcoEvent } from "../../events/event.ts";
import { firstField } from "../../events/fields.ts";
import { POD_REQUIRED_FIELDS, type PodTarget, podTargetOf } from "../../events/target.ts";
import type { Actionner, ActionResult, ActionRun } from "../../plugins/types.ts";
import { compileShellScript, isShell } from "../../template/shell.ts";

/** Event fields naming the container the event came from, in order. */
export const CONTAINER_NAME_FIELDS = ["k8s.container.name", "container.name"] as const;

/** The `container` parameter shared by exec, script, log and download. */
export const containerParam = z
  .string()
  .optional()
  .describe(
    "container to act in; default: the container of the event (k8s.container.name, container.name), else the pod's first container",
  );

export interface PodContainer {
  readonly kube: KubeApi;
  readonly target: PodTarget;
  readonly pod: V1Pod;
  readonly container: string;
}

export interface ContainerChoice {
  /** The `container` parameter; empty or undefined to choose from the event. */
  readonly requested?: string | undefined;
  /** Exec needs a running container; logs can be read from a stopped one. */
  readonly mustRun: boolean;
}

/**
 * The event's pod (which must exist) and the container to act in: the preflight of the actionners that act
 * in a container. Throws ERR_TARGET_GONE when the pod is gone and ERR_PREFLIGHT when the container does not
 * exist or is not running.
 */
export async function podContainerOf(ctx: Pick<ActionRun, "clients" | "event" | "signal">, choice: ContainerChoice): Promise<PodContainer> {
  const kube = kubernetesOf(ctx.clients);
  const target = podTargetOf(ctx.event);
  const pod = await kube.readPod(target, { signal: ctx.signal });
  const container = chooseContainer(pod, target, ctx.event, choice.requested);
  if (choice.mustRun) checkRunning(pod, target, container);
  return { kube, target, pod, container };
}

/** The preflight of exec, script and download: the container the `container` parameter chooses, which must run. */
export function runningContainer(
  ctx: Pick<ActionRun, "clients" | "event" | "signal"> & { readonly params: { readonly container?: string | undefined } },
): Promise<PodContainer> {
  return podContainerOf(ctx, { requested: ctx.params.container, mustRun: true });
}

function podText(target: PodTarget): string {
  return `the pod '${target.pod}' in the namespace '${target.namespace}'`;
}

export function chooseContainer(pod: V1Pod, target: PodTarget, event: FalcoEvent, requested: string | undefined): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  if (requested !== undefined && requested !== "") {
    if (names.includes(requested)) return requested;
    throw new KestrelError(
      "ERR_PREFLIGHT",
      `${podText(target)} has no container '${requested}' (its containers: ${names.join(", ") || "none"})`,
    );
  }
  const fromEvent = firstField(event, CONTAINER_NAME_FIELDS);
  if (fromEvent !== undefined && names.includes(fromEvent)) return fromEvent;
  const first = names[0];
  if (first === undefined) throw new KestrelError("ERR_PREFLIGHT", `${podText(target)} has no containers`);
  return first;
}

/** Fails when the pod's status says the container is waiting or terminated (an exec would fail). */
function checkRunning(pod: V1Pod, target: PodTarget, container: string): void {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") {
    throw new KestrelError("ERR_PREFLIGHT", `${podText(target)} has finished (phase ${phase}): nothing runs in it any more`);
  }
  if (phase === "Pending" || !pod.spec?.nodeName) {
    throw new KestrelError("ERR_PREFLIGHT", `${podText(target)} is not running yet (phase ${phase ?? "unknown"})`);
  }
  const state = pod.status?.containerStatuses?.find((s) => s.name === container)?.state;
  if (state === undefined || state.running !== undefined) return;
  const why =
    state.waiting?.reason ??
    (state.terminated !== undefined ? `terminated: ${state.terminated.reason ?? `exit code ${state.terminated.exitCode}`}` : undefined);
  if (why !== undefined) {
    throw new KestrelError("ERR_PREFLIGHT", `the container '${container}' of ${podText(target)} is not running (${why})`);
  }
}

/** What kubernetes:exec and :script declare alike: a shell run in one container of the event's pod. */
export const SHELL_ACTIONNER = {
  needs: ["kubernetes"],
  notes: {
    behaviour: "Runs it with `shell` in one container (`container`: default the event's container, else the first).",
    talon:
      "one container (Talon ran it in every container); the exit code decides success; event values are positional parameters, never script text",
  },
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "optional",
  permissions: "/pods: get\n/pods/exec: create, get",
} as const satisfies Partial<Actionner>;

/** Stdout of kubernetes:exec and :script kept for the result; the rest is cut. */
const MAX_SHELL_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs a shell (`command`, with `stdin` for a script) in the chosen container and turns the outcome into the
 * action's result: a non-zero exit is a failure carrying the end of stderr; stdout, ANSI codes stripped as
 * Talon does, becomes the artifact `artifactName` when not empty. `what` names it ("the command").
 */
export async function runShellAction(
  placement: PodContainer,
  run: { command: readonly string[]; stdin?: string; what: string; artifactName: string; signal: AbortSignal },
): Promise<ActionResult> {
  const { kube, target, container } = placement;
  const where = `the container '${container}' of the pod '${target.pod}' in the namespace '${target.namespace}'`;
  const res = await kube.exec({
    namespace: target.namespace,
    pod: target.pod,
    container,
    command: run.command,
    ...(run.stdin === undefined ? {} : { stdin: run.stdin }),
    label: run.what,
    maxOutputBytes: MAX_SHELL_OUTPUT_BYTES,
    signal: run.signal,
  });
  if (res.exitCode !== 0) {
    const stderr = res.stderr.trim().slice(-1000);
    throw new KestrelError("ERR_ACTION", `${run.what} exited with code ${res.exitCode} in ${where}${stderr === "" ? "" : `: ${stderr}`}`);
  }
  const stdout = stripAnsi(res.stdout.toString("utf8"));
  return {
    summary: `${run.what} has been run in ${where}`,
    objects: { pod: target.pod, namespace: target.namespace, container },
    ...(stdout.trim() === "" ? {} : { artifact: { name: run.artifactName, contentType: "text/plain", data: stdout } }),
  };
}

/** Removes ANSI escape sequences (colours, cursor moves) from command output, as Talon does. */
export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, "");
}

/** `<prefix>-<5 random lowercase letters and digits>`, as Talon names its capture containers. */
export function randomName(prefix: string): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let suffix = "";
  for (const b of randomBytes(5)) suffix += alphabet[b % alphabet.length];
  return `${prefix}-${suffix}`;
}

/** Waiting reasons after which an ephemeral container will not start by itself. */
const STUCK = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerError",
  "CreateContainerConfigError",
  "RunContainerError",
]);

/**
 * Adds an ephemeral container to the pod (strategic merge patch of pods/ephemeralcontainers) and polls the
 * pod until it runs: every 100 ms at first, then every 300 ms as Talon, for at most `timeoutMs` (and never
 * beyond the action's deadline). An image that cannot be pulled fails at once with the kubelet's reason.
 */
export async function startEphemeralContainer(
  kube: KubeApi,
  target: PodTarget,
  container: V1EphemeralContainer,
  signal: AbortSignal,
  timeoutMs = 20_000,
): Promise<void> {
  const name = container.name;
  const where = `the ephemeral container '${name}' of ${podText(target)}`;
  await kube.addEphemeralContainer(target, container, { signal });
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const pod = await kube.readPod(target, { signal });
    const state = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === name)?.state;
    if (isRunning(state, where)) return;
    const waiting = state?.waiting;
    if (Date.now() >= deadline) {
      throw new KestrelError(
        "ERR_ACTION",
        `${where} was not running after ${timeoutMs / 1000} s${waiting?.reason ? ` (${waiting.reason})` : ""}`,
      );
    }
    await delay(attempt < 3 ? 100 : 300, signal);
  }
}

/** True once the container runs; throws when it stopped or cannot start (STUCK), false while it may still start. */
function isRunning(state: V1ContainerState | undefined, where: string): boolean {
  if (state?.running !== undefined) return true;
  const t = state?.terminated;
  if (t !== undefined) {
    const why = `${t.reason ?? `exit code ${t.exitCode}`}${t.message ? `: ${t.message}` : ""}`;
    throw new KestrelError("ERR_ACTION", `${where} stopped before it could be used (${why})`);
  }
  const waiting = state?.waiting;
  if (waiting?.reason !== undefined && STUCK.has(waiting.reason)) {
    throw new KestrelError("ERR_ACTION", `${where} cannot start (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""})`);
  }
  return false;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new KestrelError("ERR_TIMEOUT", "cancelled while waiting"));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new KestrelError("ERR_TIMEOUT", "cancelled while waiting"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * rules check problems of a kubernetes:exec or :script script run by `shell`: the shell is named literally
 * and, when the script uses ${VARS}, is a POSIX shell (their values arrive as its positional parameters).
 */
export function shellProblems(shell: string, script: string, parameter: string): string[] {
  if (shell.includes("${")) return ["shell: an event value must not choose the shell: write its path literally"];
  const { script: compiled, problems } = compileShellScript(script);
  if (compiled.variables.length > 0 && !isShell(shell)) {
    return [
      `shell: '${shell}' is not a POSIX shell (sh, bash, dash, ash, ksh, zsh…), so the values of ${parameter}'s \${VARS} cannot be passed to it as data`,
    ];
  }
  return problems.map((p) => `${parameter}: ${p}`);
}
