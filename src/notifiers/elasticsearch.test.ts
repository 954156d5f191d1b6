import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";
import pino from "pino";
import { type FakeElasticsearch, startFakeElasticsearch } from "../../test/support/elasticsearch.ts";
import { makeNotification } from "../../test/support/notification.ts";
import { until } from "../../test/support/wait.ts";
import { createClients } from "../clients/index.ts";
import { KestrelError } from "../errors.ts";
import elasticsearch, { bulkOutcomes, esDocument, indexName, indexTemplate } from "./elasticsearch.ts";

const log = pino({ level: "silent" });
const AUTH = `Basic ${Buffer.from("elastic:changeme").toString("base64")}`;

describe("elasticsearch shaping", () => {
  it("names the index by the result's UTC date", () => {
    const t = new Date("2024-01-05T23:59:59Z");
    assert.equal(indexName("falco-talon", "daily", t), "falco-talon-2024.01.05");
    assert.equal(indexName("falco-talon", "monthly", t), "falco-talon-2024.01");
    assert.equal(indexName("falco-talon", "annually", t), "falco-talon-2024");
    assert.equal(indexName("falco-talon", "none", t), "falco-talon");
  });

  it("has Talon's defaults and accepts url or host_port", () => {
    const s = elasticsearch.params.parse({ url: "http://es:9200" });
    assert.equal(s.index, "falco-talon");
    assert.equal(s.suffix, "daily");
    assert.equal(s.create_index_template, true);
    assert.equal(s.number_of_shards, 3);
    assert.equal(s.number_of_replicas, 3);
    assert.equal(elasticsearch.params.safeParse({ host_port: "http://es:9200" }).success, true);
    assert.equal(elasticsearch.params.safeParse({}).success, false);
    assert.equal(elasticsearch.params.safeParse({ url: "http://es:9200", number_of_shards: 0 }).success, false);
  });

  it("builds a composable template whose mappings cover the document's fields", () => {
    const t = indexTemplate({ index: "sec", suffix: "daily", number_of_shards: 1, number_of_replicas: 0 }) as {
      index_patterns: string[];
      template: { settings: Record<string, number>; mappings: { properties: Record<string, { type: string }> } };
    };
    assert.deepEqual(t.index_patterns, ["sec-*"]);
    assert.deepEqual(t.template.settings, { number_of_shards: 1, number_of_replicas: 0 });
    const props = t.template.mappings.properties;
    const doc = esDocument(makeNotification({ target: "aws:s3", error: "x", location: "s3://b/k" }));
    for (const key of Object.keys(doc)) assert.ok(props[key] !== undefined, `no mapping for ${key}`);
    assert.equal(props["@timestamp"]!.type, "date");
    assert.equal(props["time"]!.type, "date");
    for (const k of ["status", "rule", "action", "actionner", "priority", "trace_id"]) assert.equal(props[k]!.type, "keyword");
    assert.deepEqual(
      (indexTemplate({ index: "sec", suffix: "none", number_of_shards: 1, number_of_replicas: 0 }) as { index_patterns: string[] })
        .index_patterns,
      ["sec"],
    );
  });

  it("reads per-item outcomes of a _bulk answer", () => {
    const out = bulkOutcomes(
      JSON.stringify({
        errors: true,
        items: [
          { create: { status: 201 } },
          { create: { status: 429, error: { type: "es_rejected_execution_exception" } } },
          { create: { status: 400, error: { type: "document_parsing_exception", reason: "bad" } } },
        ],
      }),
      4,
    );
    assert.equal(out[0], undefined);
    assert.equal(out[1]?.retryable, true);
    assert.equal(out[2]?.retryable, false);
    assert.match(out[2]!.message, /document_parsing_exception: bad/);
    assert.ok(out[3] instanceof KestrelError, "a missing item is a failure");
  });
});

