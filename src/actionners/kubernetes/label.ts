// kubernetes:label: adds, changes or removes labels of the event's pod or of its node, in one merge patch.
import { defineMetadataActionner } from "./_metadata.ts";

export default defineMetadataActionner({
  field: "labels",
  name: "label",
  noun: "label",
  done: "labeled",
  description: "Add, modify or delete the labels of the pod/node",
  example: `
- action: Label the pod
  actionner: kubernetes:label
  parameters:
    level: pod
    labels:
      suspicious: true
      quarantined: ""
`,
});
