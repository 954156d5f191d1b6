// Indexes each notification as one document in Elasticsearch (Talon's settings), into `<index>-<date>`.
// Beyond Talon: authentication and custom headers go on every request (Talon forgot them on documents),
// the index template is valid (Talon's JSON is broken) and maps the fields the documents really carry,
// and documents that arrive while a request is in flight are sent together in one `_bulk` request. Each
// `send` still settles with its own document's outcome, so retries and counts stay per notification.
import { z } from "zod";
import type { HttpClient } from "../clients/http.ts";
import { errorMessage, KestrelError } from "../errors.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { baseUrl, httpUrl, requireBaseUrl } from "./_base-url.ts";
import { talonPayload } from "./_payload.ts";

export const params = z
  .strictObject({
    url: httpUrl.optional().describe("base URL of Elasticsearch, http(s)://host:port (Talon's setting; required unless host_port is set)"),
    host_port: httpUrl.optional().describe("the same as url (the name the Talon docs' table uses)"),
    user: z.coerce.string().default("").describe("user for basic auth"),
    password: z.string().default("").describe("password for basic auth"),
    api_key: z.string().default("").describe("API key (Authorization: ApiKey), instead of user and password (Kestrel addition)"),
    index: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, "must be a lower-case Elasticsearch index name")
      .default("falco-talon")
      .describe("index name, before the date suffix"),
    suffix: z
      .enum(["daily", "monthly", "annually", "none"])
      .default("daily")
      .describe("date suffix of the index: -YYYY.MM.DD, -YYYY.MM, -YYYY or none"),
    create_index_template: z.boolean().default(true).describe("create the index template before the first document if it does not exist"),
    number_of_shards: z.int().min(1).default(3).describe("shards of the indices (with create_index_template)"),
    number_of_replicas: z.int().min(0).default(3).describe("replicas of the indices (with create_index_template)"),
    custom_headers: z.record(z.string(), z.coerce.string()).default({}).describe("extra HTTP headers, sent on every request"),
    batch_size: z.int().min(1).default(100).describe("most documents in one _bulk request (Kestrel addition)"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  })
  .superRefine(requireBaseUrl);

type Settings = z.output<typeof params>;

/** `<index>-YYYY.MM.DD` (daily), `-YYYY.MM`, `-YYYY` or `<index>`, from the result's time in UTC. */
export function indexName(index: string, suffix: Settings["suffix"], time: Date): string {
  const y = String(time.getUTCFullYear());
  const m = String(time.getUTCMonth() + 1).padStart(2, "0");
  const d = String(time.getUTCDate()).padStart(2, "0");
  switch (suffix) {
    case "daily":
      return `${index}-${y}.${m}.${d}`;
    case "monthly":
      return `${index}-${y}.${m}`;
    case "annually":
      return `${index}-${y}`;
    case "none":
      return index;
  }
}

/** The document: Talon's notification body plus `@timestamp`. */
export function esDocument(n: Notification): Record<string, unknown> {
  return { "@timestamp": n.time.toISOString(), ...talonPayload(n) };
}

/** A composable index template (`PUT /_index_template/<name>`) mapping the document's fields. */
export function indexTemplate(s: Pick<Settings, "index" | "suffix" | "number_of_shards" | "number_of_replicas">): Record<string, unknown> {
  const keyword = { type: "keyword" };
  const text = { type: "text", fields: { keyword: { type: "keyword", ignore_above: 1024 } } };
  return {
    index_patterns: [s.suffix === "none" ? s.index : `${s.index}-*`],
    priority: 100,
    template: {
      settings: { number_of_shards: s.number_of_shards, number_of_replicas: s.number_of_replicas },
      mappings: {
        dynamic_templates: [{ objects_as_keywords: { path_match: "objects.*", match_mapping_type: "string", mapping: keyword } }],
        properties: {
          "@timestamp": { type: "date" },
          time: { type: "date" },
          message: keyword,
          status: keyword,
          rule: keyword,
          action: keyword,
          actionner: keyword,
          priority: keyword,
          source: keyword,
          output_target: keyword,
          trace_id: keyword,
          location: keyword,
          objects: { type: "object", dynamic: true },
          event: text,
          output: text,
          error: text,
        },
      },
    },
    _meta: { description: "Kestrel notifications", managed_by: "kestrel" },
  };
}

interface Pending {
  readonly index: string;
  readonly doc: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  settled: boolean;
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string };
}

