// The streaming and action subresources through the real client: exec (WebSocket v5 channel protocol),
// logs (tail, timestamps, follow), watches (and an Informer on top of them) and eviction with disruption
// budgets.
import assert from "node:assert/strict";
import https from "node:https";
import { PassThrough, type Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import WebSocket from "ws";
import { type KubeApiServer, startKubeApi } from "./index.ts";

let server: KubeApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

before(async () => {
  server = await startKubeApi({ timeScale: 0.01 });
  kc = server.kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  server.addNode("node-1");
  server.addPod("prod", "web-1", { labels: { app: "web" }, containers: ["app", "sidecar"] });
  server.setFile("prod", "web-1", "app", "/etc/x", "secret-x\n");
});

after(async () => {
  await server.close();
  const open = server.openStreams();
  assert.deepEqual(open, { watches: 0, logFollows: 0, execSessions: 0 });
});

interface ExecOutcome {
  stdout: string;
  stderr: string;
  status: k8s.V1Status;
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** Runs a command with client-node's Exec and resolves with what its status callback received. */
function exec(pod: string, container: string, command: string[], o: { stderr?: boolean; stdin?: Readable } = {}): Promise<ExecOutcome> {
  const out = sink();
  const err = sink();
  return new Promise((resolve, reject) => {
    new k8s.Exec(kc)
      .exec("prod", pod, container, command, out.stream, o.stderr === false ? null : err.stream, o.stdin ?? null, false, (status) => {
        resolve({ stdout: out.text(), stderr: err.text(), status });
      })
      .catch(reject);
  });
}

function exitCode(status: k8s.V1Status): number | undefined {
  if (status.status === "Success") return 0;
  return status.reason === "NonZeroExitCode" ? Number(status.details?.causes?.find((c) => c.reason === "ExitCode")?.message) : undefined;
}

describe("exec", () => {
  it("runs sh -c with stdout, stderr and the v5 status carrying the exit code", async () => {
    const r = await exec("web-1", "app", ["sh", "-c", "echo hi; cat /etc/x; cat /nope; exit 3"]);
    assert.equal(r.stdout, "hi\nsecret-x\n");
    assert.equal(r.stderr, "cat: /nope: No such file or directory\n");
    assert.equal(r.status.status, "Failure");
    assert.equal(r.status.reason, "NonZeroExitCode");
    assert.equal(exitCode(r.status), 3);
    const session = server.execSessions.at(-1)!;
    assert.equal(session.protocol, "v5.channel.k8s.io");
    assert.equal(session.exitCode, 3);
    const req = server.requests.at(-1)!;
    assert.equal(req.websocket, true);
    assert.equal(req.status, 101);
    assert.deepEqual(req.query, {
      stdout: "true",
      stderr: "true",
      stdin: "false",
      tty: "false",
      command: ["sh", "-c", "echo hi; cat /etc/x; cat /nope; exit 3"],
      container: "app",
    });
    assert.match(String(req.headers["sec-websocket-protocol"]), /^v5\.channel\.k8s\.io,v4\.channel\.k8s\.io,/);
    const ok = await exec("web-1", "app", ["true"]);
    assert.deepEqual({ ...ok.status }, { metadata: {}, status: "Success" });
  });

  it("never writes to stderr when the client did not ask for it", async () => {
    // client-node would throw "Unknown stream: 2" as an uncaught exception if the server did.
    const r = await exec("web-1", "app", ["sh", "-c", "echo out; echo err >&2; cat /missing"], { stderr: false });
    assert.equal(r.stdout, "out\n");
    assert.equal(exitCode(r.status), 1);
    assert.equal(server.execSessions.at(-1)!.stderr, false);
    assert.deepEqual(server.requests.at(-1)!.query.stderr, "false");
  });

  it("feeds stdin and ends it on the v5 close frame", async () => {
    const stdin = new PassThrough();
    stdin.end("line one\nline two\n");
    const r = await exec("web-1", "app", ["sh", "-c", "cat > /tmp/in.txt; wc -l < /tmp/in.txt"], { stdin });
    assert.equal(r.stdout, "2\n");
    assert.equal(exitCode(r.status), 0);
    assert.equal(Buffer.from(server.getFile("prod", "web-1", "app", "/tmp/in.txt")!).toString(), "line one\nline two\n");
  });

  it("keeps a quoted injection inside one argument, and logs every command", async () => {
    const before = server.execLog.length;
    const r = await exec("web-1", "app", ["sh", "-c", "cat '/tmp/x; rm -rf /'"]);
    assert.equal(exitCode(r.status), 1);
    const ran = server.execLog.slice(before);
    assert.deepEqual(
      ran.map((e) => e.argv),
      [
        ["sh", "-c", "cat '/tmp/x; rm -rf /'"],
        ["cat", "/tmp/x; rm -rf /"],
      ],
    );
    assert.ok(ran.every((e) => e.namespace === "prod" && e.pod === "web-1" && e.container === "app"));
    assert.ok(!server.execLog.some((e) => e.argv[0] === "rm"));
  });

  it("reports a missing program as the runtime does (InternalError, no exit code)", async () => {
    const r = await exec("web-1", "app", ["curl", "http://example.com"]);
    assert.equal(r.status.status, "Failure");
    assert.equal(r.status.reason, "InternalError");
    assert.match(r.status.message!, /exec: "curl": executable file not found in \$PATH/);
    assert.equal(exitCode(r.status), undefined);
  });

  it("runs Talon's tcpdump steps in an ephemeral container and returns a pcap", async () => {
    await core.patchNamespacedPodEphemeralcontainers(
      {
        name: "web-1",
        namespace: "prod",
        body: {
          spec: {
            ephemeralContainers: [
              { name: "kestrel-tcpdump-abcde", image: "issif/tcpdump:latest", command: ["sleep", "60"], targetContainerName: "app" },
            ],
          },
        },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
    );
    const stdin = new PassThrough();
    stdin.end("timeout 5s tcpdump -n -i any -s 0 -w /tmp/tcpdump.pcap || [ $? -eq 124 ] && echo OK || exit 1\n");
    const tee = await exec("web-1", "kestrel-tcpdump-abcde", ["tee", "/tmp/talon-script.sh", "/dev/null"], { stdin });
    assert.equal(exitCode(tee.status), 0);
    const run = await exec("web-1", "kestrel-tcpdump-abcde", ["sh", "/tmp/talon-script.sh"]);
    assert.equal(run.stdout, "OK\n");
    const cat = await exec("web-1", "kestrel-tcpdump-abcde", ["sh", "-c", "cat /tmp/tcpdump.pcap | base64 -w0"]);
    const pcap = Buffer.from(cat.stdout, "base64");
    assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
    assert.ok(pcap.length > 24, "packets after the global header");
  });

  it("kills the command when the client closes the socket", async () => {
    const out = sink();
    const ws = await new k8s.Exec(kc).exec("prod", "web-1", "app", ["sleep", "1000"], out.stream, null, null, false);
    await server.waitFor(() => server.execLog.at(-1)?.argv[0] === "sleep");
    ws.close();
    await server.waitFor(() => server.openStreams().execSessions === 0);
    assert.equal(server.execSessions.at(-1)!.exitCode, 143);
  });

  it("stops tcpdump when the client closes stdin, and runs commands the test defines", async () => {
    const stdin = new PassThrough();
    const out: Buffer[] = [];
    const stdout = new PassThrough().on("data", (c: Buffer) => out.push(c));
    const status = new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(kc).exec("prod", "web-1", "app", ["tcpdump", "-i", "any", "-w", "-"], stdout, null, stdin, false, resolve).catch(reject);
    });
    await server.waitFor(() => Buffer.concat(out).length > 24 + 16);
    stdin.end();
    assert.equal((await status).status, "Success");
    assert.equal(Buffer.concat(out).readUInt32LE(0), 0xa1b2c3d4);
    server.defineCommand("curl", async (ctx) => {
      ctx.io.stdout.write(`fetched ${ctx.argv.at(-1)}\n`);
      return 0;
    });
    const r = await exec("web-1", "app", ["sh", "-c", "curl -s http://example.com | cat"]);
    assert.equal(r.stdout, "fetched http://example.com\n");
  });

  it("speaks the channel protocol exactly (raw WebSocket): v4 fallback, first empty frame, stdout-only", async () => {
    const frames: Buffer[] = [];
    const url = `${server.url.replace("https", "wss")}/api/v1/namespaces/prod/pods/web-1/exec?command=sh&command=-c&command=echo%20a%3B%20echo%20b%20%3E%262%3B%20exit%205&container=app&stderr=true&stdout=false`;
    const ws = new WebSocket(url, ["v4.channel.k8s.io", "channel.k8s.io"], {
      ca: server.caPem,
      headers: { authorization: `Bearer ${server.token}` },
    });
    ws.on("message", (data: Buffer) => frames.push(Buffer.from(data)));
    const closed = new Promise<number>((resolve) => ws.on("close", resolve));
    await new Promise((resolve, reject) => {
      ws.on("open", resolve);
      ws.on("error", reject);
    });
    assert.equal(ws.protocol, "v4.channel.k8s.io");
    assert.equal(await closed, 1000);
    // An empty frame on the lowest writable channel (stderr here), stderr data, then the status; nothing on stdout.
    assert.deepEqual(
      frames.map((f) => f[0]),
      [2, 2, 3],
    );
    assert.equal(frames[0]!.length, 1);
    assert.equal(frames[1]!.subarray(1).toString(), "b\n");
    assert.deepEqual(JSON.parse(frames[2]!.subarray(1).toString()).details, { causes: [{ reason: "ExitCode", message: "5" }] });
  });

  it("refuses the upgrade for a missing pod or container", async () => {
    await assert.rejects(new k8s.Exec(kc).exec("prod", "missing", "app", ["true"], sink().stream, null, null, false));
    assert.equal(server.requests.at(-1)!.status, 404);
    await assert.rejects(new k8s.Exec(kc).exec("prod", "web-1", "nope", ["true"], sink().stream, null, null, false));
    assert.equal(server.requests.at(-1)!.status, 400);
  });
});

describe("logs", () => {
  before(() => {
    for (let i = 1; i <= 5; i++) server.appendLog("prod", "web-1", "app", `line ${i}`);
  });

  it("returns text with tailLines, timestamps and limitBytes", async () => {
    const tail = await core.readNamespacedPodLog({ name: "web-1", namespace: "prod", container: "app", tailLines: 2 });
    assert.equal(tail, "line 4\nline 5\n");
    const stamped = await core.readNamespacedPodLog({
      name: "web-1",
      namespace: "prod",
      container: "app",
      tailLines: 1,
      timestamps: true,
      sinceSeconds: 3600,
      limitBytes: 65536,
    });
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z line 5\n$/);
    assert.deepEqual(server.requests.at(-1)!.query, {
      container: "app",
      limitBytes: "65536",
      sinceSeconds: "3600",
      tailLines: "1",
      timestamps: "true",
    });
    const limited = await core.readNamespacedPodLog({ name: "web-1", namespace: "prod", container: "app", limitBytes: 9 });
    assert.equal(limited, "line 1\nli");
  });

  it("asks for a container name when the pod has several, and rejects unknown ones", async () => {
    await assert.rejects(core.readNamespacedPodLog({ name: "web-1", namespace: "prod" }), (err: k8s.ApiException<string>) => {
      assert.equal(err.code, 400);
      assert.match(err.body, /a container name must be specified for pod web-1, choose one of: \[app sidecar\]/);
      return true;
    });
    await assert.rejects(
      core.readNamespacedPodLog({ name: "web-1", namespace: "prod", container: "db" }),
      (err: k8s.ApiException<string>) => err.code === 400,
    );
  });

  it("follows: streams lines appended later, until the test ends the log", async () => {
    const out = sink();
    let ended = false;
    out.stream.on("end", () => {
      ended = true;
    });
    await new k8s.Log(kc).log("prod", "web-1", "app", out.stream, { follow: true, tailLines: 1, timestamps: false });
    assert.deepEqual(server.requests.at(-1)!.query, {
      container: "app",
      follow: "true",
      pretty: "true",
      previous: "false",
      tailLines: "1",
      timestamps: "false",
    });
    await server.waitFor(() => out.text() === "line 5\n");
    server.appendLog("prod", "web-1", "app", "line 6");
    server.appendLog("prod", "web-1", "app", "line 7");
    await server.waitFor(() => out.text() === "line 5\nline 6\nline 7\n");
    assert.equal(server.openStreams().logFollows, 1);
    server.endLog("prod", "web-1", "app");
    await server.waitFor(() => ended);
    assert.equal(server.openStreams().logFollows, 0);
  });

  it("follows until the client disconnects", async () => {
    // Raw HTTPS here: aborting client-node 2.0.1's Log stream surfaces an uncaught AbortError from its
    // internal Readable.fromWeb, which would crash the test process.
    let received = "";
    const req = https.get(
      `${server.url}/api/v1/namespaces/prod/pods/web-1/log?container=app&follow=true&tailLines=1`,
      { ca: server.caPem, headers: { authorization: `Bearer ${server.token}` } },
      (res) => {
        assert.equal(res.headers["content-type"], "text/plain");
        res.on("data", (c: Buffer) => {
          received += c.toString();
        });
        res.on("error", () => {});
      },
    );
    req.on("error", () => {});
    await server.waitFor(() => server.openStreams().logFollows === 1);
    server.appendLog("prod", "web-1", "app", "line 8");
    await server.waitFor(() => received === "line 7\nline 8\n");
    req.destroy();
    await server.waitFor(() => server.openStreams().logFollows === 0);
  });
});

