// kubernetes:sysdig: captures the system calls of the event's pod (scope pod) or of its whole node (scope
// node) for `duration` seconds and streams the gzipped scap file to the action's output (required).
//
// Why a Job, as Talon, and not an ephemeral container (as tcpdump): sysdig attributes events to containers
// by reading the HOST's /proc (cgroups of host PIDs, which the eBPF probe reports) and, for names and
// images, the CRI socket. An ephemeral container lives in the pod's PID namespace and cannot mount host
// paths, so a `container.id in (…)` filter would match nothing there. The Job runs one privileged pod
// pinned (nodeName) to the pod's node with the host's / mounted read-only at /host (HOST_ROOT); it is
// created in the pod's namespace as Talon's, and deleted (with its pod) as soon as the capture has been
// copied out; activeDeadlineSeconds and ttlSecondsAfterFinished clean up if Kestrel cannot.
//
// Steps: create the Job, wait (polling, at most 60 s) for its pod to run, exec
// `sysdig --modern-bpf [--cri <socket>] -M <duration> -s <buffer_size> -z -w /tmp/sysdig.scap.gz [filter]`
// (argv, no shell; the filter is `container.id in (<12-char ids of the pod's containers>)` for scope pod),
// then stream `cat -- /tmp/sysdig.scap.gz` to the output. Unlike Talon (containerd only), the CRI socket
// follows the runtime named in the pod's container IDs (containerd or CRI-O).

import { z } from "zod";
import type { KubeApi, V1Job, V1Pod } from "../../clients/kubernetes/api.ts";
import { MANAGED_LABELS } from "../../clients/kubernetes/objects.ts";
import { errorFields, errorMessage, KestrelError } from "../../errors.ts";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { podContainerOf, randomName } from "./_container.ts";
import { nodeNameOf } from "./_workload.ts";

const CAPTURE_FILE = "/tmp/sysdig.scap.gz";
const CONTAINER = "sysdig";
/** How long the Job's pod may take to be scheduled, pull its image and run (Talon: 60 s + 20 s). */
const START_TIMEOUT_MS = 60_000;

const CRI_SOCKETS: Record<string, string> = {
  containerd: "/host/run/containerd/containerd.sock",
  "cri-o": "/host/run/crio/crio.sock",
};

const params = z.strictObject({
  duration: z
    .number()
    .int()
    .min(1)
    .max(30)
    .default(5)
    .describe("duration of the capture in seconds (1 to 30); keep it below action_timeout_seconds"),
  buffer_size: z.number().int().min(128).default(2048).describe("bytes captured of each event's data (sysdig -s)"),
  scope: z.enum(["pod", "node"]).default("pod").describe("pod: only the pod's containers; node: everything on its node"),
  image: z.string().min(1).default("issif/sysdig:latest").describe("image of the capture Job; it must provide sysdig and cat"),
});

export default defineActionner({
  category: "kubernetes",
  name: "sysdig",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Captures in a Job on the pod's node; the capture is streamed to the output.",
    talon: "containerd or CRI-O; host `/` read-only; the Job is deleted afterwards",
  },
  description: "Capture the system calls of the pod (or of its node) with sysdig",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: false,
  artifact: "required",
  permissions: "/pods: get, list\n/pods/exec: create, get\nbatch/jobs: create, delete",
  params,
  example: `
- action: Capture the syscalls of the pod
  actionner: kubernetes:sysdig
  parameters:
    duration: 10
    buffer_size: 1024
    scope: pod
  output:
    target: local:file
    parameters:
      destination: /var/lib/kestrel/captures
`,
  async preflight(ctx) {
    const placement = await podContainerOf(ctx, { mustRun: true });
    return { ...placement, node: nodeNameOf(placement.pod, placement.target) };
  },
  async run(ctx, { kube, target, pod, node }) {
    const { params: p, signal, log } = ctx;
    const ids = containerIds(pod);
    if (p.scope === "pod" && ids.length === 0) {
      throw new KestrelError(
        "ERR_PREFLIGHT",
        `the pod '${target.pod}' in the namespace '${target.namespace}' reports no container IDs to filter on`,
      );
    }
    const name = randomName("kestrel-sysdig");
    const cleanup = once(() =>
      deleteJob(kube, target.namespace, name).catch((err: unknown) =>
        log.warn(errorFields(err, "ERR_KUBERNETES"), `cannot delete the Job '${name}'`),
      ),
    );
    await kube.createJob(jobFor(name, target.namespace, node, p.image, p.duration), { signal, attempts: 1 });
    try {
      const capturePod = await waitForJobPod(kube, target.namespace, name, signal);
      const runtime = ids[0]?.runtime ?? "";
      const cri = CRI_SOCKETS[runtime];
      const command = [
        "sysdig",
        "--modern-bpf",
        ...(cri === undefined ? [] : ["--cri", cri]),
        "-M",
        String(p.duration),
        "-s",
        String(p.buffer_size),
        "-z",
        "-w",
        CAPTURE_FILE,
        ...(p.scope === "pod" ? [`container.id in (${ids.map((i) => i.id).join(",")})`] : []),
      ];
      const where = { namespace: target.namespace, pod: capturePod, container: CONTAINER };
      const res = await kube.exec({ ...where, command, label: "sysdig", signal });
      if (res.exitCode !== 0) {
        const stderr = res.stderr.trim().slice(-1000);
        throw new KestrelError(
          "ERR_ACTION",
          `sysdig exited with code ${res.exitCode} in the Job '${name}'${stderr === "" ? "" : `: ${stderr}`}`,
        );
      }
      const data = await kube.stream({
        ...where,
        command: ["cat", "--", CAPTURE_FILE],
        label: "the copy of the sysdig capture",
        signal,
      });
      return {
        summary: `the syscalls of the ${p.scope === "pod" ? `pod '${target.pod}' in the namespace '${target.namespace}'` : `node '${node}'`} have been captured for ${p.duration} s (Job '${name}')`,
        objects: { pod: target.pod, namespace: target.namespace, node },
        artifact: { name: "sysdig.scap.gz", contentType: "application/gzip", data: afterwards(data, cleanup) },
      };
    } catch (err) {
      cleanup();
      throw err;
    }
  },
});