/** Splits `_bulk` NDJSON lines into per-document outcomes; exported for tests. */
export function bulkOutcomes(body: string, count: number): (KestrelError | undefined)[] {
  let parsed: { errors?: boolean; items?: Record<string, BulkItem>[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return Array.from(
      { length: count },
      () => new KestrelError("ERR_NOTIFY", "elasticsearch: the _bulk answer is not JSON", { retryable: true }),
    );
  }
  const items = parsed.items ?? [];
  return Array.from({ length: count }, (_, i) => {
    const entry = items[i];
    const item = entry === undefined ? undefined : Object.values(entry)[0];
    if (item === undefined)
      return new KestrelError("ERR_NOTIFY", "elasticsearch: the _bulk answer has no item for this document", { retryable: true });
    const status = item.status ?? 0;
    if (status >= 200 && status < 300) return undefined;
    const reason = item.error === undefined ? "" : `: ${item.error.type ?? "error"}: ${item.error.reason ?? ""}`;
    return new KestrelError("ERR_NOTIFY", `elasticsearch: document rejected with ${status}${reason}`, {
      retryable: status === 429 || status >= 500,
    });
  });
}

class Indexer {
  readonly #s: Settings;
  readonly #http: HttpClient;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  #buffer: Pending[] = [];
  #inFlight: Promise<void> | undefined;
  #template: Promise<void> | undefined;

  constructor(settings: Settings, http: HttpClient) {
    this.#s = settings;
    this.#http = http;
    this.#base = baseUrl(settings);
    const headers: Record<string, string> = { ...settings.custom_headers, "user-agent": "Kestrel" };
    if (settings.api_key !== "") headers["authorization"] = `ApiKey ${settings.api_key}`;
    else if (settings.user !== "")
      headers["authorization"] = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString("base64")}`;
    this.#headers = headers;
  }

  send(n: Notification, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        index: indexName(this.#s.index, this.#s.suffix, n.time),
        doc: JSON.stringify(esDocument(n)),
        resolve: () => {
          p.settled = true;
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (err) => {
          p.settled = true;
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
        settled: false,
      };
      // A document still waiting in the buffer when its deadline passes is dropped from the buffer.
      const onAbort = () => {
        const i = this.#buffer.indexOf(p);
        if (i >= 0) {
          this.#buffer.splice(i, 1);
          p.reject(new KestrelError("ERR_TIMEOUT", "elasticsearch: the document waited too long to be sent", { retryable: true }));
        }
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#buffer.push(p);
      this.#pump();
    });
  }

  /** Sends what is buffered and waits for every request in flight. */
  async close(): Promise<void> {
    while (this.#inFlight !== undefined || this.#buffer.length > 0) {
      this.#pump();
      await this.#inFlight;
    }
  }

  /** One request at a time: the documents that queued up while it ran go together in the next one. */
  #pump(): void {
    if (this.#inFlight !== undefined || this.#buffer.length === 0) return;
    const batch = this.#buffer.splice(0, this.#s.batch_size);
    this.#inFlight = this.#flush(batch).finally(() => {
      this.#inFlight = undefined;
      this.#pump();
    });
  }

  async #flush(batch: Pending[]): Promise<void> {
    try {
      await this.#ensureTemplate();
      if (batch.length === 1) {
        const p = batch[0]!;
        await this.#request("POST", `/${p.index}/_doc`, "application/json", p.doc);
        p.resolve();
        return;
      }
      const body = batch.map((p) => `${JSON.stringify({ create: { _index: p.index } })}\n${p.doc}\n`).join("");
      const res = await this.#request("POST", "/_bulk", "application/x-ndjson", body);
      const outcomes = bulkOutcomes(res.body, batch.length);
      batch.forEach((p, i) => {
        const err = outcomes[i];
        if (err === undefined) p.resolve();
        else p.reject(err);
      });
    } catch (err) {
      for (const p of batch) if (!p.settled) p.reject(err);
    }
  }

  /** GET the template; PUT it when absent. Memoised once it succeeds; tried again after a failure. */
  #ensureTemplate(): Promise<void> {
    if (!this.#s.create_index_template) return Promise.resolve();
    this.#template ??= this.#createTemplate().catch((err: unknown) => {
      this.#template = undefined;
      throw err;
    });
    return this.#template;
  }

  async #createTemplate(): Promise<void> {
    const path = `/_index_template/${this.#s.index}`;
    try {
      await this.#request("GET", path);
      return; // it exists: leave the operator's template alone
    } catch (err) {
      if (!(err instanceof KestrelError && / HTTP 404\b/.test(err.message))) throw err;
    }
    await this.#request("PUT", path, "application/json", JSON.stringify(indexTemplate(this.#s)));
  }

  async #request(method: string, path: string, contentType?: string, body?: string) {
    try {
      return await this.#http(`${this.#base}${path}`, {
        method,
        headers: contentType === undefined ? this.#headers : { ...this.#headers, "content-type": contentType },
        ...(body === undefined ? {} : { body }),
        timeoutMs: this.#s.timeout_seconds * 1000,
        errorCode: "ERR_NOTIFY",
      });
    } catch (err) {
      if (!(err instanceof KestrelError))
        throw new KestrelError("ERR_NOTIFY", `elasticsearch: ${errorMessage(err)}`, { cause: err, retryable: true });
      throw new KestrelError(err.code, `elasticsearch ${method} ${path}: ${err.message}`, {
        cause: err,
        retryable: err.retryable,
        ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
      });
    }
  }
}

export default defineNotifier({
  name: "elasticsearch",
  needs: [],
  notes: {
    behaviour:
      "`url` or `host_port` is required. One document per notification (`_doc`, or `_bulk` when busy), index template created once; auth and headers on every request.",
  },
  description: "Index each result as a document in Elasticsearch (daily indices, index template, _bulk when busy)",
  params,
  example: `
notifiers:
  elasticsearch:
    url: "http://localhost:9200"
    index: falco-talon
    suffix: daily
    user: elastic
    password: changeme
    create_index_template: true
    number_of_shards: 1
    number_of_replicas: 1
`,
  create(settings, { clients }) {
    const indexer = new Indexer(settings, clients.http);
    return {
      send: (n, signal) => indexer.send(n, signal),
      close: () => indexer.close(),
    };
  },
});
