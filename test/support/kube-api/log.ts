// pods/log: container logs that tests append to, served as text/plain with the kubelet's options
// (tailLines, sinceSeconds/sinceTime, timestamps, limitBytes) and, with follow=true, a chunked stream
// that carries lines appended later until the client goes away, the test ends the log, or the pod is deleted.
import type { ServerResponse } from "node:http";
import { badRequest } from "./status.ts";
import type { KubeObject } from "./types.ts";

interface Entry {
  time: Date;
  /** RFC 3339 with nanoseconds and trailing zeros trimmed, as Go's time.RFC3339Nano prints. */
  stamp: string;
  line: string;
}

interface Follower {
  write(entry: Entry): void;
  end(): void;
}

function rfc3339Nano(date: Date): string {
  const sub = String(process.hrtime.bigint() % 1_000_000n).padStart(6, "0");
  const iso = date.toISOString();
  const frac = `${iso.slice(20, 23)}${sub}`.replace(/0+$/, "");
  return `${iso.slice(0, 19)}${frac === "" ? "" : `.${frac}`}Z`;
}

/** The names of a pod's containers: regular, init and ephemeral (all of them have logs). */
export function containerNames(pod: KubeObject): { regular: string[]; all: string[] } {
  const names = (list: unknown) => (Array.isArray(list) ? list.map((c: { name?: string }) => c.name ?? "") : []);
  const regular = names(pod.spec?.containers);
  return { regular, all: [...regular, ...names(pod.spec?.initContainers), ...names(pod.spec?.ephemeralContainers)] };
}

/** The container a log/exec request means: the named one, or the only one; 400 otherwise (kube's wording). */
export function resolveContainer(pod: KubeObject, requested: string | null): string {
  const { regular, all } = containerNames(pod);
  const name = pod.metadata.name!;
  if (!requested) {
    if (regular.length === 1) return regular[0]!;
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${regular.join(" ")}]`);
  }
  if (!all.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
  return requested;
}

export class Logs {
  private readonly entries = new Map<string, Entry[]>();
  private readonly followers = new Map<string, Set<Follower>>();

  private static key(namespace: string, pod: string, container: string): string {
    return `${namespace}/${pod}/${container}`;
  }

  append(namespace: string, pod: string, container: string, line: string, time = new Date()): void {
    const k = Logs.key(namespace, pod, container);
    const entry = { time, stamp: rfc3339Nano(time), line: line.replace(/\n$/, "") };
    let list = this.entries.get(k);
    if (list === undefined) {
      list = [];
      this.entries.set(k, list);
    }
    list.push(entry);
    for (const f of [...(this.followers.get(k) ?? [])]) f.write(entry);
  }

  lines(namespace: string, pod: string, container: string): string[] {
    return (this.entries.get(Logs.key(namespace, pod, container)) ?? []).map((e) => e.line);
  }

  /** Ends the follow streams of one container, as its termination would. */
  end(namespace: string, pod: string, container: string): void {
    for (const f of [...(this.followers.get(Logs.key(namespace, pod, container)) ?? [])]) f.end();
  }

  /** The pod is gone: its follow streams end and its logs go with it. */
  removePod(namespace: string, pod: string): void {
    const prefix = `${namespace}/${pod}/`;
    for (const [k, set] of [...this.followers]) if (k.startsWith(prefix)) for (const f of [...set]) f.end();
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  closeAll(): void {
    for (const set of [...this.followers.values()]) for (const f of [...set]) f.end();
  }

  get followerCount(): number {
    let n = 0;
    for (const set of this.followers.values()) n += set.size;
    return n;
  }

  /** Throws ApiError before writing anything when the request is invalid. */
  serve(res: ServerResponse, pod: KubeObject, query: URLSearchParams): void {
    const namespace = pod.metadata.namespace!;
    const podName = pod.metadata.name!;
    const container = resolveContainer(pod, query.get("container"));
    if (query.get("previous") === "true") throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
    if (pod.status?.phase === "Pending" || !pod.spec?.nodeName)
      throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ContainerCreating`);
    const intParam = (name: string, min: number): number | undefined => {
      const raw = query.get(name);
      if (raw === null) return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min)
        throw badRequest(`PodLogOptions "${podName}" is invalid: ${name}: Invalid value: ${raw}: must be greater than or equal to ${min}`);
      return n;
    };
    const tail = intParam("tailLines", 0);
    const limitBytes = intParam("limitBytes", 1);
    const sinceSeconds = intParam("sinceSeconds", 1);
    const sinceTimeRaw = query.get("sinceTime");
    const since = sinceSeconds !== undefined ? Date.now() - sinceSeconds * 1000 : sinceTimeRaw ? Date.parse(sinceTimeRaw) : undefined;
    const timestamps = query.get("timestamps") === "true";
    const follow = query.get("follow") === "true";
    const format = (e: Entry) => (timestamps ? `${e.stamp} ${e.line}\n` : `${e.line}\n`);

    let selected = (this.entries.get(Logs.key(namespace, podName, container)) ?? []).filter(
      (e) => since === undefined || e.time.getTime() >= since,
    );
    if (tail !== undefined) selected = tail === 0 ? [] : selected.slice(-tail);
    let budget = limitBytes ?? Number.POSITIVE_INFINITY;
    // Returns false once limitBytes is used up (the stream then ends, as the kubelet's does).
    const emit = (text: string): boolean => {
      const bytes = Buffer.from(text, "utf8");
      const chunk = bytes.length > budget ? bytes.subarray(0, budget) : bytes;
      budget -= chunk.length;
      if (chunk.length > 0 && !res.destroyed) res.write(chunk);
      return budget > 0;
    };
    res.writeHead(200, { "content-type": "text/plain" });
    let open = true;
    for (const e of selected) {
      if (!emit(format(e))) {
        open = false;
        break;
      }
    }
    if (!follow || !open) {
      res.end();
      return;
    }
    res.flushHeaders();
    const k = Logs.key(namespace, podName, container);
    let set = this.followers.get(k);
    if (set === undefined) {
      set = new Set();
      this.followers.set(k, set);
    }
    const followers = set;
    const follower: Follower = {
      write: (e) => {
        if (!emit(format(e))) follower.end();
      },
      end: () => {
        followers.delete(follower);
        if (!res.writableEnded) res.end();
      },
    };
    followers.add(follower);
    res.on("close", () => followers.delete(follower));
  }
}
