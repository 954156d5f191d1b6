// The HTTPS side: bearer-token authentication, request recording, fault injection (fail/hang), routing
// of kube-apiserver's URL layout to discovery, resources and subresources, and the WebSocket upgrade for
// exec. Every error leaves as a Status object.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import { type Api, deleteOptionsFrom, parseBody } from "./api.ts";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, VERSION_INFO } from "./discovery.ts";
import type { ExecServer } from "./exec.ts";
import type { Logs } from "./log.ts";
import { findByPlural, POD, qualifiedResource, type ResourceType, type Served } from "./resources.ts";
import { ApiError, badRequest, conflict, internalError, methodNotAllowed, noSuchPath, notFound, REASONS, unauthorized } from "./status.ts";
import type { DelayRule, FailRule, HangRule, RecordedRequest } from "./types.ts";
import type { Watches } from "./watch.ts";

const MAX_BODY = 3 * 1024 * 1024;

export interface ServerParts {
  token: string;
  api: Api;
  watches: Watches;
  logs: Logs;
  exec: ExecServer;
  requests: RecordedRequest[];
}

type Route =
  | { kind: "doc"; body: () => Record<string, unknown> | undefined }
  | { kind: "text"; body: string }
  | { kind: "resource"; rt: ResourceType; namespace?: string; name?: string; sub?: string };

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

function route(pathname: string, serverAddress: string, served: Served): Route | undefined {
  let segs: string[];
  try {
    segs = pathname
      .split("/")
      .filter((s) => s !== "")
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (segs.length === 1 && segs[0] === "version") return { kind: "doc", body: () => VERSION_INFO };
  if (segs.length === 1 && ["healthz", "livez", "readyz"].includes(segs[0]!)) return { kind: "text", body: "ok" };
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api") {
    if (segs.length === 1) return { kind: "doc", body: () => apiVersions(serverAddress) };
    group = "";
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === "apis") {
    if (segs.length === 1) return { kind: "doc", body: () => apiGroupList(served) };
    if (segs.length === 2) return { kind: "doc", body: () => apiGroup(segs[1]!, served) };
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return undefined;
  if (rest.length === 0) return { kind: "doc", body: () => apiResourceList(group, version, served) };
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !(group === "" && rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2]!))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length > 3) return undefined;
  const rt = findByPlural(group, version, rest[0]!);
  if (rt === undefined || !served(rt)) return undefined;
  if (rt.namespaced === false && namespace !== undefined) return undefined;
  if (rt.namespaced && namespace === undefined && rest.length > 1) return undefined;
  return { kind: "resource", rt, namespace, name: rest[1], sub: rest[2] };
}

function queryRecord(query: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    const all = query.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}

function recordedBody(contentType: string | undefined, text: string): unknown {
  if (text === "") return undefined;
  if (contentType === undefined || /json|yaml/.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    "audit-id": randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.code, e.toStatus(), e.headers);
}

