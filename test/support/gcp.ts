// Google Cloud, as far as Kestrel talks to it, on 127.0.0.1: four small HTTP servers answering the documented
// requests and responses of each API, so that the real SDK clients (@google-cloud/storage,
// google-auth-library) can be pointed at them through their endpoint settings.
//
// - OAuth2 token endpoint (the `token_uri` of the service-account keys it hands out): the JWT-bearer grant;
//   the assertion's RS256 signature is checked with the key's public key; answers an access token, or an
//   `id_token` (signed with this server's own key) when the assertion asks for a `target_audience`.
// - Cloud Storage JSON API: media, multipart and resumable uploads (session creation → Location; PUT chunks
//   with Content-Range → 308 with Range until the final 200 with the object resource; status query;
//   DELETE cancels), object GET (metadata or alt=media) and DELETE; bearer access tokens required except on
//   session URIs; 404 for unknown buckets, 403 for denied ones, 412 when ifGenerationMatch=0 meets an object.
// - Cloud Functions API v2: GET projects/<p>/locations/<l>/functions/<name> (serviceConfig.uri for 2nd gen,
//   url for 1st gen), v1 with httpsTrigger.url.
// - The functions themselves: they check the ID token (signature, issuer, audience = the URL called, expiry,
//   invoker) like Cloud Run does, record each call, and answer as scripted.
// Any API can be told to fail, stall or (storage) corrupt what it stores, for the next matching requests.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export type GcpApi = "token" | "storage" | "functions" | "function";

export interface GcpRequest {
  readonly api: GcpApi;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Size of the request body. */
  bytes: number;
  /** The body as text when it is small (≤ 64 KiB) and not object data. */
  body: string;
  status: number;
}

export interface ScriptedAnswer {
  readonly status?: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Answer this late. */
  readonly delayMs?: number;
  /** Never answer (the connection stays open until the server closes). */
  readonly stall?: boolean;
  /** Which requests this answer is for (default: the next request of the API). */
  readonly match?: (req: { method: string; path: string; query: URLSearchParams }) => boolean;
}

export interface StoredGcsObject {
  readonly bucket: string;
  readonly name: string;
  readonly data: Buffer;
  readonly contentType: string;
  readonly generation: string;
  /** How it was uploaded: media, multipart or resumable. */
  readonly uploadType: string;
}

export interface UploadSession {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string;
  /** Bytes received so far (updated as they arrive). */
  received: number;
  chunks: Buffer[];
  state: "open" | "done" | "cancelled";
  /** The Content-Range header of each PUT. */
  readonly ranges: string[];
}

export interface FunctionCall {
  readonly function: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The ID token's claims when it was valid. */
  readonly claims: Record<string, unknown> | undefined;
  status: number;
}

export interface TokenGrant {
  readonly kind: "access" | "id" | "refused";
  readonly claims: Record<string, unknown>;
  readonly reason?: string;
}

export interface FakeFunction {
  readonly project: string;
  readonly location: string;
  readonly name: string;
  readonly generation: 1 | 2;
  /** The URL the API gives (and the ID token audience the function expects). */
  readonly url: string;
  /** Emails allowed to call it (default: any service account with a valid token). */
  invokers?: string[];
  /** Refuse GetFunction with 403. */
  denyGet?: boolean;
  /** Its answer (default 200 {"received":true}). */
  respond?: (call: FunctionCall) => ScriptedAnswer;
}

