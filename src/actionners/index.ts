// The actionners Kestrel ships. Adding one = one file under <category>/<name>.ts and one line here;
// a test fails when this list and the folder disagree.

import type { Actionner } from "../plugins/types.ts";
import awsLambda from "./aws/lambda.ts";
import calicoNetworkpolicy from "./calico/networkpolicy.ts";
import ciliumNetworkpolicy from "./cilium/networkpolicy.ts";
import gcpFunction from "./gcp/function.ts";
import kubernetesAnnotation from "./kubernetes/annotation.ts";
import kubernetesCordon from "./kubernetes/cordon.ts";
import kubernetesDelete from "./kubernetes/delete.ts";
import kubernetesDownload from "./kubernetes/download.ts";
import kubernetesDrain from "./kubernetes/drain.ts";
import kubernetesExec from "./kubernetes/exec.ts";
import kubernetesLabel from "./kubernetes/label.ts";
import kubernetesLog from "./kubernetes/log.ts";
import kubernetesNetworkpolicy from "./kubernetes/networkpolicy.ts";
import kubernetesScript from "./kubernetes/script.ts";
import kubernetesSysdig from "./kubernetes/sysdig.ts";
import kubernetesTcpdump from "./kubernetes/tcpdump.ts";
import kubernetesTerminate from "./kubernetes/terminate.ts";
import localCommand from "./local/command.ts";

export const actionners: readonly Actionner[] = [
  kubernetesTerminate,
  kubernetesLabel,
  kubernetesAnnotation,
  kubernetesNetworkpolicy,
  kubernetesExec,
  kubernetesScript,
  kubernetesLog,
  kubernetesDelete,
  kubernetesCordon,
  kubernetesDrain,
  kubernetesDownload,
  kubernetesTcpdump,
  kubernetesSysdig,
  localCommand,
  awsLambda,
  gcpFunction,
  calicoNetworkpolicy,
  ciliumNetworkpolicy,
];
