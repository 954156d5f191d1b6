// Starts leader election for `kestrel server` when deduplication.leader_election is on: the Lease's
// namespace and this replica's identity are found as Talon finds them, and the kestrel_leader gauge follows
// the outcome. Without a reachable cluster configuration the replica runs alone (Talon refused to start).
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { KubeClient } from "../clients/kubernetes/calls.ts";
import type { Config } from "../config/schema.ts";
import { errorFields } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { LeaderElector } from "./leader.ts";

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** The lease's namespace: the setting, $NAMESPACE, the service account's namespace, else "falco". */
export function leaseNamespace(config: Config, env: NodeJS.ProcessEnv, saFile = SERVICE_ACCOUNT_NAMESPACE): string {
  if (config.cluster.lease_namespace !== "") return config.cluster.lease_namespace;
  if (env["NAMESPACE"]) return env["NAMESPACE"];
  try {
    const ns = readFileSync(saFile, "utf8").trim();
    if (ns !== "") return ns;
  } catch {
    // not in a pod
  }
  return "falco";
}

/** This replica's identity: the setting, $POD_NAME, else the host name (a pod's host name is its name). */
export function replicaIdentity(config: Config, env: NodeJS.ProcessEnv): string {
  return config.cluster.identity || env["POD_NAME"] || hostname();
}

export async function startLeaderElection(
  config: Config,
  log: Logger,
  metrics: Metrics,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LeaderElector | undefined> {
  if (!config.deduplication.leader_election) return undefined;
  const { kubeClientFor } = await import("../clients/kubernetes.ts");
  let kube: KubeClient;
  try {
    kube = kubeClientFor(config.kubeconfig, env);
  } catch (err) {
    log.warn(
      errorFields(err, "ERR_KUBERNETES"),
      "deduplication.leader_election is on but no cluster can be reached: this replica runs alone",
    );
    return undefined;
  }
  const elector = new LeaderElector(
    kube,
    {
      namespace: leaseNamespace(config, env),
      name: config.cluster.lease_name,
      identity: replicaIdentity(config, env),
      leaseDurationMs: config.cluster.lease_duration_seconds * 1000,
      renewDeadlineMs: config.cluster.renew_deadline_seconds * 1000,
      retryPeriodMs: config.cluster.retry_period_seconds * 1000,
    },
    log,
    {
      onStartedLeading: () => metrics.leader.set(1),
      onStoppedLeading: () => metrics.leader.set(0),
    },
  );
  metrics.leader.set(0);
  elector.start();
  return elector;
}