export interface FakeGcp {
  readonly projectId: string;
  readonly tokenUri: string;
  /** Cloud Storage `apiEndpoint`. */
  readonly storageUrl: string;
  /** Cloud Functions API base URL. */
  readonly functionsApiUrl: string;
  readonly requests: GcpRequest[];
  readonly tokenGrants: TokenGrant[];
  readonly functionCalls: FunctionCall[];
  readonly sessions: Map<string, UploadSession>;
  /** Bytes of object data received by the storage server, all uploads together, updated as they arrive. */
  readonly storageBytesReceived: () => number;
  /** A service-account JSON key for a new account whose token_uri is this token endpoint. */
  serviceAccountKey(options?: { email?: string; projectId?: string | null }): Record<string, unknown>;
  /** The same account with another private key: the token endpoint refuses its signatures. */
  forgedKey(key: Record<string, unknown>): Record<string, unknown>;
  writeKeyFile(dir: string, key?: Record<string, unknown>): Promise<string>;
  addBucket(name: string, options?: { denied?: boolean }): void;
  object(bucket: string, name: string): StoredGcsObject | undefined;
  /** Stores an object directly (as if someone else had uploaded it). */
  putObject(bucket: string, name: string, data: string | Buffer): void;
  objects(bucket: string): StoredGcsObject[];
  addFunction(location: string, name: string, options?: { generation?: 1 | 2; project?: string }): FakeFunction;
  /** Answers for the next requests of `api` (those matching `match`, when given), in order. */
  script(api: GcpApi, ...answers: ScriptedAnswer[]): void;
  /** The next stored object gets one byte flipped (its checksums then disagree with what the client sent). */
  corruptNextObject(): void;
  close(): Promise<void>;
}

const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const JSON_HEADERS = { "content-type": "application/json; charset=UTF-8" };
const SMALL_BODY = 64 * 1024;

// ---- JWT and checksums ---------------------------------------------------------------------------------

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

