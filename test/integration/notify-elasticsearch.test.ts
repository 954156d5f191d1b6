// The elasticsearch notifier through a running Kestrel against a receiver answering like Elasticsearch 8.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeElasticsearch, startFakeElasticsearch } from "../support/elasticsearch.ts";
import { falcoEvent } from "../support/events.ts";
import { notificationsTotal, type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { until } from "../support/wait.ts";

const RULES = `
- rule: Respond
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Run true
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;
const AUTH = `Basic ${Buffer.from("elastic:changeme").toString("base64")}`;

describe("elasticsearch notifier (running server)", () => {
  let kestrel: RunningKestrel;
  let es: FakeElasticsearch;
  const metric = (status: string): Promise<number> => notificationsTotal(kestrel, "elasticsearch", status);

  before(async () => {
    es = await startFakeElasticsearch({ authorization: AUTH });
    kestrel = await startKestrel({
      rules: RULES,
      config: `default_notifiers: [elasticsearch]
notifiers:
  elasticsearch:
    url: ${es.url}
    user: elastic
    password: changeme
    index: security
    suffix: monthly
    number_of_shards: 1
    number_of_replicas: 1
    custom_headers: { X-Tenant: blue }
`,
    });
  });
  after(async () => {
    await kestrel.close();
    await es.close();
  });

  it("creates the index template, then indexes the result, authenticated on every request", async () => {
    const res = await kestrel.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    await until(() => es.docs.length >= 1, "a document");
    assert.deepEqual(
      es.requests.slice(0, 2).map((r) => `${r.method} ${r.url}`),
      ["GET /_index_template/security", "PUT /_index_template/security"],
    );
    const template = es.templates.get("security") as { index_patterns: string[]; template: { settings: Record<string, number> } };
    assert.deepEqual(template.index_patterns, ["security-*"]);
    assert.deepEqual(template.template.settings, { number_of_shards: 1, number_of_replicas: 1 });
    const { index, doc } = es.docs[0]!;
    const now = new Date();
    assert.equal(index, `security-${now.getUTCFullYear()}.${String(now.getUTCMonth() + 1).padStart(2, "0")}`);
    assert.equal(doc["trace_id"], trace_id);
    assert.equal(doc["status"], "success");
    assert.equal(doc["actionner"], "local:command");
    assert.ok(typeof doc["@timestamp"] === "string");
    for (const r of es.requests) {
      assert.equal(r.headers.authorization, AUTH, `${r.method} ${r.url} without auth`);
      assert.equal(r.headers["x-tenant"], "blue");
    }
    await until(async () => (await metric("success")) === 1, "success counted");
  });

  it("sends documents queued while Elasticsearch is slow in one _bulk, and retries the rejected items", async () => {
    const before = es.docs.length;
    const okBefore = await metric("success");
    // The first document's request hangs; the next ones queue and go in one _bulk, where one item is
    // rejected with 429 (retried later on its own) and one with 400 (a final failure).
    // The hang is long against the bound below, so that a loaded machine (the suite runs two files at once)
    // cannot pass for a blocked intake.
    es.script({ delayMs: 2000 }, { items: { 0: 429, 1: 400 } });
    const started = Date.now();
    const sent = es.requests.length;
    await kestrel.post(falcoEvent());
    await until(() => es.requests.length > sent, "the slow request");
    for (let i = 0; i < 4; i++) assert.equal((await kestrel.post(falcoEvent())).status, 200);
    assert.ok(Date.now() - started < 1500, "intake not slowed");
    await until(async () => (await metric("success")) + (await metric("failure")) >= okBefore + 5, "all five settled", 8000);
    const bulks = es.requests.filter((r) => r.url === "/_bulk");
    assert.ok(bulks.length >= 1, "a _bulk request");
    assert.equal(bulks[0]!.headers["content-type"], "application/x-ndjson");
    assert.equal(bulks[0]!.headers.authorization, AUTH);
    // The delivery queue runs 4 sends per notifier at once: 3 or 4 documents wait for the slow request.
    assert.ok(bulks[0]!.body.trimEnd().split("\n").length >= 6, "the queued documents in one _bulk");
    assert.equal(es.docs.length, before + 4, "one rejected for good");
    assert.equal(await metric("failure"), 1);
    assert.equal(await metric("success"), okBefore + 4);
  });
});
