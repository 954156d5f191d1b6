// A recording HTTP receiver that answers like Elasticsearch 8: `x-elastic-product: Elasticsearch` on
// every answer, index templates stored (GET 404 until PUT), `POST /<index>/_doc` 201 with a result
// object, `POST /_bulk` with per-item results and `errors`, 401 without the expected credentials, and
// scripted answers for the next document requests (429, 5xx, slow answers, rejected bulk items).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface EsRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface EsAnswer {
  /** HTTP status for the whole request (default 200/201). */
  status?: number;
  headers?: Record<string, string>;
  delayMs?: number;
  /** For _bulk: per-item statuses by position (e.g. {1: 400}); others are 201. */
  items?: Record<number, number>;
}

export interface FakeElasticsearch {
  readonly url: string;
  readonly requests: EsRequest[];
  readonly templates: Map<string, unknown>;
  /** Indexed documents with their index, in order. */
  readonly docs: { index: string; doc: Record<string, unknown> }[];
  /** Answers for the next _doc or _bulk requests, in order. */
  script(...answers: EsAnswer[]): void;
  close(): Promise<void>;
}

const PRODUCT = { "x-elastic-product": "Elasticsearch", "content-type": "application/vnd.elasticsearch+json;compatible-with=8" };

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...PRODUCT, ...headers }).end(JSON.stringify(body));
}

function error(type: string, reason: string, status: number): { error: unknown; status: number } {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

export async function startFakeElasticsearch(options: { authorization?: string } = {}): Promise<FakeElasticsearch> {
  const requests: EsRequest[] = [];
  const templates = new Map<string, unknown>();
  const docs: { index: string; doc: Record<string, unknown> }[] = [];
  const answers: EsAnswer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
        reply(res, 401, error("security_exception", "missing authentication credentials for REST request", 401), {
          "www-authenticate": 'Basic realm="security" charset="UTF-8"',
        });
        return;
      }
      const path = (req.url ?? "").split("?")[0]!;
      const template = /^\/_index_template\/([^/]+)$/.exec(path);
      if (template !== null) {
        const name = template[1]!;
        if (req.method === "GET") {
          if (!templates.has(name))
            return reply(res, 404, error("resource_not_found_exception", `index template matching [${name}] not found`, 404));
          return reply(res, 200, { index_templates: [{ name, index_template: templates.get(name) }] });
        }
        if (req.method === "PUT") {
          let t: { index_patterns?: unknown; template?: unknown };
          try {
            t = JSON.parse(body) as typeof t;
          } catch {
            return reply(res, 400, error("x_content_parse_exception", "failed to parse template", 400));
          }
          if (!Array.isArray(t.index_patterns) || t.index_patterns.length === 0) {
            return reply(res, 400, error("action_request_validation_exception", "Validation Failed: 1: index patterns are missing;", 400));
          }
          templates.set(name, t);
          return reply(res, 200, { acknowledged: true });
        }
      }
      const isDoc = req.method === "POST" && /^\/[^/_][^/]*\/_doc$/.test(path);
      const isBulk = req.method === "POST" && path === "/_bulk";
      if (!isDoc && !isBulk)
        return reply(res, 404, error("no_handler_found_exception", `no handler found for uri [${path}] and method [${req.method}]`, 404));
      const answer = answers.shift() ?? {};
      const respond = () => {
        if (answer.status !== undefined && answer.status >= 300) {
          const type = answer.status === 429 ? "es_rejected_execution_exception" : "unavailable_shards_exception";
          return reply(res, answer.status, error(type, `scripted ${answer.status}`, answer.status), answer.headers);
        }
        if (isDoc) {
          const index = path.split("/")[1]!;
          let doc: Record<string, unknown>;
          try {
            doc = JSON.parse(body) as Record<string, unknown>;
          } catch {
            return reply(res, 400, error("document_parsing_exception", "failed to parse", 400));
          }
          docs.push({ index, doc });
          return reply(res, 201, {
            _index: index,
            _id: randomUUID(),
            _version: 1,
            result: "created",
            _shards: { total: 2, successful: 1, failed: 0 },
            _seq_no: docs.length - 1,
            _primary_term: 1,
          });
        }
        if (!body.endsWith("\n"))
          return reply(res, 400, error("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]", 400));
        const lines = body.split("\n").filter((l) => l !== "");
        const items: unknown[] = [];
        let errors = false;
        for (let i = 0; i + 1 < lines.length; i += 2) {
          const action = JSON.parse(lines[i]!) as Record<string, { _index: string }>;
          const [op, meta] = Object.entries(action)[0]!;
          const status = answer.items?.[i / 2] ?? 201;
          if (status >= 300) {
            errors = true;
            const type = status === 429 ? "es_rejected_execution_exception" : "document_parsing_exception";
            items.push({ [op]: { _index: meta._index, status, error: { type, reason: `scripted item ${status}` } } });
          } else {
            docs.push({ index: meta._index, doc: JSON.parse(lines[i + 1]!) as Record<string, unknown> });
            items.push({ [op]: { _index: meta._index, _id: randomUUID(), _version: 1, result: "created", status: 201 } });
          }
        }
        reply(res, 200, { errors, took: 3, items });
      };
      if (answer.delayMs !== undefined) setTimeout(respond, answer.delayMs);
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    templates,
    docs,
    script(...list) {
      answers.push(...list);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
