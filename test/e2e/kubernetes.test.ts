// `kestrel server` as a process, pointed at the Kubernetes API test server through a kubeconfig file:
// an event for a pod makes kubernetes:terminate delete it; and one server process runs every Kubernetes
// plugin (the kubernetes, calico and cilium actionners, local:file, the k8snode context, the k8sevents
// notifier) from its rules, each checked on the API store, the containers, the files and the notifications.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { falcoEvent } from "../support/events.ts";
import type { WebhookNotification } from "../support/kestrel.ts";
import { type KubeApiServer, type KubeObject, startKubeApi } from "../support/kube-api/index.ts";
import { moduleTrace } from "../support/module-trace.ts";
import { type KestrelProcess, startKestrelProcess } from "../support/process.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

describe("kestrel server with a kubeconfig", () => {
  it("terminates the pod of an event through the Kubernetes API (client-node loaded for it)", async () => {
    const kubeApi = await startKubeApi();
    const trace = moduleTrace();
    const dir = await mkdtemp(join(tmpdir(), "kestrel-e2e-k8s-"));
    const kubeconfig = await kubeApi.writeKubeconfig(dir);
    await writeFile(join(dir, "config.yaml"), `listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nkubeconfig: ${kubeconfig}\n`);
    await writeFile(
      join(dir, "rules.yaml"),
      `
- rule: Terminal shell in container
  match:
    rules: [Terminal shell in container]
  actions:
    - action: Terminate the pod
      actionner: kubernetes:terminate
`,
    );
    kubeApi.addNode("node-e2e");
    kubeApi.addPod("default", "shell-pod", { node: "node-e2e" });
    const kestrel = await startKestrelProcess({
      config: join(dir, "config.yaml"),
      rules: join(dir, "rules.yaml"),
      env: trace.env,
      timeoutMs: 10_000,
    }).catch(async (err: unknown) => {
      await kubeApi.close();
      throw err;
    });
    try {
      const res = await kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "default", "k8s.pod.name": "shell-pod" } }));
      assert.equal(res.status, 200);
      await until(() => kubeApi.get("v1", "Pod", "default", "shell-pod") === undefined, "the pod to be deleted", 10_000);
      await kestrel.waitForLine("the pod 'shell-pod' in the namespace 'default' has been terminated", 5000, "the result log");
      assert.equal(await kestrel.stop(), 0);
      // The library is loaded lazily (cli.test.ts checks that rules without Kubernetes never load it).
      assert.notDeepEqual(trace.loaded("/node_modules/@kubernetes/client-node/"), [], "the Kubernetes client library was loaded");
    } finally {
      kestrel.kill();
      await kubeApi.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Every Kubernetes plugin from ONE `kestrel server` process: a rules file with one rule per actionner (and
// the k8snode context), the webhook and k8sevents notifiers, local:file artifacts in a temporary folder.
// One Falco event per rule, each on its own pod, all posted at once; each test then checks what its event
// promised: the objects in the API store, the commands run in the fake containers, the files written, the
// webhook notifications and the Kubernetes Events.

const E2E_RULES = (dest: string) => `
- rule: Terminate
  match: { rules: [E2E terminate] }
  actions:
    - action: Terminate the pod
      actionner: kubernetes:terminate
      parameters: { grace_period_seconds: 3 }

- rule: Terminate sparing DaemonSets
  match: { rules: [E2E terminate DaemonSet pod] }
  actions:
    - action: Terminate unless DaemonSet
      actionner: kubernetes:terminate
      parameters: { ignore_daemonsets: true }

- rule: Label
  match: { rules: [E2E label] }
  actions:
    - action: Label the pod
      actionner: kubernetes:label
      parameters:
        labels: { quarantined: true, proc: "\${PROC_NAME}", stale: "" }

- rule: Annotate node
  match: { rules: [E2E annotation] }
  actions:
    - action: Annotate the node
      actionner: kubernetes:annotation
      parameters:
        level: node
        annotations: { kestrel.dev/rule: "\${RULE}" }

- rule: Network policy
  match: { rules: [E2E networkpolicy] }
  actions:
    - action: Block egress
      actionner: kubernetes:networkpolicy
      parameters: { allow_cidr: ["192.168.1.0/24"] }

- rule: Exec
  match: { rules: [E2E exec] }
  actions:
    - action: Read the file
      actionner: kubernetes:exec
      parameters: { command: "cat \${FD_NAME}" }

- rule: Script
  match: { rules: [E2E script] }
  actions:
    - action: Inspect
      actionner: kubernetes:script
      parameters:
        script: |
          touch /tmp/kestrel-was-here
          cat \${FD_NAME} | wc -c

- rule: Log
  match: { rules: [E2E log] }
  actions:
    - action: Tail the log
      actionner: kubernetes:log
      parameters: { tail_lines: 3 }

- rule: Download
  match: { rules: [E2E download] }
  actions:
    - action: Download the file
      actionner: kubernetes:download
      parameters: { file: "\${FD_NAME}" }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Tcpdump
  match: { rules: [E2E tcpdump] }
  actions:
    - action: Capture the packets
      actionner: kubernetes:tcpdump
      parameters: { duration: 2 }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Sysdig
  match: { rules: [E2E sysdig] }
  actions:
    - action: Capture the syscalls
      actionner: kubernetes:sysdig
      parameters: { duration: 1 }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Delete
  match: { rules: [E2E delete] }
  actions:
    - action: Delete the target
      actionner: kubernetes:delete

- rule: Cordon
  match: { rules: [E2E cordon] }
  actions:
    - action: Cordon the node
      actionner: kubernetes:cordon

- rule: Drain
  match: { rules: [E2E drain] }
  actions:
    - action: Drain the node
      actionner: kubernetes:drain
      parameters: { ignore_daemonsets: true }

- rule: Calico
  match: { rules: [E2E calico] }
  actions:
    - action: Calico deny
      actionner: calico:networkpolicy

- rule: Cilium
  match: { rules: [E2E cilium] }
  actions:
    - action: Cilium deny
      actionner: cilium:networkpolicy

- rule: Node context
  match: { rules: [E2E k8snode] }
  actions:
    - action: Echo the node
      actionner: kubernetes:exec
      additional_contexts: [k8snode]
      parameters: { command: "echo \${NODE_HOSTNAME} \${NODE_TOPOLOGY_ZONE}" }
`;

describe("kestrel server with a kubeconfig: every Kubernetes plugin in one process", () => {
  const NS = "e2e";
  const EVIDENCE = randomBytes(64 * 1024);
  let kubeApi: KubeApiServer;
  let receiver: Receiver;
  let kestrel: KestrelProcess | undefined;
  let lines: string[] = [];
  let dest: string;
  /** The trace id of each Falco rule's event, once posted. */
  const traces = new Map<string, Promise<string>>();
  let seeded: {
    agentPod: string;
    npRs: string;
    drainPods: string[];
    drainDsPods: string[];
    calicoRs: string;
    ciliumRs: string;
    sysPod: KubeObject;
    drainTrigger: string;
    npPod: string;
    calicoPod: string;
    ciliumPod: string;
  };

  /** The events to post: the Falco rule, its fields, and a source other than syscall where it matters. */
  function events(): { rule: string; fields: Record<string, unknown>; source?: string }[] {
    const at = (pod: string) => ({ "k8s.ns.name": NS, "k8s.pod.name": pod });
    return [
      { rule: "E2E terminate", fields: at("term-1") },
      { rule: "E2E terminate DaemonSet pod", fields: at(seeded.agentPod) },
      { rule: "E2E label", fields: { ...at("label-1"), "proc.name": "bash" } },
      { rule: "E2E annotation", fields: at("annot-1") },
      { rule: "E2E networkpolicy", fields: at(seeded.npPod) },
      { rule: "E2E exec", fields: { ...at("exec-1"), "fd.name": "/etc/secret file" } },
      { rule: "E2E script", fields: { ...at("script-1"), "fd.name": "/data/in put" } },
      { rule: "E2E log", fields: at("log-1") },
      { rule: "E2E download", fields: { ...at("dl-1"), "fd.name": "/data/evidence.bin" } },
      { rule: "E2E tcpdump", fields: at("cap-1") },
      { rule: "E2E sysdig", fields: at("sys-1") },
      {
        rule: "E2E delete",
        source: "k8s_audit",
        fields: {
          "k8s.ns.name": null,
          "k8s.pod.name": null,
          "ka.target.resource": "configmaps",
          "ka.target.name": "leaked",
          "ka.target.namespace": NS,
        },
      },
      { rule: "E2E cordon", fields: at("cordon-1") },
      { rule: "E2E drain", fields: at(seeded.drainTrigger) },
      { rule: "E2E calico", fields: { ...at(seeded.calicoPod), "fd.rip": "203.0.113.7" } },
      { rule: "E2E cilium", fields: { ...at(seeded.ciliumPod), "fd.rip": "203.0.113.8" } },
      { rule: "E2E k8snode", fields: at("nodeinfo-1") },
    ];
  }

  function seed(): void {
    kubeApi.addNamespace(NS);
    for (const n of ["node-work", "node-annotate", "node-cordon", "node-drain"]) kubeApi.addNode(n);
    kubeApi.addNode("ip-10-0-1-5.ec2.internal", {
      labels: { "kubernetes.io/hostname": "ip-10-0-1-5", "topology.kubernetes.io/zone": "eu-west-3a" },
    });
    const on = { node: "node-work" };
    kubeApi.addPod(NS, "term-1", on);
    const agent = kubeApi.addDaemonSet(NS, "agent", { nodes: ["node-work"] });
    kubeApi.addPod(NS, "label-1", { ...on, labels: { app: "label", stale: "yes" } });
    kubeApi.addPod(NS, "annot-1", { node: "node-annotate" });
    const np = kubeApi.addDeployment(NS, "np-web", { ...on, labels: { app: "np-web", tier: "front" } });
    kubeApi.addPod(NS, "exec-1", on);
    kubeApi.setFile(NS, "exec-1", "app", "/etc/secret file", "the secret\n");
    kubeApi.addPod(NS, "script-1", on);
    kubeApi.setFile(NS, "script-1", "app", "/data/in put", "12345");
    kubeApi.addPod(NS, "log-1", { ...on, containers: ["app", "sidecar"] });
    for (let i = 1; i <= 10; i++) kubeApi.appendLog(NS, "log-1", "app", `app line ${i}`);
    kubeApi.addPod(NS, "dl-1", on);
    kubeApi.setFile(NS, "dl-1", "app", "/data/evidence.bin", EVIDENCE);
    kubeApi.addPod(NS, "cap-1", on);
    const sysPod = kubeApi.addPod(NS, "sys-1", { ...on, containers: ["app", "sidecar"] });
    kubeApi.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "leaked", namespace: NS }, data: { token: "s3cr3t" } });
    kubeApi.addPod(NS, "cordon-1", { node: "node-cordon" });
    const drain = kubeApi.addDeployment(NS, "drain-api", { replicas: 2, node: "node-drain" });
    const drainDs = kubeApi.addDaemonSet(NS, "drain-logs", { nodes: ["node-drain"] });
    const calico = kubeApi.addDeployment(NS, "calico-web", on);
    const cilium = kubeApi.addDeployment(NS, "cilium-web", on);
    kubeApi.addPod(NS, "nodeinfo-1", { node: "ip-10-0-1-5.ec2.internal" });
    const name = (o: KubeObject) => o.metadata.name as string;
    seeded = {
      agentPod: name(agent.pods[0]!),
      npRs: name(np.replicaSet),
      npPod: name(np.pods[0]!),
      drainPods: drain.pods.map(name),
      drainDsPods: drainDs.pods.map(name),
      drainTrigger: name(drain.pods[0]!),
      calicoRs: name(calico.replicaSet),
      calicoPod: name(calico.pods[0]!),
      ciliumRs: name(cilium.replicaSet),
      ciliumPod: name(cilium.pods[0]!),
      sysPod,
    };
    // The Job controller and kubelet: a running pod for each Job kubernetes:sysdig creates.
    kubeApi.onChange((type, obj) => {
      if (type !== "ADDED" || obj.kind !== "Job") return;
      const job = obj.metadata.name as string;
      setImmediate(() =>
        kubeApi.addPod(obj.metadata.namespace as string, `${job}-p0d00`, {
          node: obj.spec.template.spec.nodeName,
          labels: { ...obj.spec.template.metadata.labels, "job-name": job, "batch.kubernetes.io/job-name": job },
          containers: obj.spec.template.spec.containers.map((c: { name: string }) => c.name),
          owner: obj,
        }),
      );
    });
  }

  const notified = (): WebhookNotification[] => receiver.requests.map((r) => JSON.parse(r.body) as WebhookNotification);

  /** The `count` webhook notifications of the event of `rule` (action first, then its output). */
  async function notificationsOf(rule: string, count = 1): Promise<WebhookNotification[]> {
    const traceId = await traces.get(rule)!;
    const mine = () => notified().filter((b) => b.trace_id === traceId);
    await until(() => mine().length >= count, `${count} notification(s) for "${rule}":\n${lines.slice(-20).join("\n")}`, 10_000);
    const list = mine();
    assert.equal(list.length, count, JSON.stringify(list));
    return [...list.filter((b) => b.message === "action"), ...list.filter((b) => b.message === "output")];
  }

  /** The Kubernetes Events k8sevents recorded for the event of `rule`, one per notification. */
  async function k8sEventsOf(rule: string, count: number): Promise<KubeObject[]> {
    const traceId = await traces.get(rule)!;
    const mine = () =>
      kubeApi.list("v1", "Event").filter((e) => typeof e.message === "string" && e.message.includes(`TraceID: ${traceId}\n`));
    await until(() => mine().length >= count, `${count} Kubernetes Event(s) for "${rule}"`, 10_000);
    return mine();
  }

  /** The webhook says success (or `status`), and k8sevents recorded it as an Event on the pod. */
  async function expectResult(rule: string, status: string, pod: string | undefined, outputs = 0): Promise<WebhookNotification[]> {
    const bodies = await notificationsOf(rule, 1 + outputs);
    for (const b of bodies) assert.equal(b.status, b.message === "action" ? status : "success", `${rule}: ${b.error ?? b.output}`);
    const evs = await k8sEventsOf(rule, 1 + outputs);
    assert.equal(evs.length, 1 + outputs);
    const reasons = evs.map((e) => e.reason as string).sort();
    const expected = bodies
      .map((b) => `kestrel:${b.message === "output" ? b.output_target : b.actionner}:${b.message === "output" ? "success" : status}`)
      .sort();
    assert.deepEqual(reasons, expected);
    for (const ev of evs) {
      assert.equal(ev.type, "Normal");
      assert.equal(ev.reportingComponent, "kestrel");
      if (pod !== undefined) {
        assert.equal(ev.metadata.namespace, NS);
        assert.deepEqual(
          { kind: ev.involvedObject.kind, namespace: ev.involvedObject.namespace, name: ev.involvedObject.name },
          { kind: "Pod", namespace: NS, name: pod },
        );
      }
    }
    return bodies;
  }

  const pod = (name: string) => kubeApi.get("v1", "Pod", NS, name);
  const node = (name: string) => kubeApi.get("v1", "Node", undefined, name);
  const execsIn = (name: string) => kubeApi.execLog.filter((e) => e.namespace === NS && e.pod === name).map((e) => e.argv);

  before(async () => {
    kubeApi = await startKubeApi({ timeScale: 0.01, calicoApiServer: true });
    receiver = await startReceiver();
    const dir = await mkdtemp(join(tmpdir(), "kestrel-e2e-k8s-all-"));
    dest = join(dir, "artifacts");
    await mkdir(dest);
    const kubeconfig = await kubeApi.writeKubeconfig(dir);
    await writeFile(
      join(dir, "config.yaml"),
      [
        "listen_address: 127.0.0.1",
        "listen_port: 0",
        "log_format: json",
        `kubeconfig: ${kubeconfig}`,
        "action_timeout_seconds: 10",
        "shutdown_timeout_seconds: 5",
        "default_notifiers: [webhook, k8sevents]",
        "notifiers:",
        "  webhook:",
        `    url: ${receiver.url}/hook`,
        "  k8sevents: {}",
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, "rules.yaml"), E2E_RULES(dest));
    seed();
    kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml"), timeoutMs: 10_000 });
    lines = kestrel.lines;
    const running = kestrel;
    for (const e of events()) {
      const body =
        e.source === undefined
          ? falcoEvent({ rule: e.rule, fields: e.fields })
          : falcoEvent({ rule: e.rule, fields: e.fields, source: e.source });
      const posted = running.post(body).then(async (res) => {
        assert.equal(res.status, 200, `POST of "${e.rule}"`);
        return ((await res.json()) as { trace_id: string }).trace_id;
      });
      posted.catch(() => {}); // awaited by the test of that rule
      traces.set(e.rule, posted);
    }
  });

  after(async () => {
    kestrel?.kill();
    await receiver?.close();
    await kubeApi?.close();
  });

  it("kubernetes:terminate deletes the pod, and leaves a DaemonSet's pod alone with ignore_daemonsets (ignored)", async () => {
    const [done] = await expectResult("E2E terminate", "success", "term-1");
    assert.equal(done!.output, `the pod 'term-1' in the namespace '${NS}' has been terminated`);
    assert.equal(pod("term-1"), undefined);
    assert.ok(
      kubeApi.deletions.some((d) => d.kind === "Pod" && d.name === "term-1" && d.gracePeriodSeconds === 3),
      JSON.stringify(kubeApi.deletions),
    );

    const [ignored] = await expectResult("E2E terminate DaemonSet pod", "ignored", seeded.agentPod);
    assert.match(ignored!.output ?? "", /DaemonSet/);
    assert.notEqual(pod(seeded.agentPod), undefined);
  });

  it("kubernetes:label and kubernetes:annotation patch the pod and the node", async () => {
    const [label] = await expectResult("E2E label", "success", "label-1");
    assert.equal(label!.output, `the pod 'label-1' in the namespace '${NS}' has been labeled`);
    assert.deepEqual(pod("label-1")!.metadata.labels, { app: "label", quarantined: "true", proc: "bash" });

    const [annotation] = await expectResult("E2E annotation", "success", "annot-1");
    assert.equal(annotation!.output, "the node 'node-annotate' has been annotated");
    assert.equal(node("node-annotate")!.metadata.annotations?.["kestrel.dev/rule"], "E2E annotation", "RULE is the Falco rule");
  });

  it("kubernetes:networkpolicy, calico:networkpolicy and cilium:networkpolicy store their policies", async () => {
    const [np] = await expectResult("E2E networkpolicy", "success", seeded.npPod);
    assert.equal(np!.output, `the networkpolicy '${seeded.npRs}' in the namespace '${NS}' has been created`);
    const policy = kubeApi.get("networking.k8s.io/v1", "NetworkPolicy", NS, seeded.npRs)!;
    assert.deepEqual(policy.spec.podSelector, { matchLabels: { app: "np-web", tier: "front" } });
    assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
    assert.deepEqual(policy.spec.egress, [{ to: [{ ipBlock: { cidr: "192.168.1.0/24" } }] }]);

    const [calico] = await expectResult("E2E calico", "success", seeded.calicoPod);
    assert.equal(calico!.output, `the caliconetworkpolicy '${seeded.calicoRs}' in the namespace '${NS}' has been created`);
    // Calico's API server is up: its projectcalico.org/v3 API, the policy under the owner's name.
    const calicoPolicy = kubeApi.get("projectcalico.org/v3", "NetworkPolicy", NS, seeded.calicoRs)!;
    assert.equal(calicoPolicy.spec.tier, "default");
    assert.deepEqual(calicoPolicy.spec.egress, [{ action: "Deny", destination: { nets: ["203.0.113.7/32"] } }, { action: "Allow" }]);
    assert.equal(kubeApi.list("crd.projectcalico.org/v1", "NetworkPolicy", NS).length, 0, "not the CRD");

    const [cilium] = await expectResult("E2E cilium", "success", seeded.ciliumPod);
    assert.equal(cilium!.output, `the ciliumnetworkpolicy '${seeded.ciliumRs}' in the namespace '${NS}' has been created`);
    const ciliumPolicy = kubeApi.get("cilium.io/v2", "CiliumNetworkPolicy", NS, seeded.ciliumRs)!;
    assert.deepEqual(ciliumPolicy.spec.egressDeny, [{ toCIDR: ["203.0.113.8/32"] }]);
    assert.deepEqual(ciliumPolicy.spec.egress, [{ toEntities: ["all"] }]);
  });

  it("kubernetes:exec and kubernetes:script run in the pod's container, event values kept one word", async () => {
    const [exec] = await expectResult("E2E exec", "success", "exec-1");
    assert.equal(exec!.output, `the command has been run in the container 'app' of the pod 'exec-1' in the namespace '${NS}'\nthe secret`);
    // The command's text is fixed at load; the value is a positional parameter, copied and shifted off.
    assert.deepEqual(execsIn("exec-1"), [
      ["/bin/sh", "-c", '__kestrel_1="${1}"; shift 1; cat "${__kestrel_1}"', "kestrel", "/etc/secret file"],
      ["shift", "1"],
      ["cat", "/etc/secret file"],
    ]);

    const [script] = await expectResult("E2E script", "success", "script-1");
    assert.match(
      script!.output ?? "",
      new RegExp(`^the script has been run in the container 'app' of the pod 'script-1' in the namespace '${NS}'\\n5$`),
    );
    const scriptExecs = execsIn("script-1");
    assert.deepEqual(scriptExecs.slice(0, 3), [
      ["/bin/sh", "-s", "--", "/data/in put"],
      ["shift", "1"],
      ["touch", "/tmp/kestrel-was-here"],
    ]);
    // The two sides of the pipe start in either order.
    assert.deepEqual(scriptExecs.slice(3).sort(), [
      ["cat", "/data/in put"],
      ["wc", "-c"],
    ]);
    assert.notEqual(kubeApi.getFile(NS, "script-1", "app", "/tmp/kestrel-was-here"), undefined);
  });

  it("kubernetes:log returns the last tail_lines lines of the container", async () => {
    const [log] = await expectResult("E2E log", "success", "log-1");
    assert.equal(
      log!.output,
      `the logs of the container 'app' of the pod 'log-1' in the namespace '${NS}' have been downloaded\napp line 8\napp line 9\napp line 10`,
    );
    const [request] = kubeApi.requests.filter((r) => r.path === `/api/v1/namespaces/${NS}/pods/log-1/log`);
    assert.equal(request?.query["tailLines"], "3");
  });

  it("kubernetes:download, kubernetes:tcpdump and kubernetes:sysdig stream their artifacts to local:file", async () => {
    const [dl, dlOut] = await expectResult("E2E download", "success", "dl-1", 1);
    assert.match(dl!.output ?? "", /the file '\/data\/evidence\.bin' of the container 'app' of the pod 'dl-1'/);
    assert.equal(dlOut!.output_target, "local:file");
    assert.match(
      dlOut!.location ?? "",
      new RegExp(`^file://${dest}/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ_[0-9a-f]{32}_${NS}_dl-1__data_evidence\\.bin$`),
    );
    assert.deepEqual(await readFile(new URL(dlOut!.location!)), EVIDENCE);

    const [, capOut] = await expectResult("E2E tcpdump", "success", "cap-1", 1);
    assert.match(capOut!.location ?? "", new RegExp(`_${NS}_cap-1_tcpdump\\.pcap$`));
    const pcap = await readFile(new URL(capOut!.location!));
    assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4, "pcap magic");
    assert.ok(pcap.length > 24, "packets after the header");
    const [ephemeral] = pod("cap-1")!.spec.ephemeralContainers as KubeObject[];
    assert.match(ephemeral!.name, /^kestrel-tcpdump-[a-z0-9]{5}$/);
    assert.ok(kubeApi.execLog.some((e) => e.pod === "cap-1" && e.container === ephemeral!.name && e.argv.includes("tcpdump")));

    const [sys, sysOut] = await expectResult("E2E sysdig", "success", "sys-1", 1);
    const job = /\(Job '(kestrel-sysdig-[a-z0-9]{5})'\)/.exec(sys!.output ?? "")?.[1];
    assert.ok(job !== undefined, sys!.output);
    assert.match(sysOut!.location ?? "", new RegExp(`_${NS}_sys-1_sysdig\\.scap\\.gz$`));
    const scap = gunzipSync(await readFile(new URL(sysOut!.location!)));
    assert.equal(scap.readUInt32LE(0), 0x0a0d0d0a, "scap section header");
    const ids = (seeded.sysPod.status.containerStatuses as { containerID: string }[]).map((s) =>
      s.containerID.slice("containerd://".length, "containerd://".length + 12),
    );
    const sysdig = kubeApi.execLog.find((e) => e.pod === `${job}-p0d00` && e.argv[0] === "sysdig");
    assert.equal(sysdig?.argv.at(-1), `container.id in (${ids.join(",")})`);
    await until(() => kubeApi.get("batch/v1", "Job", NS, job!) === undefined, "the sysdig Job to be deleted", 5000);

    assert.deepEqual((await readdir(dest)).filter((f) => !f.startsWith(".")).length, 3, "one file per artifact, no temporary file left");
  });

  it("kubernetes:delete deletes the object the audit event targets", async () => {
    const bodies = await notificationsOf("E2E delete");
    assert.equal(bodies[0]!.status, "success", bodies[0]!.error);
    assert.equal(bodies[0]!.output, `the configmap 'leaked' in the namespace '${NS}' has been deleted`);
    assert.deepEqual(bodies[0]!.objects, { Resource: "configmaps", Name: "leaked", Namespace: NS });
    assert.equal(kubeApi.get("v1", "ConfigMap", NS, "leaked"), undefined);
    const [ev] = await k8sEventsOf("E2E delete", 1);
    assert.equal(ev!.reason, "kestrel:kubernetes:delete:success");
    assert.equal(ev!.metadata.namespace, NS);
  });

  it("k8sevents records the deletion of a ConfigMap on the ConfigMap, not on a pod of its name", async () => {
    const [ev] = await k8sEventsOf("E2E delete", 1);
    assert.deepEqual(ev!.involvedObject, { apiVersion: "v1", kind: "ConfigMap", name: "leaked", namespace: NS });
  });

  it("kubernetes:cordon and kubernetes:drain cordon the node and evict its pods, DaemonSet pods left", async () => {
    const [cordon] = await expectResult("E2E cordon", "success", "cordon-1");
    assert.equal(cordon!.output, "the node 'node-cordon' has been cordoned");
    assert.equal(node("node-cordon")!.spec.unschedulable, true);
    assert.notEqual(pod("cordon-1"), undefined);

    const [drain] = await expectResult("E2E drain", "success", seeded.drainTrigger);
    assert.equal(
      drain!.output,
      "the node 'node-drain' has been drained, errors are ignored: 1 ignored pods, 0 eviction errors, 0 other errors",
    );
    assert.equal(node("node-drain")!.spec.unschedulable, true);
    for (const p of seeded.drainPods) assert.equal(pod(p), undefined, `${p} evicted`);
    for (const p of seeded.drainDsPods) assert.notEqual(pod(p), undefined, `${p} left`);
    const evicted = kubeApi.requests.filter((r) => r.method === "POST" && r.path.endsWith("/eviction")).map((r) => r.path.split("/")[6]);
    assert.deepEqual(evicted.sort(), [...seeded.drainPods].sort());
  });

  it("additional_contexts [k8snode] fills the NODE_* variables of a templated parameter from the pod's node", async () => {
    const [body] = await expectResult("E2E k8snode", "success", "nodeinfo-1");
    assert.deepEqual(execsIn("nodeinfo-1"), [
      [
        "/bin/sh",
        "-c",
        '__kestrel_1="${1}" __kestrel_2="${2}"; shift 2; echo "${__kestrel_1}" "${__kestrel_2}"',
        "kestrel",
        "ip-10-0-1-5",
        "eu-west-3a",
      ],
      ["shift", "2"],
      ["echo", "ip-10-0-1-5", "eu-west-3a"],
    ]);
    assert.match(body!.output ?? "", /\nip-10-0-1-5 eu-west-3a$/);
  });

  it("has acted on every event, then drains and exits 0 on SIGTERM", async () => {
    for (const rule of traces.keys()) await notificationsOf(rule, ["E2E download", "E2E tcpdump", "E2E sysdig"].includes(rule) ? 2 : 1);
    assert.equal(await kestrel!.stop(), 0);
    assert.match(lines.join("\n"), new RegExp(`Events received: ${traces.size}`));
  });
});
