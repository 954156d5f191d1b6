// Records each result as a Kubernetes Event on the pod it is about (Talon's k8sevents), so that
// `kubectl describe pod` and `kubectl get events` show what Kestrel did. A core/v1 Event in the pod's
// namespace (from the result's objects, else the Falco event's fields; `default` when there is none or when
// that namespace does not exist), involving the pod with its uid (read from the API; a pod that is gone is
// still named). Talon's fixes #768/#770 are in, and beyond Talon: `type: Warning` for failures (Talon
// says Normal), first/last timestamps and a count so that `kubectl get events` shows when it happened, and
// the trace id early in the message so that truncation to the API's 1024-byte limit never drops it. An
// event without a pod is recorded on the node named by the Falco event's hostname.
//
// Validation of core/v1 Events that carry an eventTime (what the API applies here): reportingComponent
// must be a qualified name and reportingInstance, action and reason at most 128 characters; message at
// most 1024 bytes. The reason is free text in core/v1, so `kestrel:<actionner>:<status>` is accepted.
import { hostname } from "node:os";
import { z } from "zod";
import { kubernetesOf } from "../clients/index.ts";
import type { CoreV1Event, KubeApi, V1ObjectReference } from "../clients/kubernetes/api.ts";
import { DELETABLE_RESOURCES } from "../clients/kubernetes/objects.ts";
import { errorFields, KestrelError } from "../errors.ts";
import { firstField } from "../events/fields.ts";
import { NAMESPACE_FIELDS, podNameOf } from "../events/target.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";

export const COMPONENT = "kestrel";
export const MESSAGE_LIMIT_BYTES = 1024;
const FIELD_LIMIT = 128;
const DEFAULT_NAMESPACE = "default";

interface Subject {
  readonly namespace: string;
  readonly pod?: string;
  /** The object acted on when it is not a pod (kubernetes:delete's `{resource, name, namespace}`). */
  readonly object?: V1ObjectReference;
}

/** What the notification is about: its objects first, then the Falco event's fields. */
export function subjectOf(n: Notification): Subject {
  const pod = n.objects["pod"] || podNameOf(n.event);
  const namespace = n.objects["namespace"] || firstField(n.event, NAMESPACE_FIELDS) || DEFAULT_NAMESPACE;
  if (pod !== undefined) return { namespace, pod };
  // The resources an action may name in `objects.resource`: kubernetes:delete's.
  const kind = DELETABLE_RESOURCES.find((r) => r.resource === n.objects["resource"]);
  const name = n.objects["name"];
  if (kind !== undefined && name) {
    const { apiVersion, kind: k, namespaced } = kind;
    const object = namespaced ? { apiVersion, kind: k, name, namespace } : { apiVersion, kind: k, name };
    return { namespace: namespaced ? namespace : DEFAULT_NAMESPACE, object };
  }
  return { namespace };
}

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary, ending with "…" when cut. */
export function truncateBytes(text: string, max: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  let cut = max - 3; // "…" takes 3 bytes
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return `${bytes.subarray(0, cut).toString("utf8")}…`;
}

/** Plain text, one `Key: value` per line, short identifying lines first and the long ones (output, event) last. */
export function eventMessage(n: Notification): string {
  const lines = [`Status: ${n.status}`, `Message: ${n.kind}`, `Rule: ${n.rule}`, `Action: ${n.action}`, `Actionner: ${n.actionner}`];
  if (n.target !== undefined) lines.push(`OutputTarget: ${n.target}`);
  lines.push(`TraceID: ${n.traceId}`);
  for (const [k, v] of Object.entries(n.objects)) lines.push(`${k}: ${v}`);
  if (n.location !== undefined) lines.push(`Location: ${n.location}`);
  if (n.error !== undefined && n.error !== "") lines.push(`Error: ${n.error}`);
  if (n.summary !== "") lines.push(`Output: ${n.summary}`);
  lines.push(`Event: ${n.event.message}`);
  return truncateBytes(lines.join("\n").replaceAll("\r\n", "\n"), MESSAGE_LIMIT_BYTES);
}

