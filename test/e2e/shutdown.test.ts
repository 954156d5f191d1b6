// SIGTERM under load, as a process: the intake stops taking events, every event already accepted has its
// actions run to the end within the shutdown deadline, the summary counts them all, and the exit code is 0.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { startKestrelProcess, tempFiles } from "../support/process.ts";

describe("kestrel server stopped under load", () => {
  it("finishes every accepted event's actions before exiting 0", async () => {
    const dir = await tempFiles("kestrel-e2e-shutdown-", {
      "config.yaml": "listen_address: 127.0.0.1\nlisten_port: 0\nlog_format: json\nworkers: 4\nshutdown_timeout_seconds: 30\nwatch_rules: false\n",
      "rules.yaml": `- rule: Slow\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: Take a while\n      actionner: local:command\n      parameters: { command: ["/bin/sleep", "0.3"] }\n`,
    });
    const kestrel = await startKestrelProcess({ config: join(dir, "config.yaml"), rules: join(dir, "rules.yaml") });
    try {
      const post = (i: number) => kestrel.post(falcoEvent({ fields: { "k8s.ns.name": "prod", "k8s.pod.name": `pod-${i}` } }));
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(i)));
      assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
      const stoppedAt = Date.now();
      const exited = kestrel.stop();
      // Events sent during the drain are refused (503 or a closed connection), never accepted and dropped.
      await new Promise((r) => setTimeout(r, 100));
      const late = await post(99).then((r) => r.status, () => "refused");
      assert.ok(late === 503 || late === "refused", `late event: ${late}`);
      assert.equal(await exited, 0);
      assert.ok(Date.now() - stoppedAt >= 1000, "it waited for the queued actions (40 × 0.3 s on 4 workers)");
      const out = kestrel.lines.join("\n");
      assert.match(out, /Events received: 40\b/);
      assert.match(out, /Actions by status:\s+success: 40\b/);
    } finally {
      kestrel.kill();
    }
  });
});