function signJwt(claims: Record<string, unknown>, key: KeyObject, kid: string): string {
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${b64url(sign("RSA-SHA256", Buffer.from(`${head}.${body}`), key))}`;
}

/** The claims of an RS256 JWT whose signature `publicKey` verifies; undefined otherwise. */
function verifiedClaims(
  jwt: string,
  publicKey: (claims: Record<string, unknown>) => KeyObject | undefined,
): Record<string, unknown> | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return undefined;
  let header: { alg?: unknown };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8")) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const key = publicKey(claims);
  if (header.alg !== "RS256" || key === undefined) return undefined;
  return verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2]!, "base64url")) ? claims : undefined;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), base64 of its big-endian bytes, as the JSON API's `crc32c` field. */
export function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

// ---- HTTP plumbing --------------------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, record: GcpRequest) => Promise<void> | void;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function readBody(req: IncomingMessage, onData?: (chunk: Buffer) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
    onData?.(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(
  res: ServerResponse,
  record: GcpRequest,
  status: number,
  body: string | Buffer = "",
  headers: Record<string, string> = {},
): void {
  record.status = status;
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers);
  res.end(body);
}

function apiError(code: number, message: string, reason: string, status?: string): string {
  return JSON.stringify({ error: { code, message, errors: [{ message, domain: "global", reason }], ...(status ? { status } : {}) } });
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer (.+)$/i.exec(headers.authorization ?? "");
  return m === null ? undefined : m[1];
}

// ---- the fake -------------------------------------------------------------------------------------------

export async function startFakeGcp(options: { projectId?: string } = {}): Promise<FakeGcp> {
  const projectId = options.projectId ?? "kestrel-test";
  const requests: GcpRequest[] = [];
  const tokenGrants: TokenGrant[] = [];
  const functionCalls: FunctionCall[] = [];
  const sessions = new Map<string, UploadSession>();
  const accounts = new Map<string, KeyObject>(); // email → public key
  const accessTokens = new Map<string, { email: string; scope: string; expires: number }>();
  const buckets = new Map<string, { denied: boolean; objects: Map<string, StoredGcsObject> }>();
  const functions = new Map<string, FakeFunction>(); // "p/l/name" → function
  const functionsByPath = new Map<string, FakeFunction>();
  const scripts: Record<GcpApi, ScriptedAnswer[]> = { token: [], storage: [], functions: [], function: [] };
  const idTokenKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const idTokenKid = randomBytes(8).toString("hex");
  let storageBytes = 0;
  let generation = Date.now() * 1000;
  let corruptNext = false;

  /** A scripted answer for this request, if one is waiting; it has been sent (or stalled) when true. */
  async function scripted(api: GcpApi, req: IncomingMessage, res: ServerResponse, url: URL, record: GcpRequest): Promise<boolean> {
    const list = scripts[api];
    const i = list.findIndex(
      (a) => a.match === undefined || a.match({ method: req.method ?? "", path: url.pathname, query: url.searchParams }),
    );
    if (i < 0) return false;
    const [answer] = list.splice(i, 1);
    if (answer!.stall) {
      record.status = 0;
      return true;
    }
    if (answer!.delayMs !== undefined) await new Promise((r) => setTimeout(r, answer!.delayMs));
    send(res, record, answer!.status ?? 500, answer!.body ?? apiError(answer!.status ?? 500, "scripted failure", "backendError"), {
      ...JSON_HEADERS,
      ...answer!.headers,
    });
    return true;
  }

  function serve(api: GcpApi, handler: Handler): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const record: GcpRequest = {
        api,
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        bytes: 0,
        body: "",
        status: 0,
      };
      requests.push(record);
      (async () => {
        if (await scripted(api, req, res, url, record)) {
          req.resume();
          return;
        }
        await handler(req, res, url, record);
      })().catch((err: unknown) => send(res, record, 500, apiError(500, String(err), "backendError")));
    };
  }

  /** The account of a valid access token in the request, or a 401 sent. */
  function authorised(req: IncomingMessage, res: ServerResponse, record: GcpRequest): string | undefined {
    const token = bearer(req.headers);
    const grant = token === undefined ? undefined : accessTokens.get(token);
    if (
      grant === undefined ||
      grant.expires < Date.now() ||
      !grant.scope.split(" ").includes("https://www.googleapis.com/auth/cloud-platform")
    ) {
      send(
        res,
        record,
        401,
        apiError(401, "Request is missing required authentication credential.", "required", "UNAUTHENTICATED"),
        JSON_HEADERS,
      );
      return undefined;
    }
    return grant.email;
  }

  // ---- OAuth2 token endpoint ----

  const oauth = await listen(
    serve("token", async (req, res, url, record) => {
      const body = (await readBody(req)).toString("utf8");
      Object.assign(record, { bytes: Buffer.byteLength(body), body });
      if (req.method !== "POST" || url.pathname !== "/token") return send(res, record, 404, "{}", JSON_HEADERS);
      const form = new URLSearchParams(body);
      const refuse = (reason: string, claims: Record<string, unknown> = {}): void => {
        tokenGrants.push({ kind: "refused", claims, reason });
        send(res, record, 400, JSON.stringify({ error: "invalid_grant", error_description: reason }), JSON_HEADERS);
      };
      if (form.get("grant_type") !== JWT_BEARER) return refuse("Invalid grant_type.");
      const claims = verifiedClaims(form.get("assertion") ?? "", (c) => accounts.get(String(c["iss"])));
      if (claims === undefined) return refuse("Invalid JWT Signature.");
      const now = Math.floor(Date.now() / 1000);
      if (claims["aud"] !== GOOGLE_TOKEN_URL && claims["aud"] !== `${oauth.url}/token`) return refuse("Invalid JWT: audience.", claims);
      if (
        typeof claims["exp"] !== "number" ||
        typeof claims["iat"] !== "number" ||
        claims["exp"] < now ||
        claims["exp"] - claims["iat"] > 3600
      ) {
        return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.", claims);
      }
      const email = String(claims["iss"]);
      if (typeof claims["target_audience"] === "string") {
        tokenGrants.push({ kind: "id", claims });
        const idToken = signJwt(
          {
            iss: "https://accounts.google.com",
            aud: claims["target_audience"],
            azp: email,
            email,
            email_verified: true,
            sub: email,
            iat: now,
            exp: now + 3600,
          },
          idTokenKey.privateKey,
          idTokenKid,
        );
        return send(res, record, 200, JSON.stringify({ id_token: idToken }), JSON_HEADERS);
      }
      if (typeof claims["scope"] !== "string" || claims["scope"] === "")
        return refuse("Invalid OAuth scope or ID token audience provided.", claims);
      tokenGrants.push({ kind: "access", claims });
      const token = `ya29.${randomBytes(24).toString("base64url")}`;
      accessTokens.set(token, { email, scope: claims["scope"], expires: Date.now() + 3600_000 });
      send(res, record, 200, JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }), JSON_HEADERS);
    }),
  );

  // ---- Cloud Storage JSON API ----

  function objectResource(o: StoredGcsObject): Record<string, unknown> {
    const time = new Date(Number(BigInt(o.generation) / 1000n)).toISOString();
    const path = `b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}`;
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${storage.url}/storage/v1/${path}`,
      mediaLink: `${storage.url}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: "1",
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.data.length),
      md5Hash: createHash("md5").update(o.data).digest("base64"),
      crc32c: crc32cBase64(o.data),
      etag: createHash("sha1").update(o.generation).digest("base64").slice(0, 12),
      timeCreated: time,
      updated: time,
      timeStorageClassUpdated: time,
    };
  }

  function store(bucket: string, name: string, data: Buffer, contentType: string, uploadType: string): StoredGcsObject {
    if (corruptNext && data.length > 0) {
      corruptNext = false;
      data = Buffer.from(data);
      data[0] = data[0]! ^ 0xff;
    }
    const o: StoredGcsObject = {
      bucket,
      name,
      data,
      contentType: contentType || "application/octet-stream",
      generation: String(++generation),
      uploadType,
    };
    buckets.get(bucket)!.objects.set(name, o);
    return o;
  }

  /** Checks for a new object: bucket exists, the account may create, the precondition holds. */
  function canCreate(
    bucket: string,
    name: string,
    ifGenerationMatch: string | null,
    email: string,
    res: ServerResponse,
    record: GcpRequest,
  ): boolean {
    const b = buckets.get(bucket);
    if (b === undefined) {
      send(res, record, 404, apiError(404, "The specified bucket does not exist.", "notFound"), JSON_HEADERS);
      return false;
    }
    if (b.denied) {
      const message = `${email} does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).`;
      send(res, record, 403, apiError(403, message, "forbidden"), JSON_HEADERS);
      return false;
    }
    if (name === "") {
      send(res, record, 400, apiError(400, "Required", "required"), JSON_HEADERS);
      return false;
    }
    if (ifGenerationMatch === "0" && b.objects.has(name)) {
      send(
        res,
        record,
        412,
        apiError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet"),
        JSON_HEADERS,
      );
      return false;
    }
    return true;
  }

  async function resumablePut(req: IncomingMessage, res: ServerResponse, session: UploadSession, record: GcpRequest): Promise<void> {
    const range = req.headers["content-range"] ?? "";
    session.ranges.push(range);
    const body = await readBody(req, (chunk) => {
      session.received += chunk.length;
      storageBytes += chunk.length;
    });
    record.bytes = body.length;
    const rangeHeader = (): Record<string, string> => (session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : {});
    if (session.state !== "open") return send(res, record, 410, apiError(410, "The upload session is gone.", "gone"), JSON_HEADERS);
    const query = /^bytes \*\/(\d+|\*)$/.exec(range);
    const chunk = /^bytes (\d+)-(-?\d+)\/(\d+|\*)$/.exec(range);
    if (query !== null) {
      if (body.length > 0) return send(res, record, 400, apiError(400, "A status query has no body.", "invalid"), JSON_HEADERS);
      if (query[1] !== "*" && Number(query[1]) === session.received) return finish();
      return send(res, record, 308, "", rangeHeader());
    }
    if (chunk === null) return send(res, record, 400, apiError(400, `Invalid Content-Range: ${range}`, "invalid"), JSON_HEADERS);
    const [first, last] = [Number(chunk[1]), Number(chunk[2])];
    const before = session.received - body.length;
    if (first !== before || last - first + 1 !== body.length) {
      session.received = before;
      storageBytes -= body.length;
      return send(
        res,
        record,
        400,
        apiError(400, `Content-Range ${range} does not follow the ${before} bytes received`, "invalid"),
        JSON_HEADERS,
      );
    }
    session.chunks.push(body);
    if (chunk[3] !== "*" && Number(chunk[3]) === session.received) return finish();
    return send(res, record, 308, "", rangeHeader());

    function finish(): void {
      const b = buckets.get(session.bucket)!;
      if (b.objects.has(session.name)) {
        session.state = "cancelled";
        send(
          res,
          record,
          412,
          apiError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet"),
          JSON_HEADERS,
        );
        return;
      }
      session.state = "done";
      const o = store(session.bucket, session.name, Buffer.concat(session.chunks), session.contentType, "resumable");
      session.chunks = [];
      send(res, record, 200, JSON.stringify(objectResource(o)), JSON_HEADERS);
    }
  }

  const storage = await listen(
    serve("storage", async (req, res, url, record) => {
      const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
      const sessionId = url.searchParams.get("upload_id");
      if (upload !== null && sessionId !== null) {
        const session = sessions.get(sessionId);
        if (session === undefined) return send(res, record, 404, apiError(404, "No such upload session.", "notFound"), JSON_HEADERS);
        // The session URI is the credential; a token, when sent anyway, must still be valid.
        if (req.headers.authorization !== undefined && authorised(req, res, record) === undefined) return;
        if (req.method === "DELETE") {
          session.state = "cancelled";
          return send(res, record, 499, "");
        }
        if (req.method === "PUT") return resumablePut(req, res, session, record);
        return send(res, record, 405, apiError(405, "Method not allowed", "invalid"), JSON_HEADERS);
      }
      const email = authorised(req, res, record);
      if (email === undefined) return void req.resume();
      if (upload !== null && req.method === "POST") {
        const bucket = decodeURIComponent(upload[1]!);
        const type = url.searchParams.get("uploadType");
        const pre = url.searchParams.get("ifGenerationMatch");
        if (type === "resumable") {
          const body = await readBody(req);
          Object.assign(record, { bytes: body.length, body: body.toString("utf8") });
          const metadata = body.length > 0 ? (JSON.parse(body.toString("utf8")) as { name?: string; contentType?: string }) : {};
          const name = url.searchParams.get("name") ?? metadata.name ?? "";
          if (!canCreate(bucket, name, pre, email, res, record)) return;
          const id = randomBytes(16).toString("hex");
          const contentType = String(req.headers["x-upload-content-type"] ?? metadata.contentType ?? "");
          sessions.set(id, { id, bucket, name, contentType, received: 0, chunks: [], state: "open", ranges: [] });
          const location = `${storage.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
          return send(res, record, 200, "", { location, "content-length": "0" });
        }
        const body = await readBody(req, (c) => {
          storageBytes += c.length;
        });
        record.bytes = body.length;
        if (type === "media") {
          const name = url.searchParams.get("name") ?? "";
          if (!canCreate(bucket, name, pre, email, res, record)) return;
          const o = store(bucket, name, body, String(req.headers["content-type"] ?? ""), "media");
          return send(res, record, 200, JSON.stringify(objectResource(o)), JSON_HEADERS);
        }
        if (type === "multipart") {
          const parts = multipartParts(String(req.headers["content-type"] ?? ""), body);
          if (parts === undefined || parts.length !== 2)
            return send(res, record, 400, apiError(400, "Bad multipart body", "invalid"), JSON_HEADERS);
          const metadata = JSON.parse(parts[0]!.body.toString("utf8")) as { name?: string; contentType?: string };
          record.body = parts[0]!.body.toString("utf8");
          const name = url.searchParams.get("name") ?? metadata.name ?? "";
          if (!canCreate(bucket, name, pre, email, res, record)) return;
          const o = store(bucket, name, parts[1]!.body, metadata.contentType ?? parts[1]!.contentType, "multipart");
          return send(res, record, 200, JSON.stringify(objectResource(o)), JSON_HEADERS);
        }
        return send(res, record, 400, apiError(400, `Invalid upload type ${type}`, "invalid"), JSON_HEADERS);
      }
      req.resume();
      if (object !== null) {
        const bucket = decodeURIComponent(object[1]!);
        const o = buckets.get(bucket)?.objects.get(decodeURIComponent(object[2]!));
        if (o === undefined) return send(res, record, 404, apiError(404, "No such object.", "notFound"), JSON_HEADERS);
        if (req.method === "DELETE") {
          buckets.get(bucket)!.objects.delete(o.name);
          return send(res, record, 204, "");
        }
        if (req.method === "GET" && url.searchParams.get("alt") === "media")
          return send(res, record, 200, o.data, { "content-type": o.contentType });
        if (req.method === "GET") return send(res, record, 200, JSON.stringify(objectResource(o)), JSON_HEADERS);
      }
      send(res, record, 404, apiError(404, "Not Found", "notFound"), JSON_HEADERS);
    }),
  );

  // ---- Cloud Functions API and the functions themselves ----

  const host = await listen(
    serve("function", async (req, res, url, record) => {
      const body = (await readBody(req)).toString("utf8");
      Object.assign(record, { bytes: Buffer.byteLength(body), body: body.length <= SMALL_BODY ? body : "" });
      const fn = functionsByPath.get(url.pathname);
      const callUrl = `${host.url}${url.pathname}`;
      const claims = verifiedClaims(bearer(req.headers) ?? "", () => idTokenKey.publicKey);
      const valid =
        claims !== undefined &&
        claims["aud"] === callUrl &&
        claims["iss"] === "https://accounts.google.com" &&
        Number(claims["exp"]) * 1000 > Date.now();
      const call: FunctionCall = {
        function: fn?.name ?? "",
        method: req.method ?? "",
        url: callUrl,
        headers: req.headers,
        body,
        claims: valid ? claims : undefined,
        status: 0,
      };
      functionCalls.push(call);
      const answer = (status: number, text: string, headers: Record<string, string> = { "content-type": "text/plain" }): void => {
        call.status = status;
        send(res, record, status, text, headers);
      };
      if (fn === undefined) return answer(404, "Page not found");
      if (!valid) return answer(401, "Your client does not have permission to the requested URL.");
      if (fn.invokers !== undefined && !fn.invokers.includes(String(claims["email"]))) {
        return answer(403, "Your client does not have permission to get URL from this server.");
      }
      const scriptedAnswer: ScriptedAnswer = fn.respond?.(call) ?? {
        status: 200,
        body: JSON.stringify({ received: true }),
        headers: JSON_HEADERS,
      };
      if (scriptedAnswer.stall) return;
      if (scriptedAnswer.delayMs !== undefined) await new Promise((r) => setTimeout(r, scriptedAnswer.delayMs));
      answer(scriptedAnswer.status ?? 200, scriptedAnswer.body ?? "", scriptedAnswer.headers ?? JSON_HEADERS);
    }),
  );

  const functionsApi = await listen(
    serve("functions", (req, res, url, record) => {
      req.resume();
      if (authorised(req, res, record) === undefined) return;
      const m = /^\/(v1|v2)\/projects\/([^/]+)\/locations\/([^/]+)\/functions\/([^/]+)$/.exec(url.pathname);
      if (req.method !== "GET" || m === null)
        return send(res, record, 404, apiError(404, "Not Found", "notFound", "NOT_FOUND"), JSON_HEADERS);
      const [, version, p, l, n] = m.map((s) => decodeURIComponent(s)) as [string, string, string, string, string];
      const id = `projects/${p}/locations/${l}/functions/${n}`;
      const fn = functions.get(`${p}/${l}/${n}`);
      if (fn?.denyGet) {
        return send(
          res,
          record,
          403,
          apiError(403, `Permission 'cloudfunctions.functions.get' denied on '${id}'`, "forbidden", "PERMISSION_DENIED"),
          JSON_HEADERS,
        );
      }
      if (fn === undefined)
        return send(res, record, 404, apiError(404, `Resource '${id}' was not found`, "notFound", "NOT_FOUND"), JSON_HEADERS);
      const resource =
        version === "v1"
          ? { name: id, httpsTrigger: { url: fn.url }, status: "ACTIVE", entryPoint: n, runtime: "nodejs20" }
          : fn.generation === 2
            ? {
                name: id,
                environment: "GEN_2",
                state: "ACTIVE",
                url: fn.url,
                serviceConfig: { service: `projects/${p}/locations/${l}/services/${n}`, uri: fn.url },
              }
            : { name: id, environment: "GEN_1", state: "ACTIVE", url: fn.url, serviceConfig: {} };
      send(res, record, 200, JSON.stringify(resource), JSON_HEADERS);
    }),
  );

  const servers = [oauth.server, storage.server, host.server, functionsApi.server];

  function serviceAccountKey(opts: { email?: string; projectId?: string | null } = {}): Record<string, unknown> {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const email = opts.email ?? `kestrel-${randomBytes(3).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
    accounts.set(email, publicKey);
    return {
      type: "service_account",
      ...(opts.projectId === null ? {} : { project_id: opts.projectId ?? projectId }),
      private_key_id: randomBytes(20).toString("hex"),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: email,
      client_id: String(BigInt(`0x${randomBytes(8).toString("hex")}`)),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: `${oauth.url}/token`,
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      universe_domain: "googleapis.com",
    };
  }

  return {
    projectId,
    tokenUri: `${oauth.url}/token`,
    storageUrl: storage.url,
    functionsApiUrl: functionsApi.url,
    requests,
    tokenGrants,
    functionCalls,
    sessions,
    storageBytesReceived: () => storageBytes,
    serviceAccountKey,
    forgedKey(key) {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      return { ...key, private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    },
    async writeKeyFile(dir, key = serviceAccountKey()) {
      const path = join(dir, `key-${randomBytes(4).toString("hex")}.json`);
      await writeFile(path, JSON.stringify(key, null, 2), { mode: 0o600 });
      return path;
    },
    addBucket(name, opts = {}) {
      buckets.set(name, { denied: opts.denied ?? false, objects: new Map() });
    },
    object: (bucket, name) => buckets.get(bucket)?.objects.get(name),
    putObject(bucket, name, data) {
      buckets.get(bucket)!.objects.set(name, {
        bucket,
        name,
        data: Buffer.from(data),
        contentType: "application/octet-stream",
        generation: String(++generation),
        uploadType: "media",
      });
    },
    objects: (bucket) => [...(buckets.get(bucket)?.objects.values() ?? [])],
    addFunction(location, name, opts = {}) {
      const project = opts.project ?? projectId;
      const generation = opts.generation ?? 2;
      const path = generation === 2 ? `/run/${name}-${randomBytes(3).toString("hex")}` : `/${location}-${project}/${name}`;
      const fn: FakeFunction = { project, location, name, generation, url: `${host.url}${path}` };
      functions.set(`${project}/${location}/${name}`, fn);
      functionsByPath.set(path, fn);
      return fn;
    },
    script(api, ...answers) {
      scripts[api].push(...answers);
    },
    corruptNextObject() {
      corruptNext = true;
    },
    async close() {
      await Promise.all(
        servers.map((s) => {
          s.closeAllConnections();
          return new Promise<void>((resolve) => s.close(() => resolve()));
        }),
      );
    },
  };
}

/** The parts of a multipart/related body: their Content-Type and bytes. */
function multipartParts(contentType: string, body: Buffer): { contentType: string; body: Buffer }[] | undefined {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (m === null || !/^multipart\/related/i.test(contentType)) return undefined;
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: { contentType: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return undefined;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd < 0) return undefined;
    const headers = part.subarray(0, headerEnd).toString("utf8");
    let content = part.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === "\r\n") content = content.subarray(0, -2);
    parts.push({ contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? "", body: content });
    at = next;
  }
  return parts;
}
