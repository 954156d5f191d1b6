// kubernetes:exec, kubernetes:script and kubernetes:log through the running server against the Kubernetes
// API test server: commands run in ONE container (the event's, the parameter's or the first), event values
// stay single words whatever they hold (checked on the commands the fake shell actually ran), exit codes
// decide the status, and deadlines, missing pods and missing containers fail before or during the exec.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClients } from "../../src/clients/index.ts";
import { createKubeClient } from "../../src/clients/kubernetes.ts";
import { postForNotifications, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const INJECTION = "/tmp/x; rm -rf / #";

const rules = (logDir: string) => `
- rule: Exec
  match: { rules: [Exec] }
  actions:
    - action: Read the file
      actionner: kubernetes:exec
      parameters:
        command: "cat \${FD_NAME}"

- rule: Exec in sidecar
  match: { rules: [Exec in sidecar] }
  actions:
    - action: Read the file in the sidecar
      actionner: kubernetes:exec
      parameters:
        shell: /bin/bash
        command: "cat \${FD_NAME}"
        container: sidecar

- rule: Exec failing
  match: { rules: [Exec failing] }
  actions:
    - action: Fail
      actionner: kubernetes:exec
      parameters:
        command: "echo partial; echo 'boom: disk full' >&2; exit 3"

- rule: Exec in missing container
  match: { rules: [Exec in missing container] }
  actions:
    - action: Run in nope
      actionner: kubernetes:exec
      parameters: { command: "true", container: nope }

- rule: Script
  match: { rules: [Script] }
  actions:
    - action: Inspect
      actionner: kubernetes:script
      parameters:
        script: |
          echo "start in $(hostname)"
          for f in \${FD_NAME} /etc/hostname; do
            ls "$f"
          done
          printf '%s\\n' 'quoted: \${FD_NAME}' "double: \${FD_NAME}" > /dev/null
          cat \${FD_NAME} | wc -c

- rule: Log
  match: { rules: [Log] }
  actions:
    - action: Tail the log
      actionner: kubernetes:log
      parameters: { tail_lines: 5 }

- rule: Log to file
  match: { rules: [Log to file] }
  actions:
    - action: Store the log of the sidecar
      actionner: kubernetes:log
      parameters: { container: sidecar }
      output:
        target: local:file
        parameters: { destination: ${logDir} }
`;

describe("kubernetes:exec, script and log against the API test server", () => {
  let kubeApi: KubeApiServer;
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  let logDir: string;

  /** POSTs an event and resolves with the `count` notifications of its trace. */
  const act = (rule: string, fields: Record<string, unknown>, count = 1, via: RunningKestrel = kestrel) =>
    postForNotifications(via, receiver, { rule, fields, count, timeoutMs: 10_000 });
  const execsIn = (pod: string) => kubeApi.execLog.filter((e) => e.pod === pod);

  before(async () => {
    kubeApi = await startKubeApi();
    receiver = await startReceiver();
    logDir = await mkdtemp(join(tmpdir(), "kestrel-logs-"));
    kestrel = await startKestrel({
      rules: rules(logDir),
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
      clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
    });
    kubeApi.addNamespace("shop");
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
    await kubeApi?.close();
  });

  describe("kubernetes:exec", () => {
    it("runs the templated command once, in the event's container, and returns its stdout", async () => {
      kubeApi.addPod("shop", "web-1", { containers: ["app", "sidecar"] });
      kubeApi.setFile("shop", "web-1", "sidecar", "/srv/a b.txt", "secret in the sidecar\n");
      kubeApi.setFile("shop", "web-1", "app", "/srv/a b.txt", "the app's copy\n");
      const [body] = await act("Exec", {
        "k8s.ns.name": "shop",
        "k8s.pod.name": "web-1",
        "k8s.container.name": "sidecar",
        "fd.name": "/srv/a b.txt",
      });
      assert.equal(body!.status, "success", body!.error);
      assert.equal(
        body!.output,
        "the command has been run in the container 'sidecar' of the pod 'web-1' in the namespace 'shop'\nsecret in the sidecar",
      );
      assert.deepEqual(body!.objects, { Pod: "web-1", Namespace: "shop", Container: "sidecar" });
      const sessions = kubeApi.execSessions.filter((s) => s.pod === "web-1");
      assert.deepEqual(
        sessions.map((s) => [s.container, s.command]),
        // The command's text is fixed; the value travels as a positional parameter.
        [["sidecar", ["/bin/sh", "-c", '__kestrel_1="${1}"; shift 1; cat "${__kestrel_1}"', "kestrel", "/srv/a b.txt"]]],
      );
      assert.deepEqual(execsIn("web-1").at(-1)!.argv, ["cat", "/srv/a b.txt"]);
      assert.ok(execsIn("web-1").every((e) => e.container === "sidecar"));
    });

    it("runs in the pod's first container when the event names none, and in the `container` parameter's", async () => {
      kubeApi.addPod("shop", "web-2", { containers: ["app", "sidecar"] });
      kubeApi.setFile("shop", "web-2", "app", "/f", "app\n");
      kubeApi.setFile("shop", "web-2", "sidecar", "/f", "sidecar\n");
      const [first] = await act("Exec", { "k8s.ns.name": "shop", "k8s.pod.name": "web-2", "fd.name": "/f" });
      assert.equal(first!.status, "success", first!.error);
      assert.match(first!.output ?? "", /container 'app'.*\napp$/);
      const [named] = await act("Exec in sidecar", {
        "k8s.ns.name": "shop",
        "k8s.pod.name": "web-2",
        "k8s.container.name": "app",
        "fd.name": "/f",
      });
      assert.equal(named!.status, "success", named!.error);
      assert.match(named!.output ?? "", /container 'sidecar'.*\nsidecar$/);
      assert.deepEqual(
        kubeApi.execSessions.filter((s) => s.pod === "web-2").map((s) => [s.container, s.command[0]]),
        [
          ["app", "/bin/sh"],
          ["sidecar", "/bin/bash"],
        ],
      );
    });

    it("keeps an injected file name one argument: `rm` never runs", async () => {
      kubeApi.addPod("shop", "web-3");
      kubeApi.setFile("shop", "web-3", "app", "/etc/important", "keep me");
      const [body] = await act("Exec", { "k8s.ns.name": "shop", "k8s.pod.name": "web-3", "fd.name": INJECTION });
      assert.equal(body!.status, "failure");
      assert.match(body!.error ?? "", /exited with code 1 in the container 'app' of the pod 'web-3'.*No such file/s);
      const argvs = execsIn("web-3").map((e) => e.argv);
      assert.deepEqual(argvs.at(-1), ["cat", INJECTION]);
      assert.ok(!argvs.some((a) => a[0] === "rm"), JSON.stringify(argvs));
      assert.equal(Buffer.from(kubeApi.getFile("shop", "web-3", "app", "/etc/important") ?? []).toString(), "keep me");
    });

    it("fails on a non-zero exit code with the end of stderr", async () => {
      kubeApi.addPod("shop", "web-4");
      const [body] = await act("Exec failing", { "k8s.ns.name": "shop", "k8s.pod.name": "web-4" });
      assert.equal(body!.status, "failure");
      assert.match(
        body!.error ?? "",
        /the command exited with code 3 in the container 'app' of the pod 'web-4' in the namespace 'shop': boom: disk full/,
      );
    });

    it("fails before any exec when the pod is gone or the container does not exist", async () => {
      const sessions = kubeApi.execSessions.length;
      const [gone] = await act("Exec", { "k8s.ns.name": "shop", "k8s.pod.name": "ghost", "fd.name": "/f" });
      assert.equal(gone!.status, "failure");
      assert.match(gone!.error ?? "", /cannot read the pod 'ghost' in the namespace 'shop': not found/);
      kubeApi.addPod("shop", "web-5", { containers: ["app", "db"] });
      const [missing] = await act("Exec in missing container", { "k8s.ns.name": "shop", "k8s.pod.name": "web-5" });
      assert.equal(missing!.status, "failure");
      assert.match(missing!.error ?? "", /the pod 'web-5' in the namespace 'shop' has no container 'nope' \(its containers: app, db\)/);
      kubeApi.addPod("shop", "web-6", { phase: "Pending" });
      const [pending] = await act("Exec", { "k8s.ns.name": "shop", "k8s.pod.name": "web-6", "fd.name": "/f" });
      assert.equal(pending!.status, "failure");
      assert.match(pending!.error ?? "", /the pod 'web-6' in the namespace 'shop' is not running yet \(phase Pending\)/);
      const crashing = kubeApi.addPod("shop", "web-8", { containers: ["app", "sidecar"] });
      crashing.status.containerStatuses[1].state = { waiting: { reason: "CrashLoopBackOff" } };
      kubeApi.update(crashing);
      const [waiting] = await act("Exec", {
        "k8s.ns.name": "shop",
        "k8s.pod.name": "web-8",
        "k8s.container.name": "sidecar",
        "fd.name": "/f",
      });
      assert.equal(waiting!.status, "failure");
      assert.match(
        waiting!.error ?? "",
        /the container 'sidecar' of the pod 'web-8' in the namespace 'shop' is not running \(CrashLoopBackOff\)/,
      );
      assert.equal(kubeApi.execSessions.length, sessions);
    });

    it("gives up at the action's deadline and closes the exec", async () => {
      const slow = await startKestrel({
        rules: `
- rule: Slow
  match: { rules: [Slow] }
  actions:
    - action: Sleep
      actionner: kubernetes:exec
      parameters: { command: "sleep 5" }
`,
        config: `action_timeout_seconds: 1\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
        clients: createClients({ kubernetes: createKubeClient(kubeApi.kubeConfig()) }),
      });
      try {
        kubeApi.addPod("shop", "web-7");
        const started = Date.now();
        const [body] = await act("Slow", { "k8s.ns.name": "shop", "k8s.pod.name": "web-7" }, 1, slow);
        assert.equal(body!.status, "failure");
        assert.match(body!.error ?? "", /did not finish within 1 s/);
        assert.ok(Date.now() - started < 4000);
        await until(() => kubeApi.openStreams().execSessions === 0, "the exec session to close", 3000);
      } finally {
        await slow.close();
      }
    });
  });

  describe("kubernetes:script", () => {
    it("sends the script on stdin to `sh -s` in one container, event values as its parameters", async () => {
      kubeApi.addPod("shop", "api-1", { containers: ["app", "sidecar"] });
      kubeApi.setFile("shop", "api-1", "sidecar", "/data/in put", "12345");
      const [body] = await act("Script", {
        "k8s.ns.name": "shop",
        "k8s.pod.name": "api-1",
        "container.name": "sidecar",
        "fd.name": "/data/in put",
      });
      assert.equal(body!.status, "success", body!.error);
      assert.match(
        body!.output ?? "",
        /^the script has been run in the container 'sidecar' of the pod 'api-1' in the namespace 'shop'\nstart in /,
      );
      assert.match(body!.output ?? "", /\/data\/in put\n\/etc\/hostname\n5$/);
      const sessions = kubeApi.execSessions.filter((s) => s.pod === "api-1");
      assert.deepEqual(
        sessions.map((s) => [s.container, s.command, s.stdin]),
        [["sidecar", ["/bin/sh", "-s", "--", "/data/in put"], true]],
      );
      assert.ok(execsIn("api-1").some((e) => e.argv.join(" ") === "ls /data/in put" && e.argv.length === 2));
    });

    it("keeps an injected value one word in the script", async () => {
      kubeApi.addPod("shop", "api-2");
      kubeApi.setFile("shop", "api-2", "app", "/etc/important", "keep me");
      const [body] = await act("Script", { "k8s.ns.name": "shop", "k8s.pod.name": "api-2", "fd.name": INJECTION });
      const argvs = execsIn("api-2").map((e) => e.argv);
      assert.ok(
        argvs.some((a) => a[0] === "ls" && a[1] === INJECTION),
        JSON.stringify(argvs),
      );
      // Written inside quotes (as Talon rules may), the value is still one piece of data.
      assert.ok(
        argvs.some((a) => a[0] === "printf" && a[2] === `quoted: ${INJECTION}` && a[3] === `double: ${INJECTION}`),
        JSON.stringify(argvs),
      );
      assert.ok(!argvs.some((a) => a[0] === "rm"), JSON.stringify(argvs));
      assert.equal(Buffer.from(kubeApi.getFile("shop", "api-2", "app", "/etc/important") ?? []).toString(), "keep me");
      assert.equal(body!.status, "success", body!.error); // `wc -c` of nothing is the script's last status
    });

    it("is refused by rules check when a variable is written where the shell would read it as code", async () => {
      await assert.rejects(
        startKestrel({
          rules: `
- rule: Quoted
  match: { rules: [Quoted] }
  actions:
    - action: Quoted
      actionner: kubernetes:script
      parameters: { script: "cat <<EOF\\n\${FD_NAME}\\nEOF" }
`,
        }),
        /script: line 2, column 1: \$\{FD_NAME\} is inside a here-document/,
      );
    });
  });

  describe("kubernetes:log", () => {
    it("appends the last tail_lines lines of the event's container to the result", async () => {
      kubeApi.addPod("shop", "log-1", { containers: ["app", "sidecar"] });
      for (let i = 1; i <= 30; i++) kubeApi.appendLog("shop", "log-1", "sidecar", `sidecar line ${i}`);
      kubeApi.appendLog("shop", "log-1", "app", "app line");
      const [body] = await act("Log", { "k8s.ns.name": "shop", "k8s.pod.name": "log-1", "k8s.container.name": "sidecar" });
      assert.equal(body!.status, "success", body!.error);
      assert.equal(
        body!.output,
        "the logs of the container 'sidecar' of the pod 'log-1' in the namespace 'shop' have been downloaded\n" +
          "sidecar line 26\nsidecar line 27\nsidecar line 28\nsidecar line 29\nsidecar line 30",
      );
      const [request] = kubeApi.requests.filter((r) => r.path === "/api/v1/namespaces/shop/pods/log-1/log");
      assert.equal(request?.query["container"], "sidecar");
      assert.equal(request?.query["tailLines"], "5");
    });

    it("stores the log with an output, 20 lines by default", async () => {
      kubeApi.addPod("shop", "log-2", { containers: ["app", "sidecar"] });
      for (let i = 1; i <= 25; i++) kubeApi.appendLog("shop", "log-2", "sidecar", `line ${i}`);
      const [action, output] = await act("Log to file", { "k8s.ns.name": "shop", "k8s.pod.name": "log-2" }, 2);
      assert.equal(action!.status, "success", action!.error);
      assert.equal(action!.output, "the logs of the container 'sidecar' of the pod 'log-2' in the namespace 'shop' have been downloaded");
      assert.equal(output!.message, "output");
      assert.equal(output!.status, "success", output!.error);
      const files = await readdir(logDir);
      assert.equal(files.length, 1);
      assert.match(files[0]!, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{32}_shop_log-2_log$/);
      assert.equal(output!.location, `file://${join(logDir, files[0]!)}`);
      const text = await readFile(join(logDir, files[0]!), "utf8");
      assert.equal(text.trimEnd().split("\n").length, 20);
      assert.ok(text.startsWith("line 6\n") && text.trimEnd().endsWith("line 25"));
    });

    it("fails when the pod is gone", async () => {
      const [body] = await act("Log", { "k8s.ns.name": "shop", "k8s.pod.name": "ghost" });
      assert.equal(body!.status, "failure");
      assert.match(body!.error ?? "", /not found/);
    });
  });
});
