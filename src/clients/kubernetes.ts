// The Kubernetes client: one per process, created only when a loaded rule, notifier or context needs the
// cluster, or leader election runs. This is the only module that imports values from @kubernetes/client-node
// and it is reached only through import() (app.ts, cluster/election.ts): the library costs ≈ 0.5 s and
// 85 MB to load. What plugins use (the narrow KubeApi, ./kubernetes/) and the error mapping
// (./kubernetes/calls.ts) import its types only.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
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
} from "@kubernetes/client-node";
import { errorMessage, KestrelError } from "../errors.ts";
import type { KubeApi } from "./kubernetes/api.ts";
import type { KubeClient } from "./kubernetes/calls.ts";
import { kubeApiOn } from "./kubernetes/client.ts";

/** The client: the API groups (for leader election's Lease) and, on them, the KubeApi plugins use. */
export type Kube = KubeClient & KubeApi;

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
export function kubeClientFor(kubeconfig: string, env: NodeJS.ProcessEnv = process.env): Kube {
  return createKubeClient(loadKubeConfig(kubeconfig, env));
}

export function createKubeClient(config: KubeConfig): Kube {
  const sdk: KubeClient = {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    execApi: new Exec(config),
    requestOptions,
    microTime: (ms = Date.now()) => new V1MicroTime(ms),
  };
  return { ...sdk, ...kubeApiOn(sdk) };
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
