// kubernetes:log: the last lines of the log of ONE container of the event's pod (Talon reads the
// containers in turn and keeps the first non-empty log). Without an output the lines are appended to the
// result, as Talon does; with one they are stored there.
import { z } from "zod";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { containerParam, podContainerOf } from "./_container.ts";

/** A guard against a container writing enormous lines: the log is read up to this size. */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

const params = z.strictObject({
  tail_lines: z.number().int().default(20).describe("number of lines from the end of the log (20 when 0 or less, as Talon)"),
  container: containerParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "log",
  needs: ["kubernetes"],
  notes: {
    behaviour: "The container's last `tail_lines` log lines, into the result or an output.",
    talon: "one container",
  },
  description: "Get the logs of a container of the pod",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "optional",
  permissions: "/pods: get\n/pods/log: get",
  params,
  example: `
- action: Get logs of the pod
  actionner: kubernetes:log
  parameters:
    tail_lines: 200
  output:
    target: local:file
    parameters:
      destination: /var/lib/kestrel/logs
`,
  preflight: (ctx) => podContainerOf(ctx, { requested: ctx.params.container, mustRun: false }),
  async run(ctx, { kube, target, container }) {
    const { params: p, signal } = ctx;
    const where = `the container '${container}' of the pod '${target.pod}' in the namespace '${target.namespace}'`;
    const tail = { lines: p.tail_lines > 0 ? p.tail_lines : 20, limitBytes: MAX_LOG_BYTES };
    const text = await kube.podLog(target, container, tail, { signal });
    return {
      summary: `the logs of ${where} have been downloaded`,
      objects: { pod: target.pod, namespace: target.namespace, container },
      artifact: { name: "log", contentType: "text/plain", data: text },
    };
  },
});
