// kubernetes:download: copies a file out of ONE container of the event's pod to the action's output
// (required). The file is read with `cat -- <file>`, the path passed as one argv element and never through
// a shell, so whatever an event puts in the path (`/tmp/x; rm -rf /`) is only ever a file name. The bytes
// are streamed from the exec to the output as they arrive (KubeApi.stream). Talon tries `cat <file>` in
// each container until one succeeds; Kestrel reads it in the chosen container only.
import { z } from "zod";
import { POD_REQUIRED_FIELDS } from "../../events/target.ts";
import { defineActionner } from "../../plugins/define.ts";
import { containerParam, runningContainer } from "./_container.ts";

const params = z.strictObject({
  file: z.string().min(1, "must name a file").describe("full path of the file to download, e.g. ${FD_NAME}"),
  container: containerParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "download",
  needs: ["kubernetes"],
  notes: {
    behaviour: "Reads the file with `cat -- <file>` (no shell) into the output, which is required.",
    talon: "streamed, never held in memory",
  },
  description: "Download a file from a container of the pod",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  artifact: "required",
  permissions: "/pods: get\n/pods/exec: create, get",
  params,
  example: `
- action: Download the file
  actionner: kubernetes:download
  parameters:
    file: "\${FD_NAME}"
  output:
    target: local:file
    parameters:
      destination: /var/lib/kestrel/downloads
`,
  preflight: runningContainer,
  async run(ctx, { kube, target, container }) {
    const { params: p, signal } = ctx;
    const data = await kube.stream({
      namespace: target.namespace,
      pod: target.pod,
      container,
      command: ["cat", "--", p.file],
      label: `the download of '${p.file}'`,
      signal,
    });
    return {
      summary: `the file '${p.file}' of the container '${container}' of the pod '${target.pod}' in the namespace '${target.namespace}' is being downloaded`,
      objects: { pod: target.pod, namespace: target.namespace, container, file: p.file },
      artifact: { name: p.file, contentType: "application/octet-stream", data },
    };
  },
});
