// An in-memory KubeApi for unit tests of plugins: pods, nodes, controllers and objects are plain maps, every
// call is recorded (op and arguments), a missing object answers ERR_TARGET_GONE as the real client does,
// and failNext makes an operation throw. It does not retry and does not speak HTTP: what the wire looks
// like (patch content types, retries, the exec protocol) is tested against the Kubernetes API test server.
import type { CoreV1Event, V1Job, V1Node, V1Pod } from "@kubernetes/client-node";
import pino from "pino";
import { createClients } from "../../src/clients/index.ts";
import type {
  CallOptions,
  Controller,
  ControllerState,
  ExecRequest,
  ExecResult,
  KubeApi,
  Metadata,
  MetadataTarget,
  ObjectRef,
  Resource,
  UpsertRequest,
} from "../../src/clients/kubernetes/api.ts";
import { KestrelError } from "../../src/errors.ts";
import { parseEvent } from "../../src/events/parse.ts";
import type { PodTarget } from "../../src/events/target.ts";
import type { Actionner, ActionRun, ParamsSchema } from "../../src/plugins/types.ts";
import { falcoEvent } from "./events.ts";

export interface Call {
  readonly op: keyof KubeApi;
  readonly args: readonly unknown[];
}

type Operation = Exclude<keyof KubeApi, never>;

function gone(what: string): KestrelError {
  return new KestrelError("ERR_TARGET_GONE", `cannot ${what}: not found`);
}

const podKey = (t: PodTarget): string => `${t.namespace}/${t.pod}`;
const resourceKey = (r: Resource, namespace: string, name: string): string => `${r.group}/${r.version}/${r.plural}/${namespace}/${name}`;

export class FakeKube implements KubeApi {
  readonly pods = new Map<string, V1Pod>();
  readonly nodes = new Map<string, V1Node>();
  /** By `<kind>/<namespace>/<name>`. */
  readonly controllers = new Map<string, ControllerState>();
  /** Objects of readObject/deleteObject, by `<resource>/<namespace>/<name>` (`<resource>//<name>` when cluster-scoped). */
  readonly objects = new Set<string>();
  /** Objects written by upsert, by `<group>/<version>/<plural>/<namespace>/<name>`. */
  readonly stored = new Map<string, { metadata?: Metadata }>();
  /** The resources servesResource answers true for (`<group>/<version>/<plural>`). */
  readonly served = new Set<string>();
  readonly jobs: V1Job[] = [];
  readonly events: { namespace: string; event: CoreV1Event }[] = [];
  readonly calls: Call[] = [];
  /** What exec and stream run; by default every command succeeds without output. */
  onExec: (request: ExecRequest) => ExecResult | Promise<ExecResult> = () => ({ exitCode: 0, stdout: Buffer.alloc(0), stderr: "" });
  readonly #failures = new Map<Operation, KestrelError[]>();
  #version = 0;

  /** The next `times` calls of `op` throw `error`. */
  failNext(op: Operation, error: KestrelError, times = 1): void {
    const queue = this.#failures.get(op) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.#failures.set(op, queue);
  }