/** An HTTP error answer written on a socket that was about to be upgraded. */
function rejectUpgrade(socket: Duplex, err: unknown): void {
  const e = err instanceof ApiError ? err : internalError(String(err));
  const body = JSON.stringify(e.toStatus());
  socket.end(
    `HTTP/1.1 ${e.code} ${REASONS[e.code] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function verbOf(method: string, r: Route | undefined, query: URLSearchParams): string {
  const named = r?.kind === "resource" && r.name !== undefined;
  switch (method) {
    case "GET":
      return named ? "get" : query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}

/** The error an injected failure produces, worded as the real server would word that status. */
function injectedError(rule: FailRule, method: string, r: Route | undefined, query: URLSearchParams): ApiError {
  const reason = rule.reason ?? REASONS[rule.status] ?? "InternalError";
  const res = r?.kind === "resource" ? r : undefined;
  const name = res?.name ?? "";
  if (rule.message === undefined && res !== undefined) {
    const rt = res.rt;
    if (rule.status === 403) {
      const resource = res.sub === undefined ? rt.plural : `${rt.plural}/${res.sub}`;
      const where = res.namespace === undefined ? "at the cluster scope" : `in the namespace "${res.namespace}"`;
      return new ApiError(
        403,
        reason,
        `${qualifiedResource(rt)}${name ? ` "${name}"` : ""} is forbidden: User "system:serviceaccount:kestrel:kestrel" cannot ${verbOf(method, r, query)} resource "${resource}" in API group "${rt.group}" ${where}`,
        rt.group === "" ? { name, kind: rt.plural } : { name, group: rt.group, kind: rt.plural },
      );
    }
    if (rule.status === 404) return notFound(rt, name);
    if (rule.status === 409 && reason === "Conflict") return conflict(rt, name);
  }
  const defaults: Record<number, string> = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: etcdserver: request timed out",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
  };
  const message = rule.message ?? defaults[rule.status] ?? `injected ${rule.status} ${reason}`;
  if (rule.status === 429) return new ApiError(429, reason, message, { retryAfterSeconds: 1 }, { "retry-after": "1" });
  return new ApiError(rule.status, reason, message, res?.name === undefined ? undefined : { name, kind: res.rt.plural });
}

interface Reply {
  code: number;
  body: unknown;
}

interface Armed<T> {
  rule: T;
  remaining: number;
}

export class KubeHttpServer {
  private readonly parts: ServerParts;
  private readonly server: Server;
  private readonly failRules: Armed<FailRule>[] = [];
  private readonly hangRules: Armed<HangRule>[] = [];
  private readonly delayRules: Armed<DelayRule>[] = [];
  private readonly delays = new Set<NodeJS.Timeout>();
  private readonly hung = new Set<{ destroy(): void }>();
  private address = "127.0.0.1:0";
  /** Whether the aggregated API groups (Calico's API server) are registered and served. */
  private aggregatedServed = false;
  private readonly served: Served = (rt) => !rt.aggregated || this.aggregatedServed;

  constructor(parts: ServerParts, tls: { cert: string; key: string }) {
    this.parts = parts;
    this.server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => sendError(res, err));
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const addr = this.server.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : 0;
    this.address = `127.0.0.1:${port}`;
    return port;
  }

  setAggregated(on: boolean): void {
    this.aggregatedServed = on;
  }

  failNext(rule: FailRule): void {
    this.failRules.push({ rule, remaining: rule.times ?? 1 });
  }

  hangNext(rule: HangRule): void {
    this.hangRules.push({ rule, remaining: rule.times ?? 1 });
  }

  delayNext(rule: DelayRule): void {
    this.delayRules.push({ rule, remaining: rule.times ?? 1 });
  }

  private delay(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.delays.delete(timer);
        resolve(true);
      }, ms);
      this.delays.add(timer);
    });
  }

  private take<T extends { method?: string; path: RegExp }>(list: Armed<T>[], method: string, pathname: string): T | undefined {
    const i = list.findIndex((a) => (a.rule.method === undefined || a.rule.method.toUpperCase() === method) && a.rule.path.test(pathname));
    if (i === -1) return undefined;
    const armed = list[i]!;
    if (--armed.remaining <= 0) list.splice(i, 1);
    return armed.rule;
  }

  private record(req: IncomingMessage, url: URL, body: string, websocket: boolean): RecordedRequest {
    const contentType = req.headers["content-type"];
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: queryRecord(url.searchParams),
      contentType,
      body: recordedBody(contentType, body),
      headers: { ...req.headers },
      websocket,
    };
    this.parts.requests.push(rec);
    return rec;
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.parts.token}`;
  }

  private readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on("end", () => {
        if (size > MAX_BODY) reject(new ApiError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${MAX_BODY}`));
        else resolve(Buffer.concat(chunks).toString("utf8"));
      });
      req.on("error", reject);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const body = await this.readBody(req);
    const rec = this.record(req, url, body, false);
    res.on("finish", () => {
      rec.status = res.statusCode;
    });
    const method = (req.method ?? "GET").toUpperCase();
    if (!this.authorized(req)) {
      sendError(res, unauthorized());
      return;
    }
    const r = route(url.pathname, this.address, this.served);
    if (this.take(this.hangRules, method, url.pathname) !== undefined) {
      this.hung.add(res);
      res.on("close", () => this.hung.delete(res));
      return;
    }
    const delayed = this.take(this.delayRules, method, url.pathname);
    if (delayed !== undefined) {
      this.hung.add(res);
      await this.delay(delayed.ms);
      this.hung.delete(res);
      if (res.destroyed) return;
    }
    const fail = this.take(this.failRules, method, url.pathname);
    if (fail !== undefined) {
      sendError(res, injectedError(fail, method, r, url.searchParams));
      return;
    }
    if (r === undefined) {
      sendError(res, noSuchPath());
      return;
    }
    if (r.kind === "text") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(r.body);
      return;
    }
    if (r.kind === "doc") {
      const doc = method === "GET" ? r.body() : undefined;
      if (method !== "GET") sendError(res, methodNotAllowed());
      else if (doc === undefined) sendError(res, noSuchPath());
      else sendJson(res, 200, doc);
      return;
    }
    const reply = this.resource(req, res, method, r, url.searchParams, body);
    if (reply !== undefined) sendJson(res, reply.code, reply.body);
  }

  /** The answer to a resource request; undefined when a handler streams the response itself. */
  private resource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    r: Extract<Route, { kind: "resource" }>,
    query: URLSearchParams,
    body: string,
  ): Reply | undefined {
    const { api } = this.parts;
    const { rt, namespace, name, sub } = r;
    const contentType = req.headers["content-type"];
    if (name === undefined) {
      if (method === "GET") {
        if (query.get("watch") === "true" || query.get("watch") === "1") {
          this.parts.watches.serve(req, res, rt, namespace, query);
          return undefined;
        }
        return { code: 200, body: api.list(rt, namespace, query) };
      }
      if (method === "POST") {
        if (rt.namespaced && namespace === undefined) throw methodNotAllowed();
        return { code: 201, body: api.create(rt, namespace, parseBody(contentType, body), query) };
      }
      if (method === "DELETE")
        return { code: 200, body: api.deleteCollection(rt, namespace, query, deleteOptionsFrom(query, parseBody(contentType, body))) };
      throw methodNotAllowed();
    }
    if (sub === undefined) {
      switch (method) {
        case "GET":
          return { code: 200, body: api.get(rt, namespace, name) };
        case "PUT": {
          const { object, created } = api.update(rt, namespace, name, parseBody(contentType, body), query);
          return { code: created ? 201 : 200, body: object };
        }
        case "PATCH": {
          const { object, created } = api.patch(rt, namespace, name, contentType, body, query);
          return { code: created ? 201 : 200, body: object };
        }
        case "DELETE":
          return { code: 200, body: api.delete(rt, namespace, name, deleteOptionsFrom(query, parseBody(contentType, body))) };
        default:
          throw methodNotAllowed();
      }
    }
    if (!rt.subresources.includes(sub)) throw noSuchPath();
    switch (sub) {
      case "status":
      case "ephemeralcontainers":
        if (method === "GET") return { code: 200, body: api.get(rt, namespace, name) };
        if (method === "PUT")
          return { code: 200, body: api.updateSubresource(rt, namespace, name, parseBody(contentType, body), query, sub) };
        if (method === "PATCH") return { code: 200, body: api.patch(rt, namespace, name, contentType, body, query, sub).object };
        throw methodNotAllowed();
      case "scale":
        if (method === "GET") return { code: 200, body: api.scale(rt, namespace, name) };
        if (method === "PUT" || method === "PATCH")
          return { code: 200, body: api.updateScale(rt, namespace, name, contentType, body, query, method === "PATCH") };
        throw methodNotAllowed();
      case "eviction":
        if (method !== "POST") throw methodNotAllowed();
        return { code: 201, body: api.evict(namespace!, name, parseBody(contentType, body), query) };
      case "log":
        if (method !== "GET") throw methodNotAllowed();
        this.parts.logs.serve(res, api.get(POD, namespace, name), query);
        return undefined;
      case "exec":
        if (method !== "GET" && method !== "POST") throw methodNotAllowed();
        api.get(POD, namespace, name);
        throw badRequest("Upgrade request required");
      default:
        throw noSuchPath();
    }
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const rec = this.record(req, url, "", true);
    const method = (req.method ?? "GET").toUpperCase();
    const fail = (err: unknown) => {
      rec.status = err instanceof ApiError ? err.code : 500;
      rejectUpgrade(socket, err);
    };
    if (!this.authorized(req)) {
      fail(unauthorized());
      return;
    }
    const r = route(url.pathname, this.address, this.served);
    if (this.take(this.hangRules, method, url.pathname) !== undefined) {
      this.hung.add(socket);
      socket.on("close", () => this.hung.delete(socket));
      return;
    }
    const injected = this.take(this.failRules, method, url.pathname);
    if (injected !== undefined) {
      fail(injectedError(injected, method, r, url.searchParams));
      return;
    }
    if (r?.kind !== "resource" || r.rt !== POD || r.name === undefined || r.sub !== "exec") {
      fail(noSuchPath());
      return;
    }
    try {
      const pod = this.parts.api.get(POD, r.namespace, r.name);
      this.parts.exec.upgrade(req, socket, head, pod, url.searchParams, (protocol) => {
        rec.status = 101;
        rec.protocol = protocol;
      });
    } catch (err) {
      fail(err);
    }
  }

  async close(): Promise<void> {
    for (const t of this.delays) clearTimeout(t);
    this.delays.clear();
    for (const h of [...this.hung]) h.destroy();
    this.hung.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
