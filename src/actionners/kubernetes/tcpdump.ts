// kubernetes:tcpdump: captures the network traffic of the event's pod for `duration` seconds and streams
// the pcap to the action's output (required). As Talon: an ephemeral container (image `issif/tcpdump`)
// is added to the pod through pods/ephemeralcontainers, targeting the pod's container (here the event's
// container, else the first), and Kestrel waits until it runs. The capture is then one exec,
// `timeout <duration> tcpdump -n -i any -s <snaplen> -U -w -`, whose stdout IS the pcap: it goes to the
// output as it is captured, with no file in the container and no copy in memory (Talon writes a file,
// runs it through a script and cats it back). `timeout` ending tcpdump (exit 124) is the normal end.
// Differences: the container gets the NET_RAW and NET_ADMIN capabilities instead of `privileged`, it only
// sleeps for the capture plus two minutes, and an image or exec failure is reported with its reason.
// Ephemeral containers cannot be removed: one stays in the pod spec per capture, as with Talon.
import { z } from "zod";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { podContainerOf, randomName, startEphemeralContainer } from "./_container.ts";

const params = z.strictObject({
  duration: z
    .number()
    .int()
    .nonnegative()
    .default(5)
    .describe("duration of the capture in seconds (5 when 0, as Talon); keep it below action_timeout_seconds"),
  snaplen: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe("bytes captured of each packet; 0 captures whole packets (Talon's real default)"),
  image: z
    .string()
    .min(1)
    .default("issif/tcpdump:latest")
    .describe("image of the ephemeral container; it must provide tcpdump and timeout"),
});

export default defineActionner({
  category: "kubernetes",
  name: "tcpdump",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Captures `duration` s in an ephemeral container; the pcap is streamed to the output.",
    talon: "`NET_RAW`/`NET_ADMIN` instead of privileged; the event's container as target",
  },
  description: "Capture the network packets of the pod",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: false,
  artifact: "required",
  permissions: "/pods: get\n/pods/ephemeralcontainers: patch\n/pods/exec: create, get",
  params,
  example: `
- action: Capture the traffic of the pod
  actionner: kubernetes:tcpdump
  parameters:
    duration: 10
    snaplen: 1024
  output:
    target: local:file
    parameters:
      destination: /var/lib/kestrel/captures
`,
  preflight: (ctx) => podContainerOf(ctx, { mustRun: true }),
  async run(ctx, { kube, target, container }) {
    const { params: p, signal } = ctx;
    const duration = p.duration > 0 ? p.duration : 5;
    const name = randomName("kestrel-tcpdump");
    await startEphemeralContainer(
      kube,
      target,
      {
        name,
        image: p.image,
        imagePullPolicy: "Always",
        command: ["sleep", String(duration + 120)],
        targetContainerName: container,
        securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: { add: ["NET_RAW", "NET_ADMIN"] } },
      },
      signal,
    );
    const data = await kube.stream({
      namespace: target.namespace,
      pod: target.pod,
      container: name,
      command: ["timeout", String(duration), "tcpdump", "-n", "-i", "any", "-s", String(p.snaplen), "-U", "-w", "-"],
      okExitCodes: [0, 124],
      label: `the capture of ${duration} s`,
      signal,
    });
    return {
      summary: `the capture of the network traffic of the pod '${target.pod}' in the namespace '${target.namespace}' has started (${duration} s, ephemeral container '${name}')`,
      objects: { pod: target.pod, namespace: target.namespace, container: name },
      artifact: { name: "tcpdump.pcap", contentType: "application/vnd.tcpdump.pcap", data },
    };
  },
});
