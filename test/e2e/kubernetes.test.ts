// `kestrel server` as a process, pointed at the Kubernetes API test server through a kubeconfig file:
// an event for a pod makes kubernetes:terminate delete it.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { eventually } from "../support/kestrel.ts";
import { startKubeApi } from "../support/kube-api/index.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "bin/kestrel.js");

function output(child: ChildProcessWithoutNullStreams): string[] {
  const lines: string[] = [];
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8")));
  return lines;
}

describe("kestrel server with a kubeconfig", () => {
  it("terminates the pod of an event through the Kubernetes API", async () => {
    const kubeApi = await startKubeApi();
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
    const child = spawn(process.execPath, [BIN, "server", "-c", join(dir, "config.yaml"), "-r", join(dir, "rules.yaml")], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "" },
    });
    const lines = output(child);
    try {
      await eventually(() => lines.some((l) => l.includes("Kestrel is listening")), 10_000, `the server to listen:\n${lines.join("\n")}`);
      const ready = JSON.parse(lines.find((l) => l.includes("Kestrel is listening"))!) as { url: string };
      const res = await fetch(`${ready.url}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: falcoEvent({ fields: { "k8s.ns.name": "default", "k8s.pod.name": "shell-pod" } }),
      });
      assert.equal(res.status, 200);
      await eventually(() => kubeApi.get("v1", "Pod", "default", "shell-pod") === undefined, 10_000, "the pod to be deleted");
      await eventually(() => lines.some((l) => l.includes("the pod 'shell-pod' in the namespace 'default' has been terminated")), 5000, "the result log");
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
      await kubeApi.close();
    }
  });
});
