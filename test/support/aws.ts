// AWS test servers on 127.0.0.1, for the real SDK clients pointed at them through their endpoint settings:
// - S3: s3rver (npm) in-process, behind a layer that checks each request's SigV4 signature as S3 does
//   (s3rver does not), implements AbortMultipartUpload (s3rver answers it 405) and conditional writes
//   (`If-None-Match: *` on PutObject and CompleteMultipartUpload, which s3rver ignores);
// - Lambda Invoke, STS AssumeRole + GetCallerIdentity and the EC2 instance metadata service (IMDSv2): no
//   server of these can run here, so each one implements the documented request and response of its API
//   (paths, headers, status codes, error bodies and headers).
// One TestAccount holds the access keys, roles and role sessions every server checks signatures against.
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { KestrelError } from "../../src/errors.ts";
import { type Answer, type ApiReceiver, startRecordingServer } from "./receiver.ts";

const require = createRequire(import.meta.url);

// ---- the account and SigV4 ------------------------------------------------------------------------------

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Role sessions only. */
  readonly sessionToken?: string;
  /** The principal: arn:aws:iam::…:user/x or arn:aws:sts::…:assumed-role/role/session. */
  readonly arn: string;
  /** Role sessions only: when STS said they expire (ms). */
  readonly expiresAt?: number;
}

export type Verified =
  | { readonly ok: true; readonly key: AccessKey; readonly region: string; readonly service: string }
  | {
      readonly ok: false;
      readonly problem: "missing" | "unknown-key" | "bad-signature" | "bad-token" | "expired";
      readonly message: string;
    };