describe("watch", () => {
  it("streams ADDED, MODIFIED, DELETED (leaving the selector) and BOOKMARK from a resourceVersion", async () => {
    const list = await core.listNamespacedPod({ namespace: "prod" });
    const events: { type: string; name?: string; rv?: string }[] = [];
    let done: unknown = "open";
    const controller = await new k8s.Watch(kc).watch(
      "/api/v1/namespaces/prod/pods",
      { allowWatchBookmarks: true, resourceVersion: list.metadata!.resourceVersion, labelSelector: "app=web" },
      (type, obj: k8s.V1Pod) => events.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion }),
      (err) => {
        done = err;
      },
    );
    const watchReq = server.requests.at(-1)!;
    assert.deepEqual(watchReq.query, {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: list.metadata!.resourceVersion!,
      labelSelector: "app=web",
    });
    await core.createNamespacedPod({
      namespace: "prod",
      body: { metadata: { name: "web-9", labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "nginx" }] } },
    });
    await core.createNamespacedPod({
      namespace: "prod",
      body: { metadata: { name: "other", labels: { app: "other" } }, spec: { containers: [{ name: "app", image: "nginx" }] } },
    });
    await core.patchNamespacedPod({
      name: "web-9",
      namespace: "prod",
      body: [{ op: "add", path: "/metadata/labels/quarantine", value: "true" }],
    });
    await core.patchNamespacedPod({
      name: "web-9",
      namespace: "prod",
      body: [{ op: "replace", path: "/metadata/labels/app", value: "gone" }],
    });
    server.sendBookmarks();
    await server.waitFor(() => events.length >= 4);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.name ?? ""}`),
      ["ADDED web-9", "MODIFIED web-9", "DELETED web-9", "BOOKMARK "],
    );
    assert.equal(events[3]!.rv, server.resourceVersion);
    controller.abort();
    await server.waitFor(() => server.openStreams().watches === 0);
    // client-node reports its own abort to `done` as an AbortError.
    assert.equal((done as Error).name, "AbortError");
  });

  it("replays changes after an old resourceVersion, and starts with ADDED for the current state without one", async () => {
    const rv = server.resourceVersion;
    server.addPod("prod", "replayed", { labels: { app: "web" } });
    const replay: string[] = [];
    const c1 = await new k8s.Watch(kc).watch(
      "/api/v1/namespaces/prod/pods",
      { resourceVersion: rv },
      (type, obj: k8s.V1Pod) => replay.push(`${type} ${obj.metadata!.name}`),
      () => {},
    );
    await server.waitFor(() => replay.length === 1);
    assert.deepEqual(replay, ["ADDED replayed"]);
    c1.abort();
    const initial: string[] = [];
    const c2 = await new k8s.Watch(kc).watch(
      "/api/v1/pods",
      { fieldSelector: "metadata.name=replayed" },
      (type, obj: k8s.V1Pod) => initial.push(`${type} ${obj.metadata!.name}`),
      () => {},
    );
    await server.waitFor(() => initial.length === 1);
    server.remove("v1", "Pod", "prod", "replayed");
    await server.waitFor(() => initial.length === 2);
    assert.deepEqual(initial, ["ADDED replayed", "DELETED replayed"]);
    c2.abort();
  });

  it("drives an Informer (list, then watch)", async () => {
    const informer = k8s.makeInformer(kc, "/api/v1/namespaces/prod/pods", () => core.listNamespacedPod({ namespace: "prod" }));
    const added: string[] = [];
    informer.on("add", (pod: k8s.V1Pod) => added.push(pod.metadata!.name!));
    await informer.start();
    assert.ok(added.includes("web-1"));
    server.addPod("prod", "seen-by-informer", {});
    await server.waitFor(() => added.includes("seen-by-informer"));
    await informer.stop();
  });
});

describe("eviction", () => {
  const eviction = (name: string) => ({
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name, namespace: "prod" },
    deleteOptions: { gracePeriodSeconds: 30 },
  });

  it("answers 201 and deletes the pod", async () => {
    server.addPod("prod", "evict-me", {});
    const result = await core.createNamespacedPodEviction({ name: "evict-me", namespace: "prod", body: eviction("evict-me") });
    assert.equal(server.requests.at(-1)!.status, 201);
    assert.equal((result as { kind?: string }).kind, "Status");
    assert.equal(server.get("v1", "Pod", "prod", "evict-me"), undefined);
    assert.deepEqual(
      server.deletions.filter((d) => d.name === "evict-me").map((d) => [d.via, d.gracePeriodSeconds]),
      [["eviction", 30]],
    );
  });

  it("answers 429 while the test blocks it, and 201 once unblocked", async () => {
    server.addPod("prod", "pdb-blocked", {});
    server.blockEviction("prod", "pdb-blocked");
    await assert.rejects(
      core.createNamespacedPodEviction({ name: "pdb-blocked", namespace: "prod", body: eviction("pdb-blocked") }),
      (err: k8s.ApiException<string>) => {
        assert.equal(err.code, 429);
        const status = JSON.parse(err.body);
        assert.equal(status.reason, "TooManyRequests");
        assert.equal(status.message, "Cannot evict pod as it would violate the pod's disruption budget.");
        return true;
      },
    );
    assert.ok(server.get("v1", "Pod", "prod", "pdb-blocked"));
    server.unblockEviction("prod", "pdb-blocked");
    await core.createNamespacedPodEviction({ name: "pdb-blocked", namespace: "prod", body: eviction("pdb-blocked") });
    assert.equal(server.get("v1", "Pod", "prod", "pdb-blocked"), undefined);
  });

  it("enforces PodDisruptionBudgets from the store", async () => {
    const { pods } = server.addDeployment("prod", "payments", { replicas: 3, labels: { app: "payments" } });
    server.addPodDisruptionBudget("prod", "payments", { matchLabels: { app: "payments" }, maxUnavailable: 1 });
    await core.createNamespacedPodEviction({ name: pods[0]!.metadata.name!, namespace: "prod", body: eviction(pods[0]!.metadata.name!) });
    await assert.rejects(
      core.createNamespacedPodEviction({ name: pods[1]!.metadata.name!, namespace: "prod", body: eviction(pods[1]!.metadata.name!) }),
      (err: k8s.ApiException<string>) => {
        assert.equal(err.code, 429);
        assert.equal(
          JSON.parse(err.body).details.causes[0].message,
          "The disruption budget payments needs 2 healthy pods and has 2 currently",
        );
        return true;
      },
    );
  });
});
