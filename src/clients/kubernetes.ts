// The Kubernetes client: one per process, created only when a loaded rule or notifier needs it. Every
// API failure becomes a KestrelError here, at the boundary, so plugins and the engine never see the
// client library's exceptions: 404 means the target is gone, 403 a missing permission, and 409/429/5xx or
// a dropped connection are retryable (kubeCall retries them with backoff).
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Exec,
  type ConfigurationOptions,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  type ObservableMiddleware,
  setHeaderOptions,
  type V1Status,
} from "@kubernetes/client-node";
import { errorMessage, KestrelError } from "../errors.ts";

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  /** Written to the command's stdin, which is then closed. No stdin when undefined. */
  readonly stdin?: string | Uint8Array | Readable;
  /** Where stdout goes; when undefined it is collected (up to maxOutputBytes) into the result. */
  readonly stdout?: Writable;
  readonly maxOutputBytes?: number;
  readonly signal: AbortSignal;
}

export interface ExecResult {
  readonly exitCode: number;
  /** Collected stdout (empty when a stdout stream was given). */
  readonly stdout: Buffer;
  /** The first 4 KiB of stderr. */
  readonly stderr: string;
}

export interface KubeClient {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly networking: NetworkingV1Api;
  readonly coordination: CoordinationV1Api;
  readonly custom: CustomObjectsApi;
  /** Runs a command in a container over the exec subresource and reports its exit code. */
  exec(request: ExecRequest): Promise<ExecResult>;
}

/**
 * Where Kestrel finds its cluster, in Talon's order: the `kubeconfig` setting, then $KUBECONFIG, then the
 * in-cluster service account, then ~/.kube/config. Throws a KestrelError naming the setting when none works.
 */
