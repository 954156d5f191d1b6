// kubernetes:annotation: adds, changes or removes annotations of the event's pod or of its node, in one
// merge patch.
import { defineMetadataActionner } from "./_metadata.ts";

export default defineMetadataActionner({
  field: "annotations",
  name: "annotation",
  noun: "annotation",
  done: "annotated",
  description: "Add, modify or delete the annotations of the pod/node",
  example: `
- action: Annotate the pod
  actionner: kubernetes:annotation
  parameters:
    level: pod
    annotations:
      suspicious: true
      kestrel.falco.org/rule: \${RULE}
`,
});