function alnum(n: number): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join("");
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
  return query
    .split("&")
    .filter((p) => p !== "")
    .map((pair) => {
      const i = pair.indexOf("=");
      const k = decodeURIComponent(i === -1 ? pair : pair.slice(0, i));
      const v = i === -1 ? "" : decodeURIComponent(pair.slice(i + 1));
      return [rfc3986(k), rfc3986(v)] as const;
    })
    .sort(([ka, va], [kb, vb]) => (ka === kb ? (va < vb ? -1 : va > vb ? 1 : 0) : ka < kb ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** SigV4's canonical path: S3 signs the path as sent; other services sign it normalised and encoded again. */
function canonicalPath(path: string, service: string): string {
  if (service === "s3") return path;
  const segments: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") segments.pop();
    else segments.push(s);
  }
  const normalised = `/${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return rfc3986(normalised).replace(/%2F/g, "/");
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** The AWS account of the tests: its users' keys, its roles and the sessions STS issued. */
export class TestAccount {
  readonly id = "123456789012";
  readonly #keys = new Map<string, AccessKey>();
  readonly #roles = new Map<string, { externalId: string | undefined }>();
  readonly #listeners: ((key: AccessKey) => void)[] = [];

  addUser(name = "kestrel"): AccessKey {
    return this.#add({
      accessKeyId: `AKIA${alnum(16)}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      arn: `arn:aws:iam::${this.id}:user/${name}`,
    });
  }

  /** A role this account's users may assume (with this external id, when given); returns its ARN. */
  addRole(name: string, externalId?: string): string {
    const arn = `arn:aws:iam::${this.id}:role/${name}`;
    this.#roles.set(arn, { externalId });
    return arn;
  }

  role(arn: string): { externalId: string | undefined } | undefined {
    return this.#roles.get(arn);
  }

  issueSession(roleArn: string, sessionName: string, lifetimeSeconds: number): AccessKey {
    const role = roleArn.slice(roleArn.indexOf(":role/") + 6);
    return this.#add({
      accessKeyId: `ASIA${alnum(16)}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(48).toString("base64"),
      arn: `arn:aws:sts::${this.id}:assumed-role/${role}/${sessionName}`,
      expiresAt: Date.now() + lifetimeSeconds * 1000,
    });
  }

  key(accessKeyId: string): AccessKey | undefined {
    return this.#keys.get(accessKeyId);
  }

  /** Called for every key, present and future (s3rver must know them). */
  onKey(listener: (key: AccessKey) => void): void {
    this.#listeners.push(listener);
    for (const k of this.#keys.values()) listener(k);
  }

  /**
   * Checks a request's SigV4 Authorization header. `body` (when the server has it whole) must match the
   * signed payload hash; S3 streams are checked against the x-amz-content-sha256 header only, as S3 does.
   */
  verify(req: { method: string; url: string; headers: IncomingHttpHeaders }, body: Buffer | string | undefined): Verified {
    const auth = req.headers["authorization"];
    if (typeof auth !== "string") return { ok: false, problem: "missing", message: "no Authorization header" };
    const m = AUTHORIZATION.exec(auth);
    if (m === null) return { ok: false, problem: "bad-signature", message: `malformed Authorization header: ${auth.slice(0, 80)}` };
    const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const key = this.#keys.get(accessKeyId);
    if (key === undefined) return { ok: false, problem: "unknown-key", message: `unknown access key ${accessKeyId}` };
    if (key.sessionToken !== undefined) {
      if (req.headers["x-amz-security-token"] !== key.sessionToken)
        return { ok: false, problem: "bad-token", message: "missing or wrong session token" };
      if (key.expiresAt !== undefined && Date.now() > key.expiresAt)
        return { ok: false, problem: "expired", message: "the session has expired" };
    }
    const amzDate = String(req.headers["x-amz-date"] ?? "");
    if (!amzDate.startsWith(date))
      return { ok: false, problem: "bad-signature", message: "x-amz-date does not match the credential scope" };
    const names = signedHeaders.split(";");
    if (!names.includes("host")) return { ok: false, problem: "bad-signature", message: "host is not signed" };
    const headerLines = names.map((n) => {
      const v = req.headers[n];
      return `${n}:${(Array.isArray(v) ? v.join(",") : (v ?? "")).trim().replace(/\s+/g, " ")}\n`;
    });
    const declared = req.headers["x-amz-content-sha256"];
    let payloadHash = typeof declared === "string" ? declared : undefined;
    if (body !== undefined) {
      const actual = sha256(body);
      if (
        payloadHash !== undefined &&
        payloadHash !== actual &&
        !payloadHash.startsWith("STREAMING-") &&
        payloadHash !== "UNSIGNED-PAYLOAD"
      ) {
        return { ok: false, problem: "bad-signature", message: "the body does not match x-amz-content-sha256" };
      }
      payloadHash ??= actual;
    }
    if (payloadHash === undefined) return { ok: false, problem: "bad-signature", message: "no payload hash" };
    const q = req.url.indexOf("?");
    const path = q === -1 ? req.url : req.url.slice(0, q);
    const query = q === -1 ? "" : req.url.slice(q + 1);
    const canonical = [
      req.method,
      canonicalPath(path, service),
      canonicalQuery(query),
      headerLines.join(""),
      signedHeaders,
      payloadHash,
    ].join("\n");
    const scope = `${date}/${region}/${service}/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secretAccessKey}`, date), region), service), "aws4_request");
    const expected = createHmac("sha256", signingKey).update(toSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
      return { ok: false, problem: "bad-signature", message: "the signature does not match" };
    }
    return { ok: true, key, region, service };
  }

  #add(key: AccessKey): AccessKey {
    this.#keys.set(key.accessKeyId, key);
    for (const l of this.#listeners) l(key);
    return key;
  }
}

/** The access key id of a signed request, or "" (for assertions on who signed what). */
export function signer(headers: IncomingHttpHeaders): string {
  const m = /Credential=([^/]+)\//.exec(String(headers["authorization"] ?? ""));
  return m === null ? "" : m[1]!;
}

/** The credential scope of a signed request: { date, region, service }. */
export function credentialScope(headers: IncomingHttpHeaders): { region: string; service: string } | undefined {
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(headers["authorization"] ?? ""));
  return m === null ? undefined : { region: m[1]!, service: m[2]! };
}

// ---- S3: s3rver behind a SigV4 layer ---------------------------------------------------------------------

export interface S3Request {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Who signed it ("" when refused before that was known). */
  readonly accessKeyId: string;
  /** The status the layer answered itself (403, 204 for AbortMultipartUpload), else undefined (s3rver did). */
  readonly refused?: number;
}

export interface S3Object {
  readonly body: Buffer;
  readonly contentType: string | undefined;
}

export interface S3Server {
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: S3Request[];
  /** s3rver's object-created notifications: ObjectCreated:Put for PutObject, :Post for a completed multipart upload. */
  readonly events: { readonly name: string; readonly key: string; readonly size: number }[];
  createBucket(name: string): Promise<void>;
  keys(bucket: string): Promise<string[]>;
  object(bucket: string, key: string): Promise<S3Object | undefined>;
  /** SHA-256 and size of an object, read as a stream. */
  digest(bucket: string, key: string): Promise<{ sha256: string; size: number } | undefined>;
  /** Multipart uploads begun and neither completed nor aborted. */
  pendingUploads(bucket: string): Promise<number>;
  /** Requests that `match` are answered 403 AccessDenied, as a bucket policy denying them would. */
  deny(match: (req: S3Request) => boolean): void;
  /** Requests that `match` are never answered (a hung connection). */
  stall(match: (req: S3Request) => boolean): void;
  close(): Promise<void>;
}

function s3Error(res: ServerResponse, status: number, code: string, message: string, extra = ""): void {
  const requestId = alnum(16);
  res.writeHead(status, { "content-type": "application/xml", "x-amz-request-id": requestId });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>${requestId}</RequestId><HostId>${alnum(24)}</HostId></Error>`,
  );
}

