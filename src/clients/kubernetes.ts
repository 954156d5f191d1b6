// The Kubernetes client: one per process, created only when a loaded rule, notifier or context needs the
// cluster, or leader election runs. This is the only module that imports values from @kubernetes/client-node
// and it is reached only through import() (app.ts, cluster/election.ts): the library costs ≈ 0.5 s and
// 85 MB to load. What plugins use (the KubeClient interface, kubeCall, the error mapping) is in
// ./kubernetes-calls.ts, which imports its types only.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import {
  AppsV1Api,
  BatchV1Api,
  type ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Exec,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  type ObservableMiddleware,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  V1MicroTime,
  type V1Status,
} from "@kubernetes/client-node";
import { errorMessage, KestrelError } from "../errors.ts";
import { type ExecRequest, type ExecResult, exitCodeOf, type KubeClient, kubeError } from "./kubernetes-calls.ts";

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
    const where =
      kubeconfig !== "" ? `kubeconfig "${kubeconfig}"` : env["KUBECONFIG"] ? `$KUBECONFIG "${env["KUBECONFIG"]}"` : "Kubernetes";
    throw new KestrelError("ERR_CONFIG_INVALID", `${where}: ${errorMessage(err)}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new KestrelError("ERR_CONFIG_INVALID", "the kubeconfig has no current cluster (set current-context)");
  }
  return kc;
}

/** The client for the cluster `kubeconfig` (or the environment) names; see loadKubeConfig. */
export function kubeClientFor(kubeconfig: string, env: NodeJS.ProcessEnv = process.env): KubeClient {
  return createKubeClient(loadKubeConfig(kubeconfig, env));
}

export function createKubeClient(config: KubeConfig): KubeClient {
  const execApi = new Exec(config);
  return {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    execApi,
    exec: (request) => execInContainer(execApi, request),
    requestOptions,
    microTime: (ms = Date.now()) => new V1MicroTime(ms),
  };
}

/** KubeClient.requestOptions: `signal` goes to fetch through a middleware; `contentType` as a header. */
function requestOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions {
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
        ws.on("close", () =>
          finish(new KestrelError("ERR_KUBERNETES", `${what}: the connection closed without an exit status`, { retryable: true })),
        );
        ws.on("error", (err) => finish(kubeError(err, what)));
      })
      .catch((err: unknown) => finish(kubeError(err, what)));
  });
}