/** The runtime and 12-character ID of each container of the pod (`containerd://0123…` in its status). */
function containerIds(pod: V1Pod): { runtime: string; id: string }[] {
  const out: { runtime: string; id: string }[] = [];
  for (const s of pod.status?.containerStatuses ?? []) {
    const m = /^([a-z0-9-]+):\/\/([0-9a-f]{12})/.exec(s.containerID ?? "");
    if (m !== null) out.push({ runtime: m[1]!, id: m[2]! });
  }
  return out;
}

function jobFor(name: string, namespace: string, node: string, image: string, duration: number): V1Job {
  const labels = { "app.kubernetes.io/name": "kestrel-sysdig", ...MANAGED_LABELS, "app.kubernetes.io/part-of": "kestrel" };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: duration + 120,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          nodeName: node,
          restartPolicy: "Never",
          tolerations: [{ operator: "Exists" }],
          containers: [
            {
              name: CONTAINER,
              image,
              command: ["sleep", String(duration + 110)],
              env: [{ name: "HOST_ROOT", value: "/host" }],
              securityContext: { privileged: true, runAsUser: 0 },
              volumeMounts: [{ name: "host", mountPath: "/host", readOnly: true }],
            },
          ],
          volumes: [{ name: "host", hostPath: { path: "/" } }],
        },
      },
    },
  };
}

/** Polls the Job's pod (label job-name) until its container runs; fails at once when it cannot start. */
async function waitForJobPod(kube: KubeApi, namespace: string, job: string, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    const pod = (await kube.listPods({ namespace, labelSelector: `job-name=${job}` }, { signal }))[0];
    const status = pod?.status?.containerStatuses?.find((s) => s.name === CONTAINER);
    if (pod?.metadata?.name !== undefined && status?.state?.running !== undefined) return pod.metadata.name;
    const waiting = status?.state?.waiting?.reason;
    if (
      pod?.status?.phase === "Failed" ||
      status?.state?.terminated !== undefined ||
      (waiting !== undefined && /Err|BackOff|Invalid/.test(waiting))
    ) {
      throw new KestrelError(
        "ERR_ACTION",
        `the pod of the Job '${job}' cannot run (${waiting ?? pod?.status?.reason ?? pod?.status?.phase ?? "terminated"})`,
      );
    }
    if (Date.now() >= deadline)
      throw new KestrelError("ERR_ACTION", `the pod of the Job '${job}' was not running after ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, attempt < 5 ? 100 : 300));
    if (signal.aborted)
      throw new KestrelError("ERR_TIMEOUT", `cancelled while waiting for the Job '${job}': ${errorMessage(signal.reason)}`);
  }
}

/** Deletes the Job and its pod, on its own deadline (the action's may have passed). */
function deleteJob(kube: KubeApi, namespace: string, name: string): Promise<void> {
  return kube.deleteJob(namespace, name, { signal: AbortSignal.timeout(10_000) });
}

function once(fn: () => unknown): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** The stream, calling `cleanup` once it ended, failed or was closed. */
function afterwards(source: AsyncIterableIterator<Uint8Array>, cleanup: () => void): AsyncIterableIterator<Uint8Array> {
  const wrapped: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => wrapped,
    async next() {
      try {
        const r = await source.next();
        if (r.done === true) cleanup();
        return r;
      } catch (err) {
        cleanup();
        throw err;
      }
    },
    async return() {
      await source.return?.();
      cleanup();
      return { value: undefined, done: true };
    },
  };
  return wrapped;
}