interface S3rverInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  configureBuckets(): Promise<void>;
  on(event: "event", listener: (e: { Records: { eventName: string; s3: { object: { key: string; size: number } } }[] }) => void): void;
  store: {
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    putBucket(name: string): Promise<void>;
    listObjects(bucket: string, options: { prefix?: string; maxKeys?: number }): Promise<{ objects: { key: string }[] }>;
    getObject(bucket: string, key: string): Promise<{ content: Readable | null; metadata: Record<string, string> } | null>;
  };
  logger: { exceptions: { unhandle(): void }; close(): void };
}

/** s3rver in this process, behind the SigV4 layer; every key of `account` is known to it. */
export async function startS3(account: TestAccount): Promise<S3Server> {
  const S3rver = require("s3rver") as new (options: object) => S3rverInstance;
  const { DUMMY_ACCOUNT } = require("s3rver/lib/models/account.js") as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
  };
  account.onKey((k) => DUMMY_ACCOUNT.createKeyPair(k.accessKeyId, k.secretAccessKey));
  const directory = await mkdtemp(join(tmpdir(), "kestrel-s3-"));
  const s3rver = new S3rver({ directory, silent: true, vhostBuckets: false });
  const handle = s3rver.callback();
  const requests: S3Request[] = [];
  const events: { name: string; key: string; size: number }[] = [];
  s3rver.on("event", (e) => {
    for (const r of e.Records) events.push({ name: r.eventName, key: decodeURIComponent(r.s3.object.key), size: r.s3.object.size });
  });
  const denied: ((req: S3Request) => boolean)[] = [];
  const stalled: ((req: S3Request) => boolean)[] = [];
  const uploadsDir = (bucket: string): string => s3rver.store.getResourcePath(bucket, undefined, "uploads");

  const server = createServer((req, res) => {
    const method = req.method ?? "";
    const url = req.url ?? "";
    const verified = account.verify({ method, url, headers: req.headers }, undefined);
    const entry: { -readonly [K in keyof S3Request]: S3Request[K] } = {
      method,
      url,
      headers: req.headers,
      accessKeyId: verified.ok ? verified.key.accessKeyId : signer(req.headers),
    };
    requests.push(entry);
    const refuse = (status: number, code: string, message: string, extra = ""): void => {
      entry.refused = status;
      req.resume();
      s3Error(res, status, code, message, extra);
    };
    if (!verified.ok) {
      if (verified.problem === "unknown-key") {
        refuse(
          403,
          "InvalidAccessKeyId",
          "The AWS Access Key Id you provided does not exist in our records.",
          `<AWSAccessKeyId>${entry.accessKeyId}</AWSAccessKeyId>`,
        );
      } else if (verified.problem === "missing") refuse(403, "AccessDenied", "Access Denied");
      else if (verified.problem === "expired") refuse(400, "ExpiredToken", "The provided token has expired.");
      else if (verified.problem === "bad-token") refuse(403, "InvalidToken", "The provided token is malformed or otherwise invalid.");
      else
        refuse(
          403,
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
      return;
    }
    if (stalled.some((m) => m(entry))) {
      req.resume();
      return;
    }
    if (denied.some((m) => m(entry))) {
      refuse(403, "AccessDenied", "Access Denied");
      return;
    }
    const u = new URL(url, "http://s3");
    const uploadId = u.searchParams.get("uploadId");
    if (method === "DELETE" && uploadId !== null) {
      // AbortMultipartUpload: 204, or 404 NoSuchUpload when there is no such upload.
      const bucket = decodeURIComponent(u.pathname.split("/")[1] ?? "");
      const dir = join(uploadsDir(bucket), uploadId);
      entry.refused = 204;
      req.resume();
      void readdir(dir).then(
        () => rm(dir, { recursive: true, force: true }).then(() => res.writeHead(204).end()),
        () => {
          entry.refused = 404;
          s3Error(
            res,
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
          );
        },
      );
      return;
    }
    const conditional = req.headers["if-none-match"];
    const writes =
      (method === "PUT" && uploadId === null && u.searchParams.get("partNumber") === null) || (method === "POST" && uploadId !== null);
    if (conditional !== undefined && writes) {
      // S3's conditional writes: `*` is the only value accepted; 412 PreconditionFailed when the key
      // exists, 409 ConditionalRequestConflict while another conditional write of the key is in progress
      // (so of two concurrent writers exactly one wins, as on S3).
      if (conditional !== "*") {
        refuse(
          501,
          "NotImplemented",
          "A header you provided implies functionality that is not implemented",
          "<Header>If-None-Match</Header>",
        );
        return;
      }
      const [, bucket = "", ...rest] = u.pathname.split("/");
      const id = `${decodeURIComponent(bucket)}/${decodeURIComponent(rest.join("/"))}`;
      if (writing.has(id)) {
        refuse(
          409,
          "ConditionalRequestConflict",
          "The conditional request cannot succeed due to a conflicting operation against this resource.",
        );
        return;
      }
      writing.add(id);
      res.once("close", () => writing.delete(id));
      void s3rver.store.getObject(decodeURIComponent(bucket), decodeURIComponent(rest.join("/"))).then(
        (existing) => {
          existing?.content?.destroy();
          if (existing === null) handle(req, res);
          else
            refuse(
              412,
              "PreconditionFailed",
              "At least one of the pre-conditions you specified did not hold",
              "<Condition>If-None-Match</Condition>",
            );
        },
        () => handle(req, res),
      );
      return;
    }
    handle(req, res);
  });
  const writing = new Set<string>();
  await s3rver.configureBuckets();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const read = async (bucket: string, key: string) => {
    const o = await s3rver.store.getObject(bucket, key);
    return o === null || o.content === null ? undefined : { content: o.content, metadata: o.metadata };
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    events,
    createBucket: (name) => s3rver.store.putBucket(name),
    async keys(bucket) {
      const { objects } = await s3rver.store.listObjects(bucket, { maxKeys: 10_000 });
      return objects.map((o) => o.key).sort();
    },
    async object(bucket, key) {
      const o = await read(bucket, key);
      if (o === undefined) return undefined;
      const chunks: Buffer[] = [];
      for await (const c of o.content) chunks.push(c as Buffer);
      return { body: Buffer.concat(chunks), contentType: o.metadata["content-type"] };
    },
    async digest(bucket, key) {
      const o = await read(bucket, key);
      if (o === undefined) return undefined;
      const hash = createHash("sha256");
      let size = 0;
      for await (const c of o.content) {
        hash.update(c as Buffer);
        size += (c as Buffer).length;
      }
      return { sha256: hash.digest("hex"), size };
    },
    async pendingUploads(bucket) {
      try {
        return (await readdir(uploadsDir(bucket))).length;
      } catch {
        return 0;
      }
    },
    deny(match) {
      denied.push(match);
    },
    stall(match) {
      stalled.push(match);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      s3rver.logger.exceptions.unhandle();
      s3rver.logger.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

// ---- Lambda Invoke ----------------------------------------------------------------------------------------

/** A function's code: returns the answer, or throws for a function error (X-Amz-Function-Error: Unhandled). */
export type LambdaHandler = (event: unknown) => unknown;

export interface LambdaFunctionSpec {
  readonly name: string;
  /** Published versions besides $LATEST. */
  readonly versions?: readonly string[];
  /** alias → version. */
  readonly aliases?: Readonly<Record<string, string>>;
  readonly handler: LambdaHandler;
  /** How long an invocation takes (a slow function). */
  readonly durationMs?: number;
}

export interface LambdaInvocation {
  readonly functionName: string;
  readonly qualifier: string | undefined;
  readonly invocationType: string;
  readonly payload: unknown;
  readonly accessKeyId: string;
  readonly status: number;
}

export interface LambdaServer {
  readonly url: string;
  readonly requests: ApiReceiver["requests"];
  /** The invocations Lambda accepted (signed, for a known function), with their parsed payload. */
  readonly invocations: LambdaInvocation[];
  /** Answers for the next requests, in order (throttling, a 5xx…). */
  script(...answers: Answer[]): void;
  close(): Promise<void>;
}

function lambdaError(status: number, type: string, message: string, extra: Record<string, string> = {}): Answer {
  return {
    status,
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": type,
      "x-amzn-requestid": randomBytes(16).toString("hex"),
      ...extra,
    },
    body: JSON.stringify({ Type: "User", message }),
  };
}

/** Lambda's Invoke API (POST /2015-03-31/functions/{name}/invocations) for the functions given. */
export async function startLambda(
  account: TestAccount,
  options: { region: string; functions: readonly LambdaFunctionSpec[] },
): Promise<LambdaServer> {
  const functions = new Map(options.functions.map((f) => [f.name, f]));
  const invocations: LambdaInvocation[] = [];
  const server = await startRecordingServer((req) => {
    const u = new URL(req.url, "http://lambda");
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(u.pathname);
    if (req.method !== "POST" || m === null) return lambdaError(404, "UnknownOperationException", "Unknown operation");
    const verified = account.verify(req, req.body);
    if (!verified.ok) {
      if (verified.problem === "unknown-key" || verified.problem === "bad-token") {
        return lambdaError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
      }
      if (verified.problem === "missing") return lambdaError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
      if (verified.problem === "expired")
        return lambdaError(403, "ExpiredTokenException", "The security token included in the request is expired");
      return lambdaError(
        403,
        "InvalidSignatureException",
        `The request signature we calculated does not match the signature you provided (${verified.message}).`,
      );
    }
    if (verified.service !== "lambda" || verified.region !== options.region) {
      return lambdaError(
        403,
        "InvalidSignatureException",
        `Credential should be scoped to a valid region and to the lambda service (got ${verified.region}/${verified.service}).`,
      );
    }
    const rawName = decodeURIComponent(m[1]!);
    const name = rawName.includes(":function:") ? rawName.slice(rawName.indexOf(":function:") + 10) : rawName;
    const qualifier = u.searchParams.get("Qualifier") ?? undefined;
    const fn = functions.get(name);
    const version =
      fn === undefined
        ? undefined
        : qualifier === undefined || qualifier === "$LATEST"
          ? "$LATEST"
          : (fn.aliases?.[qualifier] ?? (fn.versions?.includes(qualifier) ? qualifier : undefined));
    const arn = `arn:aws:lambda:${options.region}:${account.id}:function:${name}${qualifier === undefined ? "" : `:${qualifier}`}`;
    if (fn === undefined || version === undefined) return lambdaError(404, "ResourceNotFoundException", `Function not found: ${arn}`);
    const invocationType = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    let payload: unknown;
    try {
      payload = req.body === "" ? {} : JSON.parse(req.body);
    } catch (err) {
      return lambdaError(400, "InvalidRequestContentException", `Could not parse request body into json: ${(err as Error).message}`);
    }
    const record = (status: number): void => {
      invocations.push({ functionName: name, qualifier, invocationType, payload, accessKeyId: verified.key.accessKeyId, status });
    };
    const requestId = randomBytes(16).toString("hex");
    if (invocationType === "Event") {
      record(202);
      return { status: 202, headers: { "x-amzn-requestid": requestId } };
    }
    if (invocationType === "DryRun") {
      record(204);
      return { status: 204, headers: { "x-amzn-requestid": requestId } };
    }
    if (invocationType !== "RequestResponse") {
      return lambdaError(400, "InvalidParameterValueException", `Unsupported invocation type ${invocationType}`);
    }
    record(200);
    const headers = { "content-type": "application/json", "x-amz-executed-version": version, "x-amzn-requestid": requestId };
    const delay = fn.durationMs === undefined ? {} : { delayMs: fn.durationMs };
    try {
      return { status: 200, headers, body: JSON.stringify(fn.handler(payload) ?? null), ...delay };
    } catch (err) {
      const e = err as Error;
      return {
        status: 200,
        headers: { ...headers, "x-amz-function-error": "Unhandled" },
        body: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: String(e.stack ?? "").split("\n") }),
        ...delay,
      };
    }
  });
  return {
    url: server.url,
    requests: server.requests,
    invocations,
    script: (...answers) => server.script(...answers),
    close: () => server.close(),
  };
}