describe("elasticsearch send", () => {
  let fake: FakeElasticsearch;
  beforeEach(async () => {
    await fake?.close();
    fake = await startFakeElasticsearch({ authorization: AUTH });
  });
  after(() => fake.close());

  const create = async (extra: Record<string, unknown> = {}) =>
    elasticsearch.create(
      elasticsearch.params.parse({
        url: fake.url,
        user: "elastic",
        password: "changeme",
        number_of_shards: 1,
        number_of_replicas: 0,
        custom_headers: { "X-Team": "sec" },
        ...extra,
      }),
      { clients: createClients(), log },
    );

  it("creates the template once, then posts the document, with auth and custom headers on every request", async () => {
    const inst = await create();
    await inst.send(makeNotification(), AbortSignal.timeout(3000));
    await inst.send(makeNotification(), AbortSignal.timeout(3000));
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.url}`),
      [
        "GET /_index_template/falco-talon",
        "PUT /_index_template/falco-talon",
        "POST /falco-talon-2024.12.30/_doc",
        "POST /falco-talon-2024.12.30/_doc",
      ],
    );
    for (const r of fake.requests) {
      assert.equal(r.headers.authorization, AUTH);
      assert.equal(r.headers["x-team"], "sec");
    }
    assert.ok(fake.templates.has("falco-talon"));
    assert.equal(fake.docs.length, 2);
    assert.equal(fake.docs[0]!.doc["rule"], "Terminal shell in container");
    assert.equal(fake.docs[0]!.doc["@timestamp"], "2024-12-30T14:37:28.123Z");
  });

  it("leaves an existing template alone and skips it when create_index_template is false", async () => {
    fake.templates.set("falco-talon", { index_patterns: ["falco-talon-*"] });
    const inst = await create();
    await inst.send(makeNotification(), AbortSignal.timeout(3000));
    assert.deepEqual(
      fake.requests.map((r) => r.method),
      ["GET", "POST"],
    );
    const off = await create({ create_index_template: false, suffix: "none", index: "plain" });
    await off.send(makeNotification(), AbortSignal.timeout(3000));
    assert.equal(fake.requests.at(-1)!.url, "/plain/_doc");
    assert.equal(fake.requests.length, 3);
  });

  it("fails without retry on 401 (wrong password)", async () => {
    const inst = await create({ password: "wrong" });
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(3000)),
      (err: unknown) => err instanceof KestrelError && !err.retryable && /401/.test(err.message),
    );
  });

  it("batches documents queued during a request into one _bulk, each send settling with its own item", async () => {
    const inst = await create({ create_index_template: false });
    fake.script({ delayMs: 150 }, { items: { 0: 400, 1: 429 } });
    const sent = fake.requests.length;
    const first = inst.send(makeNotification({ rule: "first" }), AbortSignal.timeout(3000));
    await until(() => fake.requests.length > sent, "the first request to be in flight", 3000);
    const rest = [1, 2, 3].map((i) => inst.send(makeNotification({ rule: `r${i}` }), AbortSignal.timeout(3000)));
    await first;
    const results = await Promise.allSettled(rest);
    assert.deepEqual(
      fake.requests.map((r) => r.url),
      ["/falco-talon-2024.12.30/_doc", "/_bulk"],
    );
    const bulk = fake.requests[1]!;
    assert.equal(bulk.headers["content-type"], "application/x-ndjson");
    assert.equal(bulk.headers.authorization, AUTH);
    const lines = bulk.body
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { create: { _index: "falco-talon-2024.12.30" } });
    assert.deepEqual(
      lines.filter((_, i) => i % 2 === 1).map((d) => d["rule"]),
      ["r1", "r2", "r3"],
    );
    assert.equal(results[0]!.status, "rejected");
    assert.equal(((results[0] as PromiseRejectedResult).reason as KestrelError).retryable, false);
    assert.equal(results[1]!.status, "rejected");
    assert.equal(((results[1] as PromiseRejectedResult).reason as KestrelError).retryable, true);
    assert.equal(results[2]!.status, "fulfilled");
    assert.deepEqual(
      fake.docs.map((d) => d.doc["rule"]),
      ["first", "r3"],
    );
  });

  it("rejects every document of a _bulk answered 429 or 500, retryably", async () => {
    const inst = await create({ create_index_template: false });
    fake.script({ delayMs: 100 }, { status: 429, headers: { "retry-after": "1" } });
    const sent = fake.requests.length;
    const first = inst.send(makeNotification(), AbortSignal.timeout(3000));
    await until(() => fake.requests.length > sent, "the first request to be in flight", 3000);
    const rest = await Promise.allSettled([
      inst.send(makeNotification(), AbortSignal.timeout(3000)),
      inst.send(makeNotification(), AbortSignal.timeout(3000)),
    ]);
    await first;
    for (const r of rest) {
      assert.equal(r.status, "rejected");
      const err = (r as PromiseRejectedResult).reason as KestrelError;
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfterSeconds, 1);
    }
  });

  it("close() sends what is buffered", async () => {
    const inst = await create({ create_index_template: false });
    fake.script({ delayMs: 100 });
    const sends = [1, 2, 3].map(() => inst.send(makeNotification(), AbortSignal.timeout(3000)));
    await inst.close!();
    assert.equal(fake.docs.length, 3);
    await Promise.all(sends);
  });

  it("drops a buffered document whose deadline passed", async () => {
    const inst = await create({ create_index_template: false });
    fake.script({ delayMs: 150 });
    const sent = fake.requests.length;
    const first = inst.send(makeNotification(), AbortSignal.timeout(3000));
    await until(() => fake.requests.length > sent, "the first request to be in flight", 3000);
    await assert.rejects(
      inst.send(makeNotification(), AbortSignal.timeout(30)),
      (err: unknown) => err instanceof KestrelError && err.code === "ERR_TIMEOUT",
    );
    await first;
    await inst.close!();
    assert.equal(fake.docs.length, 1);
  });
});