  addPod(pod: V1Pod): this {
    this.pods.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod);
    return this;
  }

  addNode(name: string, node: V1Node = {}): this {
    this.nodes.set(name, { ...node, metadata: { ...node.metadata, name } });
    return this;
  }

  addController(c: Controller, state: Partial<ControllerState>): this {
    this.controllers.set(`${c.kind}/${c.namespace}/${c.name}`, {
      selector: undefined,
      replicas: undefined,
      readyReplicas: undefined,
      ...state,
    });
    return this;
  }

  /** The calls of one operation, in order. */
  callsOf(op: Operation): (readonly unknown[])[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  #call(op: Operation, ...args: unknown[]): void {
    this.calls.push({ op, args });
    const failure = this.#failures.get(op)?.shift();
    if (failure !== undefined) throw failure;
  }

  async readPod(target: PodTarget, _o: CallOptions): Promise<V1Pod> {
    this.#call("readPod", target);
    const pod = this.pods.get(podKey(target));
    if (pod === undefined) throw gone(`read the pod '${target.pod}' in the namespace '${target.namespace}'`);
    return structuredClone(pod);
  }

  async listPods(where: { node: string } | { namespace: string; labelSelector: string }, _o: CallOptions): Promise<V1Pod[]> {
    this.#call("listPods", where);
    const all = [...this.pods.values()];
    if ("node" in where) return all.filter((p) => p.spec?.nodeName === where.node);
    const [key, value] = where.labelSelector.split("=");
    return all.filter((p) => p.metadata?.namespace === where.namespace && p.metadata?.labels?.[key!] === value);
  }

  async terminatePod(target: PodTarget, gracePeriodSeconds: number, _o: CallOptions): Promise<void> {
    this.#call("terminatePod", target, gracePeriodSeconds);
    if (!this.pods.delete(podKey(target))) throw gone(`terminate the pod '${target.pod}' in the namespace '${target.namespace}'`);
  }

  async evict(target: PodTarget, _o: CallOptions): Promise<void> {
    this.#call("evict", target);
    if (!this.pods.delete(podKey(target))) throw gone(`evict the pod '${target.pod}' in the namespace '${target.namespace}'`);
  }

  async podLog(target: PodTarget, container: string, tail: { lines: number; limitBytes: number }, _o: CallOptions): Promise<string> {
    this.#call("podLog", target, container, tail);
    await this.readPod(target, _o);
    return "";
  }

  async addEphemeralContainer(target: PodTarget, container: object, _o: CallOptions): Promise<void> {
    this.#call("addEphemeralContainer", target, container);
  }

  async readNode(name: string, _o: CallOptions): Promise<V1Node> {
    this.#call("readNode", name);
    const node = this.nodes.get(name);
    if (node === undefined) throw gone(`read the node '${name}'`);
    return structuredClone(node);
  }

  async cordon(node: string, _o: CallOptions): Promise<void> {
    this.#call("cordon", node);
    const n = this.nodes.get(node);
    if (n === undefined) throw gone(`cordon the node '${node}'`);
    n.spec = { ...n.spec, unschedulable: true };
  }

  async patchMetadata(
    target: MetadataTarget,
    field: "labels" | "annotations",
    values: Readonly<Record<string, string | null>>,
    _o: CallOptions,
  ): Promise<void> {
    this.#call("patchMetadata", target, field, values);
    const object = "node" in target ? this.nodes.get(target.node) : this.pods.get(podKey(target.pod));
    if (object === undefined) throw gone(`patch ${"node" in target ? `the node '${target.node}'` : `the pod '${target.pod.pod}'`}`);
    const entries: Record<string, string> = { ...object.metadata?.[field] };
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete entries[k];
      else entries[k] = v;
    }
    object.metadata = { ...object.metadata, [field]: entries };
  }

  async readController(c: Controller, _o: CallOptions): Promise<ControllerState> {
    this.#call("readController", c);
    const state = this.controllers.get(`${c.kind}/${c.namespace}/${c.name}`);
    if (state === undefined) throw gone(`read the ${c.kind} '${c.name}' in the namespace '${c.namespace}'`);
    return state;
  }

  async readObject(ref: ObjectRef, _o: CallOptions): Promise<void> {
    this.#call("readObject", ref);
    if (!this.objects.has(`${ref.resource}/${ref.namespace ?? ""}/${ref.name}`)) throw gone(`read the ${ref.resource} '${ref.name}'`);
  }

  async deleteObject(ref: ObjectRef, _o: CallOptions): Promise<void> {
    this.#call("deleteObject", ref);
    if (!this.objects.delete(`${ref.resource}/${ref.namespace ?? ""}/${ref.name}`)) throw gone(`delete the ${ref.resource} '${ref.name}'`);
  }

  async upsert<T extends { metadata?: Metadata }>(request: UpsertRequest<T>, _o: CallOptions): Promise<"created" | "updated"> {
    this.#call("upsert", request);
    const key = resourceKey(request.resource, request.namespace, request.name);
    const existing = this.stored.get(key) as T | undefined;
    const body = request.build(existing === undefined ? undefined : structuredClone(existing));
    const old = existing?.metadata ?? {};
    body.metadata = { ...body.metadata, labels: { ...old.labels, ...body.metadata?.labels }, resourceVersion: String(++this.#version) };
    this.stored.set(key, body);
    return existing === undefined ? "created" : "updated";
  }

  async servesResource(resource: Resource, _o: CallOptions): Promise<boolean> {
    this.#call("servesResource", resource);
    return this.served.has(`${resource.group}/${resource.version}/${resource.plural}`);
  }

  async createJob(job: V1Job, _o: CallOptions): Promise<void> {
    this.#call("createJob", job);
    this.jobs.push(job);
  }

  async deleteJob(namespace: string, name: string, _o: CallOptions): Promise<void> {
    this.#call("deleteJob", namespace, name);
  }

  async createEvent(namespace: string, event: CoreV1Event, _o: CallOptions): Promise<void> {
    this.#call("createEvent", namespace, event);
    this.events.push({ namespace, event });
  }

  async exec(request: ExecRequest & { maxOutputBytes?: number }): Promise<ExecResult> {
    this.#call("exec", request);
    return this.onExec(request);
  }

  async stream(request: ExecRequest & { okExitCodes?: readonly number[] }): Promise<AsyncIterableIterator<Uint8Array>> {
    this.#call("stream", request);
    const res = await this.onExec(request);
    if (!(request.okExitCodes ?? [0]).includes(res.exitCode)) {
      throw new KestrelError("ERR_ACTION", `${request.label} exited with code ${res.exitCode}: ${res.stderr}`);
    }
    return (async function* () {
      if (res.stdout.length > 0) yield res.stdout;
    })();
  }
}

/** A pod as the API answers it: scheduled on `node`, running, its containers ready. */
export function fakePod(o: {
  name: string;
  namespace: string;
  node?: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string };
  containers?: string[];
  ready?: boolean;
}): V1Pod {
  const containers = o.containers ?? ["app"];
  return {
    metadata: {
      name: o.name,
      namespace: o.namespace,
      uid: `uid-${o.namespace}-${o.name}`,
      ...(o.labels === undefined ? {} : { labels: o.labels }),
      ...(o.owner === undefined ? {} : { ownerReferences: [{ apiVersion: "apps/v1", controller: true, uid: "u", ...o.owner }] }),
    },
    spec: { nodeName: o.node ?? "node-1", containers: containers.map((name) => ({ name })) },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }],
      containerStatuses: containers.map((name) => ({
        name,
        image: "x",
        imageID: "x",
        ready: true,
        restartCount: 0,
        state: { running: {} },
      })),
    },
  };
}

/**
 * The context an action of `actionner` gets for an event with `fields`, its `params` validated by the
 * actionner's schema, the Kubernetes client being `kube`.
 */
export function fakeActionRun<P extends ParamsSchema, S>(
  actionner: Actionner<P, S>,
  kube: KubeApi,
  params: Record<string, unknown> = {},
  fields: Record<string, unknown> = {},
): ActionRun<P> {
  return {
    event: parseEvent(falcoEvent({ fields })).event,
    params: actionner.params.parse(params),
    variables: new Map(),
    contextValues: {},
    clients: createClients({ kubernetes: kube }),
    log: pino({ level: "silent" }),
    signal: AbortSignal.timeout(10_000),
    traceId: "trace",
  };
}

/** preflight, then run with what preflight found: what the engine does for one action. */
export async function runAction<P extends ParamsSchema, S>(actionner: Actionner<P, S>, ctx: ActionRun<P>) {
  const state = (await actionner.preflight?.(ctx)) as S;
  return actionner.run(ctx, state);
}