export function loadKubeConfig(kubeconfig: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (kubeconfig !== "") kc.loadFromFile(kubeconfig);
    else if (env["KUBECONFIG"]) kc.loadFromFile(env["KUBECONFIG"].split(":")[0]!);
    else if (env["KUBERNETES_SERVICE_HOST"]) kc.loadFromCluster();
    else if (existsSync(join(homedir(), ".kube", "config"))) kc.loadFromFile(join(homedir(), ".kube", "config"));
    else {
      throw new Error("not running in a cluster and no kubeconfig: set `kubeconfig` in config.yaml or $KUBECONFIG");
    }
  } catch (err) {
    const where = kubeconfig !== "" ? `kubeconfig "${kubeconfig}"` : env["KUBECONFIG"] ? `$KUBECONFIG "${env["KUBECONFIG"]}"` : "Kubernetes";
    throw new KestrelError("ERR_CONFIG_INVALID", `${where}: ${errorMessage(err)}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new KestrelError("ERR_CONFIG_INVALID", "the kubeconfig has no current cluster (set current-context)");
  }
  return kc;
}

export function createKubeClient(config: KubeConfig): KubeClient {
  const execApi = new Exec(config);
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    exec: (request) => execInContainer(execApi, request),
  };
}

/**
 * Per-call options for client-node's typed APIs that hand `signal` to the underlying fetch, so a deadline
 * or a shutdown cancels the HTTP request itself instead of leaving it running; with `contentType`, the
 * patch strategy (client-node's typed patch calls default to JSON Patch).
 */
export function requestOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (request) => {
      request.setSignal(signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  const options: ConfigurationOptions = { middleware: [middleware], middlewareMergeStrategy: "append" };
  return contentType === undefined ? options : setHeaderOptions("Content-Type", contentType, options);
}

/** The API's reason and message from a Status body (client-node hands the raw text). */
function statusOf(err: ApiException<unknown>): { reason: string; message: string } {
  let body: unknown = err.body;
  if (typeof body === "string") {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return { reason: "", message: text.slice(0, 300) };
    }
  }
  const s = (body ?? {}) as { reason?: unknown; message?: unknown };
  return { reason: typeof s.reason === "string" ? s.reason : "", message: typeof s.message === "string" ? s.message : "" };
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET"]);

/** A KestrelError for a failed API call; `what` says what was attempted ("label the pod prod/web-1"). */
export function kubeError(err: unknown, what: string): KestrelError {
  if (err instanceof KestrelError) return err;
  if (err instanceof ApiException) {
    const { reason, message } = statusOf(err);
    const detail = message || reason || `HTTP ${err.code}`;
    if (err.code === 404) return new KestrelError("ERR_TARGET_GONE", `cannot ${what}: not found (${detail})`, { cause: err });
    if (err.code === 401 || err.code === 403) {
      return new KestrelError("ERR_FORBIDDEN", `cannot ${what}: ${detail} (check Kestrel's RBAC: kestrel actionners list)`, { cause: err });
    }
    const retryable = err.code === 409 || err.code === 429 || err.code >= 500;
    const retryAfter = Number(err.headers?.["retry-after"]);
    return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${detail}`, {
      cause: err,
      retryable,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | undefined)?.cause?.code ?? (err as { code?: unknown })?.code;
  const connection = typeof code === "string" && CONNECTION_CODES.has(code);
  return new KestrelError("ERR_KUBERNETES", `cannot ${what}: ${errorMessage(err)}`, { cause: err, retryable: connection });
}

export interface KubeCallOptions {
  readonly signal: AbortSignal;
  /** Attempts in all (default 3). */
  readonly attempts?: number;
  /** First backoff in ms (default 200), doubled each time, with jitter. */
  readonly backoffMs?: number;
}

/**
 * Runs `call` (a whole read-modify-write when the object is updated, so that a 409 Conflict retry starts
 * from a fresh read), turning failures into KestrelErrors and retrying the retryable ones with backoff.
 */
export async function kubeCall<T>(what: string, options: KubeCallOptions, call: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 3;
  let delay = options.backoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = kubeError(err, what);
      if (!e.retryable || attempt >= attempts || options.signal.aborted) throw e;
      const wait = e.retryAfterSeconds !== undefined ? Math.min(e.retryAfterSeconds * 1000, 10_000) : delay * (0.5 + Math.random());
      await sleep(wait, options.signal);
      delay *= 2;
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The exit code in an exec Status (v5 channel protocol): 0 on Success, the ExitCode cause on failure. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    return Number.isInteger(code) ? code : undefined;
  }
  return undefined;
}

async function execInContainer(api: Exec, request: ExecRequest): Promise<ExecResult> {
  const { namespace, pod, container, signal } = request;
  const what = `exec in ${namespace}/${pod} (container ${container})`;
  if (signal.aborted) throw new KestrelError("ERR_TIMEOUT", `${what}: cancelled before it started`);
  const limit = request.maxOutputBytes ?? 1024 * 1024;
  const collected: Buffer[] = [];
  let collectedSize = 0;
  const stdout =
    request.stdout ??
    new PassThrough().on("data", (chunk: Buffer) => {
      if (collectedSize < limit) collected.push(chunk.subarray(0, limit - collectedSize));
      collectedSize += chunk.length;
    });
  let stderr = "";
  const stderrSink = new PassThrough().on("data", (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString("utf8");
  });
  let stdin: Readable | null = null;
  if (request.stdin !== undefined) {
    stdin = typeof request.stdin === "string" || request.stdin instanceof Uint8Array ? new PassThrough().end(request.stdin) : request.stdin;
  }

  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let socket: { close(): void } | undefined;
    const finish = (err: KestrelError | undefined, exitCode = -1): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (err !== undefined) reject(err);
      else resolve({ exitCode, stdout: Buffer.concat(collected), stderr });
    };
    const onAbort = (): void => {
      socket?.close();
      finish(new KestrelError("ERR_TIMEOUT", `${what}: cancelled (${errorMessage(signal.reason)})`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const onStatus = (status: V1Status): void => {
      const code = exitCodeOf(status);
      if (code !== undefined) finish(undefined, code);
      else finish(new KestrelError("ERR_KUBERNETES", `${what}: ${status.message ?? status.reason ?? "failed"}`));
    };
    api
      .exec(namespace, pod, container, [...request.command], stdout, stderrSink, stdin, false, onStatus)
      .then((ws) => {
        socket = ws;
        if (settled) ws.close();
        // The status arrives before the socket closes; a close without one means the stream was cut.
        ws.on("close", () => finish(new KestrelError("ERR_KUBERNETES", `${what}: the connection closed without an exit status`, { retryable: true })));
        ws.on("error", (err) => finish(kubeError(err, what)));
      })
      .catch((err: unknown) => finish(kubeError(err, what)));
  });
}
