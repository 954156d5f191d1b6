// kubernetes:download, kubernetes:tcpdump and kubernetes:sysdig through the running server, their artifacts
// streamed into a temporary folder by local:file: the bytes that arrive are the container's (a 20 MB
// file complete, a pcap with its magic, a gzipped scap), event values never reach a shell, and failures
// (missing file, failing tool, image that cannot start, deadline) are reported with their reason.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { falcoEvent } from "../support/events.ts";
import { notificationsOf, postForNotifications, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { CAPTURE_COMMANDS } from "../support/kube-api/capture.ts";
import { type KubeApiServer, type KubeObject, startKubeApi } from "../support/kube-api/index.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const INJECTION = "/tmp/x; rm -rf / #";

const rules = (dest: string) => `
- rule: Download
  match: { rules: [Download] }
  actions:
    - action: Download the file
      actionner: kubernetes:download
      parameters: { file: "\${FD_NAME}" }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Download from nope
  match: { rules: [Download from nope] }
  actions:
    - action: Download from a missing container
      actionner: kubernetes:download
      parameters: { file: /etc/passwd, container: nope }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Tcpdump long
  match: { rules: [Tcpdump long] }
  actions:
    - action: Capture longer
      actionner: kubernetes:tcpdump
      parameters: { duration: 40, snaplen: 64 }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Tcpdump
  match: { rules: [Tcpdump] }
  actions:
    - action: Capture
      actionner: kubernetes:tcpdump
      output: { target: local:file, parameters: { destination: ${dest} } }
    - action: Not reached (tcpdump does not continue by default)
      actionner: kubernetes:exec
      parameters: { command: "echo after" }

- rule: Sysdig
  match: { rules: [Sysdig] }
  actions:
    - action: Capture syscalls
      actionner: kubernetes:sysdig
      parameters: { duration: 3, buffer_size: 512 }
      output: { target: local:file, parameters: { destination: ${dest} } }

- rule: Sysdig node
  match: { rules: [Sysdig node] }
  actions:
    - action: Capture the node's syscalls
      actionner: kubernetes:sysdig
      parameters: { scope: node }
      output: { target: local:file, parameters: { destination: ${dest} } }
`;

describe("capture actionners streamed to local:file", () => {
  let kubeApi: KubeApiServer;
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  let dest: string;
  /** The Job controller and kubelet of the test: pods for kestrel-sysdig Jobs, running unless told otherwise. */
  let jobPod: { waiting?: string } = {};

  const act = (rule: string, fields: Record<string, unknown>, count: number, via: RunningKestrel = kestrel) =>
    postForNotifications(via, receiver, { rule, fields, count, timeoutMs: 15_000 });
  const files = async () => (await readdir(dest)).filter((f) => !f.startsWith("."));

  before(async () => {
    kubeApi = await startKubeApi({ timeScale: 0.01 });
    receiver = await startReceiver();
    dest = await mkdtemp(join(tmpdir(), "kestrel-captures-"));
    kestrel = await startKestrel({
      rules: rules(dest),
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
      clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
    });
    kubeApi.addNamespace("shop");
    kubeApi.addNode("node-s1");
    kubeApi.onChange((type, obj) => {
      if (type !== "ADDED" || obj.kind !== "Job") return;
      const name = obj.metadata.name!;
      setImmediate(() => {
        const pod = kubeApi.addPod(obj.metadata.namespace!, `${name}-p0d00`, {
          node: obj.spec.template.spec.nodeName,
          labels: { ...obj.spec.template.metadata.labels, "job-name": name, "batch.kubernetes.io/job-name": name },
          containers: obj.spec.template.spec.containers.map((c: { name: string }) => c.name),
          owner: obj,
        });
        if (jobPod.waiting !== undefined) {
          pod.status.containerStatuses[0].state = { waiting: { reason: jobPod.waiting, message: "pull access denied" } };
          kubeApi.update(pod);
        }
      });
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kubeApi?.close();
  });

  describe("kubernetes:download", () => {
    it("streams a 20 MB file from the event's container, complete, into the destination", async () => {
      kubeApi.addPod("shop", "dl-1", { containers: ["app", "sidecar"] });
      const content = randomBytes(20 * 1024 * 1024);
      kubeApi.setFile("shop", "dl-1", "sidecar", "/data/big.bin", content);
      const before = new Set(await files());
      const [action, output] = await act(
        "Download",
        { "k8s.ns.name": "shop", "k8s.pod.name": "dl-1", "k8s.container.name": "sidecar", "fd.name": "/data/big.bin" },
        2,
      );
      assert.equal(action!.status, "success", action!.error);
      assert.match(action!.output ?? "", /the file '\/data\/big.bin' of the container 'sidecar' of the pod 'dl-1'/);
      assert.equal(output!.message, "output");
      assert.equal(output!.status, "success", output!.error);
      const added = (await files()).filter((f) => !before.has(f));
      assert.equal(added.length, 1);
      assert.match(added[0]!, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}_shop_dl-1__data_big\.bin$/);
      assert.equal(output!.location, `file://${join(dest, added[0]!)}`);
      const written = await readFile(join(dest, added[0]!));
      assert.equal(written.length, content.length);
      assert.equal(createHash("sha256").update(written).digest("hex"), createHash("sha256").update(content).digest("hex"));
      assert.deepEqual(
        kubeApi.execSessions.filter((s) => s.pod === "dl-1").map((s) => [s.container, s.command]),
        [["sidecar", ["cat", "--", "/data/big.bin"]]],
      );
    });

    it("passes an injected file name as one argument, never through a shell, and stores nothing", async () => {
      kubeApi.addPod("shop", "dl-2");
      kubeApi.setFile("shop", "dl-2", "app", "/etc/important", "keep me");
      const before = await files();
      const [action] = await act("Download", { "k8s.ns.name": "shop", "k8s.pod.name": "dl-2", "fd.name": INJECTION }, 1);
      assert.equal(action!.status, "failure");
      assert.match(
        action!.error ?? "",
        /the download of '\/tmp\/x; rm -rf \/ #' in the container 'app' of the pod 'dl-2' in the namespace 'shop' exited with code 1: cat: .*No such file/,
      );
      const argvs = kubeApi.execLog.filter((e) => e.pod === "dl-2").map((e) => e.argv);
      assert.deepEqual(argvs, [["cat", "--", INJECTION]]);
      assert.equal(Buffer.from(kubeApi.getFile("shop", "dl-2", "app", "/etc/important") ?? []).toString(), "keep me");
      await kestrel.settled();
      assert.equal(notificationsOf(receiver, action!.trace_id).length, 1, "no output notification");
      assert.deepEqual(await files(), before);
    });

    it("fails when the pod is gone or the container does not exist", async () => {
      const [gone] = await act("Download", { "k8s.ns.name": "shop", "k8s.pod.name": "ghost", "fd.name": "/etc/passwd" }, 1);
      assert.equal(gone!.status, "failure");
      assert.match(gone!.error ?? "", /cannot read the pod 'ghost' in the namespace 'shop': not found/);
      kubeApi.addPod("shop", "dl-4", { containers: ["app", "db"] });
      const [missing] = await act("Download from nope", { "k8s.ns.name": "shop", "k8s.pod.name": "dl-4" }, 1);
      assert.equal(missing!.status, "failure");
      assert.match(missing!.error ?? "", /the pod 'dl-4' in the namespace 'shop' has no container 'nope' \(its containers: app, db\)/);
      assert.ok(!kubeApi.execSessions.some((s) => s.pod === "dl-4"));
    });

    it("fails at the action's deadline when the exec hangs, leaving no file", async () => {
      const quick = await startKestrel({
        rules: rules(dest),
        config: `action_timeout_seconds: 1\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
        clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
      });
      try {
        kubeApi.addPod("shop", "dl-3");
        kubeApi.setFile("shop", "dl-3", "app", "/f", "x");
        kubeApi.hangNext({ path: /\/pods\/dl-3\/exec$/ });
        const before = await files();
        const [action] = await act("Download", { "k8s.ns.name": "shop", "k8s.pod.name": "dl-3", "fd.name": "/f" }, 1, quick);
        assert.equal(action!.status, "failure");
        assert.match(action!.error ?? "", /did not finish within 1 s|cancelled/);
        assert.deepEqual(await files(), before);
      } finally {
        await quick.close();
      }
    });
  });

  describe("kubernetes:tcpdump", () => {
    it("adds an ephemeral container and streams a pcap of the capture; the next action does not run", async () => {
      kubeApi.addPod("shop", "cap-1", { containers: ["app", "sidecar"] });
      const before = new Set(await files());
      const [action, output] = await act("Tcpdump", { "k8s.ns.name": "shop", "k8s.pod.name": "cap-1" }, 2);
      assert.equal(action!.status, "success", action!.error);
      assert.equal(output!.status, "success", output!.error);
      const pod = kubeApi.get("v1", "Pod", "shop", "cap-1")!;
      const [ephemeral] = pod.spec.ephemeralContainers as KubeObject[];
      assert.match(ephemeral!.name, /^kestrel-tcpdump-[a-z0-9]{5}$/);
      assert.equal(ephemeral!.image, "issif/tcpdump:latest");
      assert.equal(ephemeral!.targetContainerName, "app");
      assert.deepEqual(ephemeral!.securityContext.capabilities, { add: ["NET_RAW", "NET_ADMIN"] });
      const [patch] = kubeApi.requests.filter((r) => r.method === "PATCH" && r.path.endsWith("/pods/cap-1/ephemeralcontainers"));
      assert.equal(patch?.contentType, "application/strategic-merge-patch+json");
      const sessions = kubeApi.execSessions.filter((s) => s.pod === "cap-1");
      assert.deepEqual(
        sessions.map((s) => [s.container, s.command]),
        [[ephemeral!.name, ["timeout", "5", "tcpdump", "-n", "-i", "any", "-s", "0", "-U", "-w", "-"]]],
      );
      assert.equal(sessions[0]!.exitCode, 124, "timeout ended the capture");
      const added = (await files()).filter((f) => !before.has(f));
      assert.equal(added.length, 1);
      assert.match(added[0]!, /_shop_cap-1_tcpdump\.pcap$/);
      const pcap = await readFile(join(dest, added[0]!));
      assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4, "pcap magic");
      assert.equal(pcap.readUInt32LE(20), 276, "link type LINUX_SLL2 (-i any)");
      assert.ok(pcap.length > 24 + 16, `packets after the header (${pcap.length} bytes)`);
      await kestrel.settled();
      assert.ok(!kubeApi.execSessions.some((s) => s.pod === "cap-1" && s.command[0] === "/bin/sh"), "the next action ran");
    });

    it("writes packets to the destination while the capture is still running", async () => {
      kubeApi.addPod("shop", "cap-3");
      const res = await kestrel.post(falcoEvent({ rule: "Tcpdump long", fields: { "k8s.ns.name": "shop", "k8s.pod.name": "cap-3" } }));
      const { trace_id } = (await res.json()) as { trace_id: string };
      const running = () =>
        kubeApi.execSessions.find((s) => s.pod === "cap-3" && s.command.includes("tcpdump") && s.exitCode === undefined);
      let streamed = 0;
      await until(
        () => {
          if (running() === undefined) return false;
          for (const f of readdirSync(dest)) {
            if (!f.startsWith(".kestrel-")) continue;
            try {
              streamed = Math.max(streamed, statSync(join(dest, f)).size);
            } catch {
              // renamed meanwhile
            }
          }
          return streamed > 24 + 3 * 16;
        },
        "packets on disk during the capture",
        5000,
      );
      assert.ok(running() !== undefined, "the capture was still running");
      await until(() => notificationsOf(receiver, trace_id).some((b) => b.message === "output"), "the output notification", 10_000);
      const out = notificationsOf(receiver, trace_id).find((b) => b.message === "output")!;
      assert.equal(out.status, "success", out.error);
      const pcap = await readFile(new URL(out.location!));
      assert.ok(pcap.length > streamed, `${pcap.length} > ${streamed}`);
      assert.equal(pcap.readUInt32LE(16), 64, "snaplen");
    });

    it("fails with tcpdump's own message when it cannot capture", async () => {
      kubeApi.defineCommand("tcpdump", async (ctx) => {
        ctx.io.stderr.write("tcpdump: any: You don't have permission to capture on that device\n");
        return 1;
      });
      try {
        kubeApi.addPod("shop", "cap-2");
        const [action] = await act("Tcpdump", { "k8s.ns.name": "shop", "k8s.pod.name": "cap-2" }, 1);
        assert.equal(action!.status, "failure");
        assert.match(action!.error ?? "", /exited with code 1: tcpdump: any: You don't have permission to capture on that device/);
      } finally {
        kubeApi.defineCommand("tcpdump", CAPTURE_COMMANDS["tcpdump"]!);
      }
    });

    it("fails before patching anything when the pod is gone", async () => {
      const patches = kubeApi.requests.filter((r) => r.method === "PATCH").length;
      const [action] = await act("Tcpdump", { "k8s.ns.name": "shop", "k8s.pod.name": "ghost" }, 1);
      assert.equal(action!.status, "failure");
      assert.match(action!.error ?? "", /not found/);
      assert.equal(kubeApi.requests.filter((r) => r.method === "PATCH").length, patches);
    });
  });

  describe("kubernetes:sysdig", () => {
    it("runs a Job on the pod's node, filters on the pod's containers, streams the scap and deletes the Job", async () => {
      const victim = kubeApi.addPod("shop", "sys-1", { node: "node-s1", containers: ["app", "sidecar"] });
      const ids = (victim.status.containerStatuses as { containerID: string }[]).map((s) =>
        s.containerID.slice("containerd://".length, "containerd://".length + 12),
      );
      const before = new Set(await files());
      const [action, output] = await act("Sysdig", { "k8s.ns.name": "shop", "k8s.pod.name": "sys-1" }, 2);
      assert.equal(action!.status, "success", action!.error);
      assert.equal(output!.status, "success", output!.error);
      const [create] = kubeApi.requests.filter((r) => r.method === "POST" && r.path === "/apis/batch/v1/namespaces/shop/jobs");
      const job = create!.body as KubeObject;
      const name = job.metadata.name!;
      assert.match(name, /^kestrel-sysdig-[a-z0-9]{5}$/);
      const spec = job.spec.template.spec;
      assert.equal(spec.nodeName, "node-s1");
      assert.equal(spec.containers[0].securityContext.privileged, true);
      assert.deepEqual(spec.volumes, [{ name: "host", hostPath: { path: "/" } }]);
      assert.deepEqual(spec.containers[0].volumeMounts, [{ name: "host", mountPath: "/host", readOnly: true }]);
      const sessions = kubeApi.execSessions.filter((s) => s.pod === `${name}-p0d00`);
      assert.deepEqual(
        sessions.map((s) => s.command),
        [
          [
            "sysdig",
            "--modern-bpf",
            "--cri",
            "/host/run/containerd/containerd.sock",
            "-M",
            "3",
            "-s",
            "512",
            "-z",
            "-w",
            "/tmp/sysdig.scap.gz",
            `container.id in (${ids.join(",")})`,
          ],
          ["cat", "--", "/tmp/sysdig.scap.gz"],
        ],
      );
      const added = (await files()).filter((f) => !before.has(f));
      assert.equal(added.length, 1);
      assert.match(added[0]!, /_shop_sys-1_sysdig\.scap\.gz$/);
      const scap = gunzipSync(await readFile(join(dest, added[0]!)));
      assert.equal(scap.readUInt32LE(0), 0x0a0d0d0a, "scap section header");
      assert.ok(scap.length > 28, "events after the header");
      await until(() => kubeApi.get("batch/v1", "Job", "shop", name) === undefined, "the Job to be deleted", 5000);
      await until(() => kubeApi.get("v1", "Pod", "shop", `${name}-p0d00`) === undefined, "the Job's pod to be deleted", 5000);
    });

    it("captures the whole node without a filter with scope node", async () => {
      kubeApi.addPod("shop", "sys-2", { node: "node-s1" });
      const [action, output] = await act("Sysdig node", { "k8s.ns.name": "shop", "k8s.pod.name": "sys-2" }, 2);
      assert.equal(action!.status, "success", action!.error);
      assert.equal(output!.status, "success", output!.error);
      assert.match(action!.output ?? "", /the syscalls of the node 'node-s1' have been captured for 5 s/);
      const sysdig = kubeApi.execSessions.filter((s) => s.command[0] === "sysdig").at(-1)!;
      assert.equal(sysdig.command.at(-1), "/tmp/sysdig.scap.gz");
    });

    it("fails with the kubelet's reason when the capture pod cannot start, and deletes the Job", async () => {
      jobPod = { waiting: "ErrImagePull" };
      try {
        kubeApi.addPod("shop", "sys-3", { node: "node-s1" });
        const jobs = kubeApi.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs")).length;
        const [action] = await act("Sysdig", { "k8s.ns.name": "shop", "k8s.pod.name": "sys-3" }, 1);
        assert.equal(action!.status, "failure");
        assert.match(action!.error ?? "", /the pod of the Job 'kestrel-sysdig-[a-z0-9]{5}' cannot run \(ErrImagePull\)/);
        const create = kubeApi.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs"))[jobs]!;
        const name = (create.body as KubeObject).metadata.name!;
        await until(() => kubeApi.get("batch/v1", "Job", "shop", name) === undefined, "the Job to be deleted", 5000);
      } finally {
        jobPod = {};
      }
    });
  });
});