// ---- STS ----------------------------------------------------------------------------------------------

export interface StsServer {
  readonly url: string;
  readonly requests: ApiReceiver["requests"];
  /** The AssumeRole calls STS granted. */
  readonly assumed: {
    readonly roleArn: string;
    readonly externalId: string | undefined;
    readonly sessionName: string;
    readonly accessKeyId: string;
  }[];
  /** How long the next sessions last (STS's minimum is 900 s; shorter makes the SDK renew them at once). */
  sessionSeconds: number | undefined;
  script(...answers: Answer[]): void;
  close(): Promise<void>;
}

const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";

function stsError(status: number, code: string, message: string): Answer {
  return {
    status,
    headers: { "content-type": "text/xml" },
    body: `<ErrorResponse xmlns="${STS_NS}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>${code}</Code>\n    <Message>${message}</Message>\n  </Error>\n  <RequestId>${randomBytes(16).toString("hex")}</RequestId>\n</ErrorResponse>\n`,
  };
}

function stsAnswer(action: string, result: string): Answer {
  return {
    status: 200,
    headers: { "content-type": "text/xml" },
    body: `<${action}Response xmlns="${STS_NS}">\n  <${action}Result>\n${result}  </${action}Result>\n  <ResponseMetadata>\n    <RequestId>${randomBytes(16).toString("hex")}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`,
  };
}

