// Faults around a running server: a notifier receiver that is down and comes back gets the notification
// (retries), a Kubernetes API that answers 500 or never answers makes actions fail cleanly within their
// deadline while other work goes on, and nothing hangs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { loggedError } from "../support/logs.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

describe("a notifier receiver that is down, then up", () => {
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
  });

  it("is retried until it is back, and the notification is delivered once", async () => {
    const first = await startReceiver();
    const port = Number(new URL(first.url).port);
    await first.close(); // down: connections are refused
    kestrel = await startKestrel({
      rules: `- rule: Act\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Ok\n      actionner: local:command\n      parameters: { command: ["/bin/true"] }\n`,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: http://127.0.0.1:${port}/hook\n    timeout_seconds: 1\n`,
    });
    const res = await kestrel.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    await new Promise((r) => setTimeout(r, 300)); // the first attempt failed meanwhile
    receiver = await startReceiver(port); // up again on the same address
    const [delivered] = await receiver.waitFor(1, 10_000);
    assert.equal((JSON.parse(delivered!.body) as { trace_id: string }).trace_id, trace_id);
    await until(() => kestrel.logs.some((l) => l["msg"] === "notification sent" && l["trace_id"] === trace_id), "the delivery", 5000);
    assert.equal(await notificationsTotal(kestrel, "webhook", "success"), 1);
    assert.equal(await notificationsTotal(kestrel, "webhook", "failure"), 0);
    assert.equal(receiver.requests.length, 1);
  });
});

describe("a Kubernetes API that fails or hangs", () => {
  let kube: KubeApiServer;
  let kestrel: RunningKestrel;
  before(async () => {
    kube = await startKubeApi();
    for (const pod of ["broken", "stuck", "fine"]) kube.addPod("prod", pod);
    kestrel = await startKestrel({
      rules: `- rule: Label\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Label the pod\n      actionner: kubernetes:label\n      parameters: { labels: { suspicious: "true" } }\n`,
      config: "action_timeout_seconds: 2\n",
      clients: createClients({ kubernetes: createKubeClient(kube.kubeConfig()) }),
    });
  });
  after(async () => {
    await kestrel?.close();
    await kube?.close();
  });

  const result = (traceId: string) =>
    kestrel.logs.find(
      (l) => l["trace_id"] === traceId && typeof l["msg"] === "string" && /^action (success|failure)|^action failed/.test(String(l["msg"])),
    );

  it("fails an action cleanly after retrying 500s, and the next one succeeds", async () => {
    kube.failNext({
      method: "PATCH",
      path: /\/pods\/broken$/,
      status: 500,
      reason: "InternalError",
      message: "etcdserver: leader changed",
      times: 10,
    });
    const res = await kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": "broken" } }));
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => result(trace_id) !== undefined, "the action's outcome", 15_000);
    const failed = result(trace_id)!;
    assert.equal(failed["msg"], "action failed");
    assert.match(loggedError(failed), /leader changed|500|InternalError/i);
    const patches = kube.requests.filter((r) => r.method === "PATCH" && r.path.endsWith("/pods/broken"));
    assert.ok(patches.length >= 2, `retried (${patches.length} attempts)`);
    const ok = await kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": "fine" } }));
    const okTrace = ((await ok.json()) as { trace_id: string }).trace_id;
    await until(() => result(okTrace)?.["msg"] === "action success", "the next action", 10_000);
  });

  it("cuts an action the API never answers at its deadline, while other pods' actions go on", async () => {
    kube.hangNext({ method: "PATCH", path: /\/pods\/stuck$/ });
    const started = Date.now();
    const stuck = await kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": "stuck" } }));
    assert.ok(Date.now() - started < 500, "the intake answers at once");
    const stuckTrace = ((await stuck.json()) as { trace_id: string }).trace_id;
    const other = await kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": "fine" } }));
    const otherTrace = ((await other.json()) as { trace_id: string }).trace_id;
    await until(() => result(otherTrace)?.["msg"] === "action success", "the other pod's action, not blocked", 5000);
    await until(() => result(stuckTrace) !== undefined, "the hung action to be cut", 10_000);
    const cut = result(stuckTrace)!;
    assert.equal(cut["msg"], "action failed");
    assert.equal(cut["code"], "ERR_TIMEOUT");
    const took = Date.now() - started;
    assert.ok(took >= 1900 && took < 6000, `cut at the 2 s deadline (${took} ms)`);
    assert.equal((await fetch(`${kestrel.url}/healthz`)).status, 200);
  });
});
