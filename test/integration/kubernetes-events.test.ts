// The k8sevents notifier and the k8snode context through the running server against the Kubernetes API
// test server: a Falco event posted to Kestrel → an action → a core/v1 Event on the pod (type, reason,
// involvedObject with the pod's uid, message with the trace id, truncation, fallbacks, retries), and the
// node's labels reaching an action's templated parameters and the event's context.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, type KubeObject, startKubeApi } from "../support/kube-api/index.ts";
import { loggedError } from "../support/logs.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

type LogEntry = Record<string, unknown>;

async function post(kestrel: RunningKestrel, rule: string, fields: Record<string, unknown>, hostname?: string): Promise<string> {
  let body = falcoEvent({ rule, fields });
  if (hostname !== undefined) body = JSON.stringify({ ...JSON.parse(body), hostname });
  const res = await kestrel.post(body);
  assert.equal(res.status, 200);
  return ((await res.json()) as { trace_id: string }).trace_id;
}

describe("k8sevents notifier", () => {
  let kube: KubeApiServer;
  let kestrel: RunningKestrel;
  let pod: KubeObject;

  const RULES = `
- rule: Echo
  match: { rules: [Echo rule] }
  actions:
    - action: Say hello
      actionner: local:command
      parameters: { command: ["/bin/echo", "hello"] }

- rule: Fail
  match: { rules: [Failing rule] }
  actions:
    - action: Fail loudly
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo 'it broke' >&2; exit 3"] }

- rule: Chatty
  match: { rules: [Chatty rule] }
  actions:
    - action: Print a lot
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "for i in $(seq 1 400); do printf 'é%04d ' $i; done"] }
`;

  before(async () => {
    kube = await startKubeApi();
    kube.addNamespace("prod");
    pod = kube.addPod("prod", "web-1", { labels: { app: "web" } });
    kestrel = await startKestrel({
      rules: RULES,
      config: "default_notifiers: [k8sevents]\n",
      clients: createClients({ kubernetes: createKubeClient(kube.kubeConfig()) }),
    });
  });
  after(async () => {
    await kestrel?.close();
    await kube?.close();
  });

  const eventsFor = (traceId: string): KubeObject[] =>
    kube.list("v1", "Event").filter((e) => typeof e.message === "string" && e.message.includes(`TraceID: ${traceId}`));
  const waitEvent = async (traceId: string): Promise<KubeObject> => {
    await until(() => eventsFor(traceId).length > 0, `the Event of ${traceId}`, 8000);
    return eventsFor(traceId)[0]!;
  };

  it("records a success as a Normal event on the pod, with its uid, Kestrel's reason and the trace id", async () => {
    const traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const ev = await waitEvent(traceId);
    assert.equal(ev.metadata.namespace, "prod");
    assert.match(String(ev.metadata.name), /^kestrel-/, "named by generateName");
    assert.deepEqual(ev.involvedObject, { apiVersion: "v1", kind: "Pod", namespace: "prod", name: "web-1", uid: pod.metadata.uid });
    assert.equal(ev.type, "Normal");
    assert.equal(ev.reason, "kestrel:local:command:success");
    assert.equal(ev.action, "local:command");
    assert.deepEqual(ev.source, { component: "kestrel" });
    assert.equal(ev.reportingComponent, "kestrel");
    assert.ok(typeof ev.reportingInstance === "string" && ev.reportingInstance !== "");
    assert.equal(ev.count, 1);
    assert.match(ev.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "eventTime in microseconds");
    assert.ok(ev.firstTimestamp && ev.firstTimestamp === ev.lastTimestamp);
    const lines = String(ev.message).split("\n");
    assert.deepEqual(lines.slice(0, 6), [
      "Status: success",
      "Message: action",
      "Rule: Echo",
      "Action: Say hello",
      "Actionner: local:command",
      `TraceID: ${traceId}`,
    ]);
    assert.ok(lines.includes("command: /bin/echo"));
    assert.ok(lines.some((l) => l.startsWith("Output: the command '/bin/echo' succeeded")));
    assert.match(lines.at(-1)!, /^Event: .*A shell was spawned/);
  });

  it("records a failure as a Warning with the error", async () => {
    const traceId = await post(kestrel, "Failing rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const ev = await waitEvent(traceId);
    assert.equal(ev.type, "Warning");
    assert.equal(ev.reason, "kestrel:local:command:failure");
    assert.match(ev.message, /\nError: \/bin\/sh exited with code 3: it broke\n/);
  });

  it("cuts a long message to 1024 bytes on a character boundary, ending with an ellipsis, keeping the trace id", async () => {
    const traceId = await post(kestrel, "Chatty rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const ev = await waitEvent(traceId);
    const bytes = Buffer.byteLength(ev.message, "utf8");
    assert.ok(bytes <= 1024 && bytes > 1000, `${bytes} bytes`);
    assert.ok(ev.message.endsWith("…"));
    assert.ok(!ev.message.includes("\uFFFD"), "no character cut in half");
    assert.match(ev.message, /Output: the command '\/bin\/sh' succeeded\né0001 é0002/);
  });

  it("still names a pod that is gone (without uid), and falls back to the default namespace when its namespace does not exist", async () => {
    let traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-gone" });
    let ev = await waitEvent(traceId);
    assert.deepEqual(ev.involvedObject, { apiVersion: "v1", kind: "Pod", namespace: "prod", name: "web-gone" });

    traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": "ghost", "k8s.pod.name": "web-9" });
    ev = await waitEvent(traceId);
    assert.equal(ev.metadata.namespace, "default");
    assert.deepEqual(ev.involvedObject, { apiVersion: "v1", kind: "Pod", name: "web-9" });
  });

  it("records an event without pod on the node named by the event's hostname", async () => {
    const traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": null, "k8s.pod.name": null }, "worker-7");
    const ev = await waitEvent(traceId);
    assert.equal(ev.metadata.namespace, "default");
    assert.deepEqual(ev.involvedObject, { apiVersion: "v1", kind: "Node", name: "worker-7" });
  });

  it("is retried by the notification queue after a 5xx, and not after a 403", async () => {
    kube.failNext({
      method: "POST",
      path: /\/namespaces\/prod\/events$/,
      status: 503,
      reason: "ServiceUnavailable",
      message: "etcd is busy",
    });
    let mark = kube.requests.length;
    let traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    await waitEvent(traceId);
    const posts = () => kube.requests.slice(mark).filter((r) => r.method === "POST" && r.path.endsWith("/events"));
    assert.deepEqual(
      posts().map((r) => r.status),
      [503, 201],
    );

    kube.failNext({
      method: "POST",
      path: /\/namespaces\/prod\/events$/,
      status: 403,
      reason: "Forbidden",
      message: "events is forbidden",
    });
    mark = kube.requests.length;
    traceId = await post(kestrel, "Echo rule", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const isFailure = (l: LogEntry) => l["msg"] === "notification failed" && l["trace_id"] === traceId;
    await until(() => kestrel.logs.some(isFailure), "the failure log", 5000);
    assert.match(loggedError(kestrel.logs.find(isFailure)!), /events is forbidden .*RBAC/);
    assert.equal(posts().length, 1, "a 403 is not retried");
    assert.equal(eventsFor(traceId).length, 0);
  });
});

describe("k8snode context", () => {
  let kube: KubeApiServer;
  let kestrel: RunningKestrel;
  let receiver: Receiver;

  const RULES = `
- rule: Node facts
  match: { rules: [Node facts] }
  actions:
    - action: Echo the node
      actionner: local:command
      additional_contexts: [k8snode]
      parameters:
        command: ["/bin/echo", "host=\${NODE_HOSTNAME} type=\${NODE_INSTANCETYPE} role=\${NODE_ROLE} region=\${NODE_TOPOLOGY_REGION} zone=\${NODE_TOPOLOGY_ZONE} provider=\${NODE_SPEC_PROVIDERID} documented=\${NODE_SPEC_PROVIDEDID}"]

- rule: Node context on stdin
  match: { rules: [Node context on stdin] }
  actions:
    - action: Print the context
      actionner: local:command
      additional_contexts: [k8snode]
      parameters: { command: ["/bin/cat"] }
`;

  before(async () => {
    kube = await startKubeApi();
    kube.addNamespace("prod");
    kube.addNode("ip-10-0-1-5.ec2.internal", {
      labels: {
        "kubernetes.io/hostname": "ip-10-0-1-5",
        "node.kubernetes.io/instance-type": "m5.large",
        "node-role.kubernetes.io/worker": "",
        "node-role.kubernetes.io/ingress": "",
        "topology.kubernetes.io/region": "eu-west-3",
        "topology.kubernetes.io/zone": "eu-west-3a",
      },
      providerID: "aws:///eu-west-3a/i-0abc",
    });
    kube.addNode("node-old", { labels: { "beta.kubernetes.io/instance-type": "n1-standard-2", "kubernetes.io/role": "master" } });
    kube.addPod("prod", "web-1", { node: "ip-10-0-1-5.ec2.internal" });
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/\n`,
      clients: createClients({ kubernetes: createKubeClient(kube.kubeConfig()) }),
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kube?.close();
  });

  /** The notification body of a trace, from the webhook receiver. */
  async function result(traceId: string): Promise<{ status: string; output?: string; error?: string }> {
    type Body = { status: string; output?: string; error?: string; trace_id: string };
    const find = () => receiver.requests.map((r) => JSON.parse(r.body) as Body).find((b) => b.trace_id === traceId);
    await until(() => find() !== undefined, `the notification of ${traceId}`, 8000);
    return find()!;
  }

  it("fills NODE_* template variables from the labels and spec of the pod's node", async () => {
    const traceId = await post(kestrel, "Node facts", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const r = await result(traceId);
    assert.equal(r.status, "success", r.error);
    assert.match(
      r.output!,
      /\nhost=ip-10-0-1-5 type=m5\.large role=ingress,worker region=eu-west-3 zone=eu-west-3a provider=aws:\/\/\/eu-west-3a\/i-0abc documented=aws:\/\/\/eu-west-3a\/i-0abc$/,
    );
  });

  it("puts the node.* entries into the event's context given to the program", async () => {
    const traceId = await post(kestrel, "Node context on stdin", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    const r = await result(traceId);
    const json = JSON.parse(r.output!.slice(r.output!.indexOf("\n") + 1)) as { context: Record<string, string> };
    assert.equal(json.context["node.hostname"], "ip-10-0-1-5");
    assert.equal(json.context["node.topology.zone"], "eu-west-3a");
    assert.equal(json.context["node.spec.providerid"], "aws:///eu-west-3a/i-0abc");
  });

  it("falls back to the node named by the event's hostname, with beta and kubernetes.io/role labels, and empty values for missing labels", async () => {
    const traceId = await post(kestrel, "Node facts", { "k8s.ns.name": "prod", "k8s.pod.name": "gone-pod" }, "node-old");
    const r = await result(traceId);
    assert.equal(r.status, "success", r.error);
    assert.match(r.output!, /\nhost=node-old type=n1-standard-2 role=master region= zone= provider= documented=$/);
  });

  it("fails the action (not the server) when the node does not exist, or when the API does not answer in time", async () => {
    let traceId = await post(kestrel, "Node facts", { "k8s.ns.name": "prod", "k8s.pod.name": "gone-pod" }, "no-such-node");
    let r = await result(traceId);
    assert.equal(r.status, "failure");
    assert.match(r.error!, /context "k8snode": cannot read the node 'no-such-node': not found/);

    kube.hangNext({ method: "GET", path: /\/nodes\/ip-10-0-1-5\.ec2\.internal$/ });
    const started = Date.now();
    traceId = await post(kestrel, "Node facts", { "k8s.ns.name": "prod", "k8s.pod.name": "web-1" });
    r = await result(traceId);
    assert.equal(r.status, "failure");
    assert.match(r.error!, /context "k8snode": the Kubernetes API did not answer within 3 s/);
    assert.ok(Date.now() - started < 6000);
  });
});
