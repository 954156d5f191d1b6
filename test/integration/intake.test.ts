// The real server on 127.0.0.1: HTTP intake → dedup → match → local:command actions → webhook notifier.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { PROMTOOL, requireTool, skipReason } from "../support/debian.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const RULES = `
- action: Echo the pod
  actionner: local:command
  parameters:
    command: ["/bin/echo", "pod \${K8S_POD_NAME} in \${K8S_NS_NAME}"]

- rule: Shell in container
  match:
    rules: [Terminal shell in container]
    output_fields: ["k8s.ns.name!=kube-system"]
  actions:
    - action: Echo the pod

- rule: Failing then stop
  match:
    rules: [Failing rule]
  actions:
    - action: Fail
      actionner: local:command
      parameters: { command: ["/bin/false"] }
    - action: Never runs
      actionner: local:command
      parameters: { command: ["/bin/echo", "unreachable"] }

- rule: Failing but ignored
  match:
    rules: [Ignored failure]
  actions:
    - action: Fail
      actionner: local:command
      ignore_errors: true
      parameters: { command: ["/bin/false"] }
    - action: Runs anyway
      actionner: local:command
      parameters: { command: ["/bin/echo", "ran"] }

- rule: First and last
  continue: false
  match:
    rules: [Two rules]
  actions:
    - action: First
      actionner: local:command
      parameters: { command: ["/bin/echo", "first"] }

- rule: Second, never reached
  match:
    rules: [Two rules]
  actions:
    - action: Second
      actionner: local:command
      parameters: { command: ["/bin/echo", "second"] }

- rule: Dry
  dry_run: true
  match:
    rules: [Dry rule]
  actions:
    - action: Would echo
      actionner: local:command
      parameters: { command: ["/bin/echo", "dry"] }

- rule: Injection
  match:
    rules: [Injection attempt]
  actions:
    - action: Shell with a templated value
      actionner: local:command
      parameters: { command: ["/bin/sh", "-c", "echo \${FD_NAME}"] }

- rule: Missing field
  match:
    rules: [Missing field]
  actions:
    - action: Uses fd.name
      actionner: local:command
      parameters: { command: ["/bin/echo", "\${FD_NAME}"] }
