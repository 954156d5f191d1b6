import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { type FakeLoki, startFakeLoki } from "../../test/support/loki.ts";
import { makeNotification } from "../../test/support/notification.ts";
import { createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import loki, { lokiBody, lokiLabels } from "./loki.ts";

const log = pino({ level: "silent" });

describe("loki payload", () => {
  it("pushes one stream with bounded labels and the Talon JSON line at the result's time in ns", () => {
    const n = makeNotification({ event: { priority: "Critical" } });
    const body = JSON.parse(lokiBody(n, "json")) as { streams: { stream: Record<string, string>; values: [string, string][] }[] };
    assert.equal(body.streams.length, 1);
    assert.deepEqual(body.streams[0]!.stream, {
      app: "kestrel",
      message: "action",
      status: "success",
      rule: "terminal_shell_in_container",
      action: "label_the_pod",
      actionner: "kubernetes:label",
      priority: "Critical",
      source: "syscall",
    });
    const [[ts, line]] = body.streams[0]!.values as [[string, string]];
    assert.equal(ts, "1735569448123000000");
    const payload = JSON.parse(line) as Record<string, unknown>;
    assert.equal(payload["trace_id"], n.traceId);
    assert.deepEqual(payload["objects"], { Pod: "nginx", Namespace: "default" });
  });

  it("never makes labels of trace ids, objects or texts", () => {
    const n = makeNotification({ kind: "output", target: "aws:s3", error: "boom", location: "s3://b/k" });
    const labels = lokiLabels(n);
    const values = Object.values(labels).join(" ");
    for (const v of [n.traceId, "nginx", "default", "boom", "s3://b/k", n.summary]) assert.ok(!values.includes(v), `${v} is a label value`);
    assert.equal(labels["output_target"], "aws:s3");
    assert.equal(labels["message"], "output");
  });

  it("keeps the source label bounded: odd or too many distinct sources are 'other'", () => {
    assert.equal(lokiLabels(makeNotification({ event: { source: "k8s_audit" } }))["source"], "k8s_audit");
    assert.equal(lokiLabels(makeNotification({ event: { source: "x".repeat(65) } }))["source"], "other");
    assert.equal(lokiLabels(makeNotification({ event: { source: "a b\n" } }))["source"], "other");
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(lokiLabels(makeNotification({ event: { source: `src${i}` } }))["source"]!);
    assert.ok(seen.size <= 51, `${seen.size} distinct source labels`);
    assert.ok(seen.has("other"));
  });

  it("text format sends one readable line", () => {
    const body = JSON.parse(lokiBody(makeNotification(), "text")) as { streams: { values: [string, string][] }[] };
    const line = body.streams[0]!.values[0]![1];
    assert.match(line, /^2024-12-30T14:37:28\.123Z: Success rule="Terminal shell in container"/);
  });

  it("requires url or host_port, accepts either, and a numeric user", () => {
    assert.equal(loki.params.safeParse({}).success, false);
    assert.equal(loki.params.safeParse({ url: "http://l:3100" }).success, true);
    const r = loki.params.safeParse({ host_port: "https://l", user: 99999 });
    assert.ok(r.success);
    assert.equal(r.data.user, "99999");
    assert.equal(r.data.endpoint, "/loki/api/v1/push");
    assert.equal(loki.params.safeParse({ url: "l:3100" }).success, false);
  });
});

describe("loki send", () => {
  let fake: FakeLoki;
  before(async () => {
    fake = await startFakeLoki();
  });
  after(() => fake.close());

  const create = async (extra: Record<string, unknown> = {}) =>
    loki.create(
      loki.params.parse({
        host_port: `${fake.url}/`,
        user: "99999",
        api_key: "s3cret",
        tenant: "team-a",
        custom_headers: { "X-Env": "prod" },
        ...extra,
      }),
      {
        clients: createClients(),
        log,
      },
    );

  it("sends basic auth, the tenant header and custom headers to the push endpoint", async () => {
    const inst = await create();
    await inst.send(makeNotification(), AbortSignal.timeout(2000));
    const push = fake.pushes.at(-1)!;
    assert.equal(push.url, "/loki/api/v1/push");
    assert.equal(push.headers["content-type"], "application/json");
    assert.equal(push.headers.authorization, `Basic ${Buffer.from("99999:s3cret").toString("base64")}`);
    assert.equal(push.headers["x-scope-orgid"], "team-a");
    assert.equal(push.headers["x-env"], "prod");
    assert.equal(fake.accepted.length, 1);
  });

  it("fails retryably on 429 (with Retry-After) and 500, and finally on 400", async () => {
    const inst = await create();
    fake.script({ status: 429, headers: { "retry-after": "2" } }, 500, 400);
    for (const expected of [
      { retryable: true, after: 2 },
      { retryable: true, after: undefined },
      { retryable: false, after: undefined },
    ]) {
      await assert.rejects(inst.send(makeNotification(), AbortSignal.timeout(2000)), (err: unknown) => {
        assert.ok(err instanceof KestrelError);
        assert.equal(err.code, "ERR_NOTIFY");
        assert.equal(err.retryable, expected.retryable);
        assert.equal(err.retryAfterSeconds, expected.after);
        assert.match(err.message, /^loki: /);
        return true;
      });
    }
  });
});
