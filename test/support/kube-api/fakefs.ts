// Per-container state for exec: a file system (path → bytes, plus directories), the process table that
// `ps` prints and `kill` acts on, the environment from the pod spec, and commands the image lacks.
import type { KubeObject } from "./types.ts";

export interface Proc {
  pid: number;
  user: string;
  command: string;
  started: number;
  /** Aborting it is SIGTERM; undefined for the container's main process. */
  controller?: AbortController;
}

export function normalizePath(path: string, cwd = "/"): string {
  const abs = path.startsWith("/") ? path : `${cwd.replace(/\/$/, "")}/${path}`;
  const out: string[] = [];
  for (const seg of abs.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export class FakeFs {
  private readonly files = new Map<string, Uint8Array>();
  private readonly dirs = new Set<string>(["/"]);

  isFile(path: string): boolean {
    return this.files.has(path);
  }

  isDir(path: string): boolean {
    return this.dirs.has(path);
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  read(path: string): Uint8Array | undefined {
    return this.files.get(path);
  }

  /** Creates missing parent directories (test seeding). */
  put(path: string, data: Uint8Array): void {
    this.mkdirs(parentOf(path));
    this.files.set(path, data);
  }

  /** As a program writes: fails (returns an errno name) when the directory is missing or the path is one. */
  write(path: string, data: Uint8Array, append: boolean): "ENOENT" | "EISDIR" | undefined {
    if (this.dirs.has(path)) return "EISDIR";
    if (!this.dirs.has(parentOf(path))) return "ENOENT";
    const old = append ? this.files.get(path) : undefined;
    this.files.set(path, old === undefined ? data : Buffer.concat([old, data]));
    return undefined;
  }

  mkdirs(path: string): void {
    let cur = path;
    const missing: string[] = [];
    while (!this.dirs.has(cur)) {
      missing.push(cur);
      cur = parentOf(cur);
    }
    for (const d of missing) this.dirs.add(d);
  }

  mkdir(path: string): "EEXIST" | "ENOENT" | undefined {
    if (this.exists(path)) return "EEXIST";
    if (!this.dirs.has(parentOf(path))) return "ENOENT";
    this.dirs.add(path);
    return undefined;
  }

  /** Removes a file, or a directory with everything under it when `recursive`. */
  remove(path: string, recursive: boolean): "ENOENT" | "EISDIR" | undefined {
    if (this.files.delete(path)) return undefined;
    if (!this.dirs.has(path)) return "ENOENT";
    if (!recursive) return "EISDIR";
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const f of [...this.files.keys()]) if (f.startsWith(prefix)) this.files.delete(f);
    for (const d of [...this.dirs]) if (d.startsWith(prefix)) this.dirs.delete(d);
    if (path !== "/") this.dirs.delete(path);
    return undefined;
  }

  /** Names directly under a directory, sorted. */
  list(dir: string): string[] {
    const prefix = dir === "/" ? "/" : `${dir}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p !== dir && p.startsWith(prefix)) {
        const rest = p.slice(prefix.length);
        if (!rest.includes("/")) names.add(rest);
      }
    }
    return [...names].sort();
  }

  size(path: string): number {
    return this.files.get(path)?.length ?? 4096;
  }
}

const DEFAULT_DIRS = [
  "/bin",
  "/dev",
  "/etc",
  "/home",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/tmp",
  "/usr/bin",
  "/usr/local/bin",
  "/usr/sbin",
  "/var/log",
  "/var/run",
];

export class ContainerState {
  readonly fs = new FakeFs();
  readonly procs = new Map<number, Proc>();
  readonly env: Record<string, string>;
  /** Commands this image does not have (a distroless image has no `sh`). */
  readonly missing = new Set<string>();
  readonly hostname: string;
  /** Aborted when the container goes away; background jobs run until then. */
  readonly lifetime = new AbortController();
  private nextPid = 7;

  constructor(pod: KubeObject | undefined, podName: string, container: string) {
    this.hostname = podName;
    for (const d of DEFAULT_DIRS) this.fs.mkdirs(d);
    const enc = (s: string) => new TextEncoder().encode(s);
    this.fs.put("/etc/hostname", enc(`${podName}\n`));
    this.fs.put(
      "/etc/passwd",
      enc(
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      ),
    );
    this.fs.put("/etc/group", enc("root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"));
    this.fs.put("/etc/shadow", enc("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"));
    this.fs.put("/etc/hosts", enc(`127.0.0.1\tlocalhost\n${pod?.status?.podIP ?? "10.244.0.10"}\t${podName}\n`));
    this.fs.put(
      "/etc/os-release",
      enc('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'),
    );
    const spec = [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.ephemeralContainers ?? [])].find(
      (c: { name?: string }) => c.name === container,
    ) as { image?: string; command?: string[]; args?: string[]; env?: { name: string; value?: string }[] } | undefined;
    this.env = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOSTNAME: podName,
      HOME: "/root",
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    };
    for (const e of spec?.env ?? []) if (typeof e.value === "string") this.env[e.name] = e.value;
    const argv = [...(spec?.command ?? []), ...(spec?.args ?? [])];
    const image = (spec?.image ?? "nginx").split("/").at(-1)!.split(":")[0]!;
    this.procs.set(1, {
      pid: 1,
      user: "root",
      command: argv.length > 0 ? argv.join(" ") : image === "nginx" ? "nginx: master process nginx -g daemon off;" : image,
      started: Date.now(),
    });
  }

  spawn(command: string, controller: AbortController): Proc {
    const proc = { pid: this.nextPid++, user: "root", command, started: Date.now(), controller };
    this.procs.set(proc.pid, proc);
    return proc;
  }

  exit(pid: number): void {
    this.procs.delete(pid);
  }

  /** SIGKILL for everything exec started (the pod is going away, or the server is closing). */
  killAll(): void {
    this.lifetime.abort();
    for (const p of this.procs.values()) p.controller?.abort();
  }
}

export class Containers {
  private readonly states = new Map<string, ContainerState>();

  get(namespace: string, podName: string, container: string, pod?: KubeObject): ContainerState {
    const k = `${namespace}/${podName}/${container}`;
    let s = this.states.get(k);
    if (s === undefined) {
      s = new ContainerState(pod, podName, container);
      this.states.set(k, s);
    }
    return s;
  }

  peek(namespace: string, podName: string, container: string): ContainerState | undefined {
    return this.states.get(`${namespace}/${podName}/${container}`);
  }

  removePod(namespace: string, podName: string): void {
    const prefix = `${namespace}/${podName}/`;
    for (const [k, s] of [...this.states]) {
      if (k.startsWith(prefix)) {
        s.killAll();
        this.states.delete(k);
      }
    }
  }

  killAll(): void {
    for (const s of this.states.values()) s.killAll();
  }
}