`;

interface Body {
  status: string;
  rule: string;
  action: string;
  actionner: string;
  output?: string;
  error?: string;
  trace_id: string;
  objects?: Record<string, string>;
}

describe("HTTP intake to actions and notifications", () => {
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  const bodies = (): Body[] => receiver.requests.map((r) => JSON.parse(r.body) as Body);

  before(async () => {
    receiver = await startReceiver();
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n    custom_headers:\n      Authorization: Bearer t0k3n\n`,
    });
  });
  after(async () => {
    await kestrel.close();
    await receiver.close();
  });

  it("accepts an event, runs the matched action with templated parameters and notifies the webhook", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const res = await kestrel.post(falcoEvent({ fields: { "k8s.pod.name": "nginx-abc" } }), { traceparent });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: "queued", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
    const [req] = await receiver.waitFor(1);
    assert.equal(req!.method, "POST");
    assert.equal(req!.url, "/hook");
    assert.equal(req!.headers["authorization"], "Bearer t0k3n");
    assert.equal(req!.headers["content-type"], "application/json; charset=utf-8");
    const body = JSON.parse(req!.body) as Body;
    assert.equal(body.status, "success");
    assert.equal(body.rule, "Shell in container");
    assert.equal(body.action, "Echo the pod");
    assert.equal(body.actionner, "local:command");
    assert.equal(body.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.match(body.output ?? "", /pod nginx-abc in default/);
    const line = kestrel.logs.find((l) => l["msg"] === "action success");
    assert.equal(line?.["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(line?.["rule"], "Shell in container");
    assert.equal(line?.["actionner"], "local:command");
  });

  it("runs the actions of a repeated event once within the window, and answers 200 to both", async () => {
    const before = receiver.requests.length;
    const first = falcoEvent({ output: "14:00:00.000000001: Notice dedup me", fields: { "k8s.pod.name": "dup" } });
    const again = first.replace("14:00:00.000000001", "14:00:02.123456789");
    const r1 = await kestrel.post(first);
    const r2 = await kestrel.post(again);
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    assert.equal(((await r2.json()) as { result: string }).result, "duplicate");
    await receiver.waitFor(before + 1);
    await kestrel.settled(); // the engine is done with both events and their notifications: nothing more comes
    assert.equal(receiver.requests.length, before + 1);
    const metrics = await (await fetch(`${kestrel.url}/metrics`)).text();
    assert.match(metrics, /^kestrel_duplicates_total 1$/m);
  });

  it("stops a rule's actions after a failure, unless ignore_errors, and reports the failure", async () => {
    const before = receiver.requests.length;
    await kestrel.post(falcoEvent({ rule: "Failing rule" }));
    await kestrel.post(falcoEvent({ rule: "Ignored failure" }));
    await receiver.waitFor(before + 3);
    await kestrel.settled();
    const fresh = bodies().slice(before);
    assert.equal(fresh.length, 3);
    const failed = fresh.filter((b) => b.status === "failure");
    assert.equal(failed.length, 2);
    assert.match(failed[0]!.error ?? "", /\/bin\/false exited with code 1/);
    assert.ok(!fresh.some((b) => b.action === "Never runs"));
    assert.ok(fresh.some((b) => b.action === "Runs anyway" && b.status === "success"));
  });

  it("does not run later matched rules after a rule with continue: false", async () => {
    const before = receiver.requests.length;
    await kestrel.post(falcoEvent({ rule: "Two rules" }));
    await receiver.waitFor(before + 1);
    await kestrel.settled();
    assert.deepEqual(
      bodies()
        .slice(before)
        .map((b) => b.action),
      ["First"],
    );
  });

  it("runs nothing for a dry-run rule and says so", async () => {
    const before = receiver.requests.length;
    const res = await kestrel.post(falcoEvent({ rule: "Dry rule" }));
    assert.equal(res.status, 200);
    await until(() => kestrel.logs.some((l) => l["msg"] === "no action, dry-run is enabled"), "dry-run log", 3000);
    assert.equal(receiver.requests.length, before);
    const metrics = await (await fetch(`${kestrel.url}/metrics`)).text();
    assert.match(metrics, /kestrel_actions_total\{rule="Dry",action="Would echo",actionner="local:command",status="dry_run"\} 1/);
  });

  it("shell-quotes event values placed into a shell script", async () => {
    const marker = `/tmp/kestrel-pwned-${process.pid}`;
    rmSync(marker, { force: true });
    const before = receiver.requests.length;
    await kestrel.post(falcoEvent({ rule: "Injection attempt", fields: { "fd.name": `/tmp/x; touch ${marker}` } }));
    await receiver.waitFor(before + 1);
    const body = bodies()[before]!;
    assert.equal(body.status, "success");
    assert.match(body.output ?? "", new RegExp(`/tmp/x; touch ${marker}`));
    assert.equal(existsSync(marker), false);
  });

  it("fails an action whose template names a field the event lacks", async () => {
    const before = receiver.requests.length;
    await kestrel.post(falcoEvent({ rule: "Missing field" }));
    await receiver.waitFor(before + 1);
    const body = bodies()[before]!;
    assert.equal(body.status, "failure");
    assert.match(body.error ?? "", /\$\{FD_NAME\} is not defined/);
  });

  it("answers 400 with the reason for malformed events and counts them", async () => {
    const bad = await kestrel.post('{"rule":"x","output":"y"}');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'missing required field "priority"', field: "priority" });
    const notJson = await kestrel.post("this is a text line", { "content-type": "text/plain" });
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: string }).error, /not valid JSON/);
    const metrics = await (await fetch(`${kestrel.url}/metrics`)).text();
    assert.match(metrics, /kestrel_rejected_total\{reason="invalid"\} 2/);
  });

  it("answers 413 for a body over the limit, 405 for GET, and accepts POST on any other path", async () => {
    const big = await kestrel.post(falcoEvent({ fields: { blob: "x".repeat(1024 * 1024 + 10) } }));
    assert.equal(big.status, 413);
    const get = await fetch(`${kestrel.url}/`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    const other = await kestrel.post(falcoEvent({ rule: "Unknown Falco rule" }), {}, "/falcosidekick/path");
    assert.equal(other.status, 200);
    assert.equal(((await other.json()) as { result: string }).result, "unmatched");
  });

  it("takes a chunked body sent in pieces, refuses a chunked body over the limit, and 400s an empty body", async () => {
    const event = falcoEvent({ rule: "Unknown Falco rule" });
    const pieces = [event.slice(0, 10), event.slice(10, 200), event.slice(200)];
    const chunked = await rawPost(kestrel.url, pieces);
    assert.equal(chunked.status, 200);
    assert.equal((JSON.parse(chunked.body) as { result: string }).result, "unmatched");

    // No content-length to check first: the limit is enforced while reading, and the connection closes.
    const huge = await rawPost(
      kestrel.url,
      Array.from({ length: 20 }, () => "x".repeat(64 * 1024)),
    );
    assert.equal(huge.status, 413);
    assert.equal(huge.headers.connection, "close");

    const empty = await kestrel.post("");
    assert.equal(empty.status, 400);
    assert.match(((await empty.json()) as { error: string }).error, /body is empty/);
  });

  it("forgets a client that goes away in the middle of a body, and keeps serving", async () => {
    const before = kestrel.app.observer.summary.events;
    const { port } = new URL(kestrel.url);
    const server = kestrel.app.intake.server;
    const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const open = await connections();
    for (const hangUp of ["end", "reset"] as const) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.write('POST / HTTP/1.1\r\nHost: kestrel\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"rule":"half');
          setTimeout(() => {
            if (hangUp === "reset") socket.resetAndDestroy();
            else socket.destroy();
            resolve();
          }, 50);
        });
        socket.on("error", reject);
      });
    }
    await until(async () => (await connections()) <= open, "the server to see the hang-ups");
    const after = await kestrel.post(falcoEvent({ rule: "Unknown Falco rule" }));
    assert.equal(after.status, 200);
    assert.equal(kestrel.app.observer.summary.events, before + 1, "the half bodies are not events");
  });

  it("reports health and valid Prometheus metrics", async (t) => {
    const health = await fetch(`${kestrel.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const text = await (await fetch(`${kestrel.url}/metrics`)).text();
    for (const name of [
      "kestrel_events_total",
      "kestrel_matches_total",
      "kestrel_actions_total",
      "kestrel_notifications_total",
      "kestrel_duplicates_total",
      "kestrel_rejected_total",
      "kestrel_queue_depth",
      "kestrel_action_duration_seconds_bucket",
      "kestrel_event_to_action_seconds_bucket",
    ]) {
      assert.match(text, new RegExp(`^${name}`, "m"), name);
    }
    assert.match(text, /kestrel_notifications_total\{notifier="webhook",status="success"\} \d+/);
    assert.doesNotMatch(text, /nginx-abc/); // no pod names in labels
    const noPromtool = skipReason(PROMTOOL);
    if (noPromtool !== undefined) {
      t.skip(`the exposition format is not checked: ${noPromtool}`);
      return;
    }
    execFileSync(requireTool(PROMTOOL), ["check", "metrics"], { input: text });
  });
});

describe("overload", () => {
  it("answers 503 with Retry-After when the queue is full, and never blocks on slow actions", async () => {
    const kestrel = await startKestrel({
      config: "workers: 1\nqueue:\n  size: 2\naction_timeout_seconds: 5\nshutdown_timeout_seconds: 1\n",
      rules: `
- rule: Slow
  match: { rules: [Slow rule] }
  actions:
    - action: Sleep
      actionner: local:command
      parameters: { command: ["/bin/sleep", "3"] }
`,
    });
    try {
      const statuses: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 6; i++) {
        const res = await kestrel.post(falcoEvent({ rule: "Slow rule", fields: { "k8s.pod.name": "same-pod" } }));
        statuses.push(res.status);
        if (res.status === 503) assert.equal(res.headers.get("retry-after"), "1");
      }
      assert.ok(Date.now() - started < 1000, "the intake answered without waiting for actions");
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]); // one running, two queued
      assert.ok(statuses.slice(3).every((s) => s === 503));
      const health = await fetch(`${kestrel.url}/healthz`);
      assert.equal(health.status, 503);
      assert.match(((await health.json()) as { reason: string }).reason, /queue full/);
    } finally {
      await kestrel.close();
    }
  });
});

/** POSTs the pieces with chunked transfer encoding, one write each; resolves even if the server hangs up early. */
function rawPost(url: string, pieces: string[]): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(`${url}/`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // Writing on after a 413 may fail with EPIPE/ECONNRESET: the answer is what counts.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    let i = 0;
    const next = (): void => {
      if (req.destroyed) return;
      if (i === pieces.length) {
        req.end();
        return;
      }
      req.write(pieces[i++]!, () => setImmediate(next));
    };
    next();
  });
}