export function eventBody(n: Notification, subject: Subject, uid: string | undefined, instance: string): CoreV1Event {
  const what = n.kind === "output" && n.target !== undefined ? n.target : n.actionner;
  const involvedObject: V1ObjectReference =
    subject.pod !== undefined
      ? { apiVersion: "v1", kind: "Pod", namespace: subject.namespace, name: subject.pod, ...(uid === undefined ? {} : { uid }) }
      : (subject.object ?? { apiVersion: "v1", kind: "Node", name: n.event.hostname });
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      generateName: `${COMPONENT}-`,
      namespace: subject.pod !== undefined || subject.object !== undefined ? subject.namespace : DEFAULT_NAMESPACE,
    },
    involvedObject,
    type: n.status === "failure" ? "Warning" : "Normal",
    reason: `${COMPONENT}:${what}:${n.status}`.slice(0, FIELD_LIMIT),
    action: what.slice(0, FIELD_LIMIT),
    message: eventMessage(n),
    source: { component: COMPONENT },
    reportingComponent: COMPONENT,
    reportingInstance: instance.slice(0, FIELD_LIMIT),
    firstTimestamp: n.time,
    lastTimestamp: n.time,
    eventTime: n.time, // sent with microseconds by KubeApi.createEvent
    count: 1,
  };
}

async function podUid(kube: KubeApi, subject: Subject, signal: AbortSignal): Promise<string | undefined> {
  if (subject.pod === undefined) return undefined;
  const pod = await kube.readPod({ pod: subject.pod, namespace: subject.namespace }, { signal, attempts: 1 });
  return pod.metadata?.uid;
}

export default defineNotifier({
  name: "k8sevents",
  needs: ["kubernetes"],
  notes: {
    behaviour:
      "A core/v1 Event on the pod (kind, name, uid), `Warning` on failure, else `Normal`, reason `kestrel:<actionner>:<status>`, message with rule, action, output and trace id (≤ 1024 characters).",
  },
  description: "Create a Kubernetes Event on the pod each result is about",
  params: z.strictObject({}),
  permissions: `/events: create
/pods: get`,
  example: `
default_notifiers:
  - k8sevents
notifiers:
  k8sevents: {}
`,
  create(_settings, { clients, log }) {
    const kube = kubernetesOf(clients);
    const instance = hostname() || COMPONENT;
    const post = (body: CoreV1Event, namespace: string, signal: AbortSignal): Promise<void> =>
      // One attempt: the notification queue retries what the client marks retryable (409, 429, 5xx, resets).
      kube.createEvent(namespace, body, { signal, attempts: 1 });
    return {
      async send(n, signal) {
        const subject = subjectOf(n);
        let uid: string | undefined;
        try {
          uid = await podUid(kube, subject, signal);
        } catch (err) {
          // The pod may be gone (the action terminated it): the event still names it.
          log.debug({ trace_id: n.traceId, ...errorFields(err, "ERR_KUBERNETES") }, "k8sevents: the pod's uid could not be read");
        }
        const body = eventBody(n, subject, uid, instance);
        const namespace = body.metadata.namespace!;
        try {
          await post(body, namespace, signal);
        } catch (err) {
          // The namespace does not exist (any more): Talon falls back to the default namespace.
          if (!(err instanceof KestrelError && err.code === "ERR_TARGET_GONE") || namespace === DEFAULT_NAMESPACE) throw err;
          // Its involvedObject keeps the pod's name and drops the namespace that does not exist: an Event
          // whose involvedObject names another namespace than its own is refused without an eventTime.
          const { namespace: _gone, ...involvedObject } = body.involvedObject;
          await post({ ...body, involvedObject }, DEFAULT_NAMESPACE, signal);
        }
      },
    };
  },
});