/** STS's Query API (POST / with a form body): AssumeRole and GetCallerIdentity, XML answers. */
export async function startSts(account: TestAccount): Promise<StsServer> {
  const assumed: StsServer["assumed"] = [];
  const state: { sessionSeconds: number | undefined } = { sessionSeconds: undefined };
  const server = await startRecordingServer((req) => {
    if (req.method !== "POST") return stsError(400, "InvalidAction", "Could not find operation for this request");
    const form = new URLSearchParams(req.body);
    const action = form.get("Action") ?? "";
    if (form.get("Version") !== "2011-06-15") return stsError(400, "InvalidParameterValue", "Version must be 2011-06-15");
    const verified = account.verify(req, req.body);
    if (!verified.ok) {
      if (verified.problem === "missing") return stsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
      if (verified.problem === "expired") return stsError(403, "ExpiredToken", "The security token included in the request is expired");
      if (verified.problem === "bad-signature")
        return stsError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
      return stsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
    }
    if (verified.service !== "sts") return stsError(403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'.");
    const caller = verified.key;
    if (action === "GetCallerIdentity") {
      const userId =
        caller.sessionToken === undefined ? caller.accessKeyId : `AROA${caller.accessKeyId.slice(4)}:${caller.arn.split("/").pop()}`;
      return stsAnswer(
        "GetCallerIdentity",
        `    <Arn>${caller.arn}</Arn>\n    <UserId>${userId}</UserId>\n    <Account>${account.id}</Account>\n`,
      );
    }
    if (action !== "AssumeRole") return stsError(400, "InvalidAction", `Could not find operation ${action} for version 2011-06-15`);
    const roleArn = form.get("RoleArn") ?? "";
    const sessionName = form.get("RoleSessionName") ?? "";
    const externalId = form.get("ExternalId") ?? undefined;
    const duration = Number(form.get("DurationSeconds") ?? "3600");
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      return stsError(
        400,
        "ValidationError",
        `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint`,
      );
    }
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      return stsError(
        400,
        "ValidationError",
        "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200",
      );
    }
    const role = account.role(roleArn);
    if (role === undefined || (role.externalId !== undefined && role.externalId !== externalId)) {
      return stsError(403, "AccessDenied", `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
    }
    const session = account.issueSession(roleArn, sessionName, state.sessionSeconds ?? duration);
    assumed.push({ roleArn, externalId, sessionName, accessKeyId: caller.accessKeyId });
    const expiration = new Date(session.expiresAt!).toISOString().replace(/\.\d{3}Z$/, "Z");
    return stsAnswer(
      "AssumeRole",
      `    <AssumedRoleUser>\n      <Arn>${session.arn}</Arn>\n      <AssumedRoleId>AROA${session.accessKeyId.slice(4)}:${sessionName}</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>${session.accessKeyId}</AccessKeyId>\n      <SecretAccessKey>${session.secretAccessKey}</SecretAccessKey>\n      <SessionToken>${session.sessionToken}</SessionToken>\n      <Expiration>${expiration}</Expiration>\n    </Credentials>\n    <PackedPolicySize>6</PackedPolicySize>\n`,
    );
  });
  return {
    url: server.url,
    requests: server.requests,
    assumed,
    get sessionSeconds() {
      return state.sessionSeconds;
    },
    set sessionSeconds(v) {
      state.sessionSeconds = v;
    },
    script: (...answers) => server.script(...answers),
    close: () => server.close(),
  };
}

// ---- the EC2 instance metadata service (IMDSv2) -------------------------------------------------------

export interface ImdsOptions {
  readonly region: string;
  /** The instance profile; none (iam/info answers 404) when undefined. */
  readonly instanceProfile?: { readonly arn: string; readonly id: string };
  /** The role whose credentials iam/security-credentials/ serves (for the SDK's default chain). */
  readonly role?: { readonly name: string; readonly arn: string };
}

export interface ImdsServer {
  readonly url: string;
  readonly requests: ApiReceiver["requests"];
  /** The keys served through iam/security-credentials/<role>. */
  readonly servedKeys: AccessKey[];
  script(...answers: Answer[]): void;
  close(): Promise<void>;
}

/** IMDSv2 with tokens required: PUT /latest/api/token, then GETs carrying X-aws-ec2-metadata-token. */
export async function startImds(account: TestAccount, options: ImdsOptions): Promise<ImdsServer> {
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const servedKeys: AccessKey[] = [];
  const text = (status: number, body: string, headers: Record<string, string> = {}): Answer => ({
    status,
    headers: { "content-type": "text/plain", ...headers },
    body,
  });
  const server = await startRecordingServer((req) => {
    if (req.url === "/latest/api/token") {
      if (req.method !== "PUT") return text(405, "");
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return text(400, "");
      const token = randomBytes(32).toString("base64");
      tokens.set(token, Date.now() + ttl * 1000);
      return text(200, token, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) });
    }
    if (req.method !== "GET") return text(405, "");
    const token = String(req.headers["x-aws-ec2-metadata-token"] ?? "");
    const expiry = tokens.get(token);
    if (expiry === undefined || Date.now() > expiry) return text(401, "");
    const path = req.url;
    if (path === "/latest/meta-data/placement/region") return text(200, options.region);
    if (path === "/latest/meta-data/iam/info") {
      if (options.instanceProfile === undefined) return text(404, "");
      return {
        status: 200,
        headers: { "content-type": "text/plain" },
        body: JSON.stringify(
          {
            Code: "Success",
            LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
            InstanceProfileArn: options.instanceProfile.arn,
            InstanceProfileId: options.instanceProfile.id,
          },
          null,
          2,
        ),
      };
    }
    if (options.role !== undefined) {
      if (path === "/latest/meta-data/iam/security-credentials/") return text(200, options.role.name);
      if (path === `/latest/meta-data/iam/security-credentials/${options.role.name}`) {
        const key = account.issueSession(options.role.arn, "i-0123456789abcdef0", 6 * 3600);
        servedKeys.push(key);
        return {
          status: 200,
          headers: { "content-type": "text/plain" },
          body: JSON.stringify({
            Code: "Success",
            LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
            Type: "AWS-HMAC",
            AccessKeyId: key.accessKeyId,
            SecretAccessKey: key.secretAccessKey,
            Token: key.sessionToken,
            Expiration: new Date(key.expiresAt!).toISOString().replace(/\.\d{3}Z$/, "Z"),
          }),
        };
      }
    }
    return text(404, "");
  });
  return { url: server.url, requests: server.requests, servedKeys, script: (...a) => server.script(...a), close: () => server.close() };
}

// ---- everything together ------------------------------------------------------------------------------

export interface AwsTestServers {
  readonly account: TestAccount;
  readonly s3: S3Server;
  readonly lambda: LambdaServer;
  readonly sts: StsServer;
  readonly imds: ImdsServer;
  close(): Promise<void>;
}

export const TEST_REGION = "eu-west-3";

/** All four servers on one account. */
export async function startAwsServers(options: {
  functions: readonly LambdaFunctionSpec[];
  imds?: Omit<ImdsOptions, "region">;
}): Promise<AwsTestServers> {
  const account = new TestAccount();
  const [s3, lambda, sts, imds] = await Promise.all([
    startS3(account),
    startLambda(account, { region: TEST_REGION, functions: options.functions }),
    startSts(account),
    startImds(account, { region: TEST_REGION, ...options.imds }),
  ]);
  return {
    account,
    s3,
    lambda,
    sts,
    imds,
    async close() {
      await Promise.all([s3.close(), lambda.close(), sts.close(), imds.close()]);
    },
  };
}

/** The KestrelError `work` rejects with (an AWS client call expected to fail); fails the test otherwise. */
export async function rejection(work: Promise<unknown>): Promise<KestrelError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof KestrelError, `not a KestrelError: ${String(err)}`);
    return err;
  }
  assert.fail("expected a failure");
}
