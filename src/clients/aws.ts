// The AWS and MinIO clients: one set per process, created only when a loaded rule uses an `aws:*` or
// `minio:*` plugin or the `aws` context, with each SDK client built on first use. Every failure becomes a
// KestrelError here, at the boundary, so plugins never see SDK exceptions: throttling, 5xx and network
// errors are retryable, an access denial names the IAM permission that is missing, refused credentials name
// the settings they came from, a missing bucket or function says so. Every call takes the caller's
// AbortSignal.
//
// Credentials, as Talon documents them: the static keys `aws.access_key` + `aws.secret_key`; with
// `aws.role_arn`, those (or the SDK's default chain) are used to assume the role through STS (with
// `aws.external_id`), and the role's credentials are refreshed before they expire; with neither, the SDK's
// default chain (environment, profile, web identity, ECS, EC2 instance profile). Talon used the static keys
// only when `aws.region` was set too and silently fell back to the default chain otherwise; Kestrel uses
// them whenever both keys are set, and a key without its partner is an error naming the missing setting.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { AbortMultipartUploadCommand, S3Client } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { Upload } from "@aws-sdk/lib-storage";
import { errorMessage, KestrelError } from "../errors.ts";
import { redactCredentials } from "../redact.ts";

export interface AwsSettings {
  readonly role_arn?: string | undefined;
  readonly external_id?: string | undefined;
  readonly region?: string | undefined;
  readonly access_key?: string | undefined;
  readonly secret_key?: string | undefined;
}

export interface MinioSettings {
  readonly endpoint?: string | undefined;
  readonly access_key?: string | undefined;
  readonly secret_key?: string | undefined;
  readonly use_ssl: boolean;
}

/** What the loaded rules use; prepare() checks those parts. */
export interface AwsUses {
  /** AWS services (aws:s3, aws:lambda): credentials are verified at start. */
  readonly aws: boolean;
  /** minio:s3: the minio.* settings must be complete. */
  readonly minio: boolean;
  /** The `aws` context: the instance metadata service. */
  readonly metadata: boolean;
}

export interface AwsClientOptions {
  readonly aws: AwsSettings;
  readonly minio: MinioSettings;
  /** Read for the metadata endpoint and the STS region fallback; the SDK's own chains read process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Endpoint overrides (tests); otherwise each SDK client finds its own (AWS_ENDPOINT_URL_S3, …, then AWS's). */
  readonly endpoints?: {
    readonly s3?: string;
    readonly lambda?: string;
    readonly sts?: string;
    /** The instance metadata service; default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254. */
    readonly metadata?: string;
  };
}

export interface UploadRequest {
  readonly bucket: string;
  readonly key: string;
  /** A buffer is sent as is; a stream is read part by part, never whole. */
  readonly body: Uint8Array | Readable;
  readonly contentType: string;
  readonly signal: AbortSignal;
}

/** A bucket service: AWS S3 in one region, or MinIO. */
export interface ObjectStore {
  /** "AWS S3 (eu-west-1)", "MinIO (http://minio:9000)": for messages. */
  readonly description: string;
  /**
   * Creates the object, never replacing one (`If-None-Match: *`): "exists" when the key is taken, or while
   * another conditional write of it is in progress (409 ConditionalRequestConflict).
   */
  upload(request: UploadRequest): Promise<"stored" | "exists">;
}

export type InvocationType = "RequestResponse" | "Event" | "DryRun";

export interface LambdaRequest {
  readonly name: string;
  readonly qualifier: string;
  readonly invocationType: InvocationType;
  readonly payload: string;
  readonly signal: AbortSignal;
}

export interface LambdaResult {
  /** 200 RequestResponse, 202 Event, 204 DryRun. */
  readonly statusCode: number;
  readonly executedVersion: string | undefined;
  /** "Unhandled" or "Handled" when the function failed; its error object is then the payload. */
  readonly functionError: string | undefined;
  readonly payload: string;
}

export interface InstanceMetadata {
  /** Empty when the instance has no instance profile. */
  readonly instanceProfileArn: string;
  readonly instanceProfileId: string;
  readonly region: string;
}

export interface AwsClients {
  /** AWS S3; `region` overrides aws.region for one bucket. */
  s3(region?: string): ObjectStore;
  minio(): ObjectStore;
  invokeLambda(request: LambdaRequest): Promise<LambdaResult>;
  /** IMDSv2: the instance profile and region of the EC2 instance Kestrel runs on (cached for a minute). */
  instanceMetadata(signal: AbortSignal): Promise<InstanceMetadata>;
  /**
   * Checks the settings of the parts in use (at start and on each rules reload) and, when AWS services are
   * used, resolves the credentials (assuming the role) and asks STS whose they are, once: returns that ARN.
   * Throws ERR_CONFIG_INVALID naming the setting at fault.
   */
  prepare(uses: AwsUses): Promise<string | undefined>;
}

// ---- settings ------------------------------------------------------------------------------------------

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

function present(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

/** Problems of the aws.* settings, each naming its setting. */
export function awsSettingsProblems(s: AwsSettings): string[] {
  const problems: string[] = [];
  if (present(s.access_key) && !present(s.secret_key)) problems.push("aws.secret_key is not set: aws.access_key needs it");
  if (!present(s.access_key) && present(s.secret_key)) problems.push("aws.access_key is not set: aws.secret_key needs it");
  if (present(s.role_arn) && !ROLE_ARN.test(s.role_arn)) {
    problems.push(`aws.role_arn '${s.role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
  }
  return problems;
}

interface MinioTarget {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The MinIO endpoint URL and keys, or the problems naming the minio.* settings at fault. */
export function minioTarget(s: MinioSettings): MinioTarget | string[] {
  const problems: string[] = [];
  let endpoint = "";
  if (!present(s.endpoint)) problems.push("minio.endpoint is not set: minio:s3 needs the address of the MinIO server (host:port)");
  else {
    // minio-go (Talon) takes host:port and chooses the scheme from use_ssl; a URL is accepted too.
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s.endpoint);
    const text = hasScheme ? s.endpoint : `${s.use_ssl ? "https" : "http"}://${s.endpoint}`;
    // Messages show the endpoint as written, its credentials (user:pass@) redacted.
    const shown = hasScheme ? redactCredentials(s.endpoint) : redactCredentials(text).slice(text.length - s.endpoint.length);
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      problems.push(`minio.endpoint '${shown}' is not host:port or a URL`);
    }
    if (url !== undefined) {
      if (url.protocol !== "http:" && url.protocol !== "https:") problems.push(`minio.endpoint '${shown}' must be http(s)`);
      else if (s.use_ssl && url.protocol === "http:") problems.push(`minio.endpoint '${shown}' is http:// but minio.use_ssl is true`);
      else if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
        problems.push(`minio.endpoint '${shown}' must be host:port, without a path`);
      } else if (url.username !== "" || url.password !== "") {
        // S3 requests are signed with the keys; credentials in the address would never be sent.
        problems.push(`minio.endpoint '${shown}' must not carry credentials: set minio.access_key and minio.secret_key`);
      } else endpoint = url.origin;
    }
  }
  if (!present(s.access_key)) problems.push("minio.access_key is not set");
  if (!present(s.secret_key)) problems.push("minio.secret_key is not set");
  if (problems.length > 0) return problems;
  return { endpoint, accessKeyId: s.access_key!, secretAccessKey: s.secret_key! };
}

// ---- credentials ---------------------------------------------------------------------------------------

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

type CredentialProvider = () => Promise<Credentials>;

/** Role credentials are renewed this long before they expire (the SDK clients use the same margin). */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
const ROLE_SESSION_SECONDS = 3600;

/** Where the credentials come from, as said in error messages. */
interface CredentialSource {
  readonly provider: CredentialProvider;
  /** "the static keys aws.access_key and aws.secret_key", … */
  readonly description: string;
}

/**
 * Assumes the role with `base` and keeps its credentials until REFRESH_MARGIN_MS before they expire; callers
 * during a renewal share it. A failed attempt is not kept, so the next call tries again.
 */
function assumeRoleProvider(
  sts: () => STSClient,
  roleArn: string,
  externalId: string | undefined,
  baseDescription: string,
): CredentialProvider {
  let current: Promise<Credentials> | undefined;
  let renewAt = 0;
  const settings = externalId === undefined ? "aws.role_arn" : "aws.role_arn with aws.external_id";
  const assume = async (): Promise<Credentials> => {
    try {
      const out = await sts().send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: `kestrel-${randomBytes(4).toString("hex")}`,
          DurationSeconds: ROLE_SESSION_SECONDS,
          ...(externalId === undefined ? {} : { ExternalId: externalId }),
        }),
        { abortSignal: AbortSignal.timeout(15_000) },
      );
      const c = out.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined) throw new Error("STS returned no credentials");
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken === undefined ? {} : { sessionToken: c.SessionToken }),
        ...(c.Expiration === undefined ? {} : { expiration: c.Expiration }),
      };
    } catch (err) {
      throw awsError(err, {
        what: `assume the role '${roleArn}' (${settings}) with ${baseDescription}`,
        permission: `sts:AssumeRole on ${roleArn}, and a trust policy of the role that lets this identity${externalId === undefined ? "" : " with this external id"} assume it`,
        credentials: baseDescription,
      });
    }
  };
  return () => {
    if (current === undefined || Date.now() >= renewAt) {
      const attempt = assume();
      current = attempt;
      renewAt = Number.POSITIVE_INFINITY; // no second renewal while this one runs
      attempt.then(
        (c) => {
          if (current === attempt)
            renewAt = c.expiration === undefined ? Number.POSITIVE_INFINITY : c.expiration.getTime() - REFRESH_MARGIN_MS;
        },
        () => {
          if (current === attempt) {
            current = undefined;
            renewAt = 0;
          }
        },
      );
    }
    return current;
  };
}

const DEFAULT_CHAIN =
  "the SDK's default credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, ECS or EC2 instance role)";

// ---- errors --------------------------------------------------------------------------------------------

interface ErrorContext {
  /** What was attempted: "upload s3://b/k to AWS S3 (eu-west-1)". */
  readonly what: string;
  /** The permission an access denial means is missing: "s3:PutObject on arn:aws:s3:::b/k". */
  readonly permission: string;
  /** Where the credentials came from (what to check when they are refused). */
  readonly credentials: string;
  /** What a "not found" means here: "the bucket 'b' does not exist". */
  readonly notFound?: string;
}

/** Error names that mean the credentials themselves were refused (not a missing permission). */
const CREDENTIAL_ERRORS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "MissingAuthenticationTokenException",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "TokenRefreshRequired",
  "AuthFailure",
]);
const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden"]);
const NOT_FOUND = new Set(["NoSuchBucket", "ResourceNotFoundException", "NotFound"]);
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "EC2ThrottledException",
  "ProvisionedThroughputExceededException",
  "BandwidthLimitExceeded",
  "LimitExceededException",
]);
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

interface SdkError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  $response?: { headers?: Record<string, string | undefined> };
  retryAfterSeconds?: unknown;
  cause?: { code?: unknown };
}

/** A KestrelError for a failed AWS or MinIO call. */
export function awsError(err: unknown, ctx: ErrorContext): KestrelError {
  if (err instanceof KestrelError) return err;
  const e = (err ?? {}) as SdkError;
  const name = typeof e.name === "string" ? e.name : "";
  const status = e.$metadata?.httpStatusCode;
  const message = errorMessage(err);
  const detail = name !== "" && name !== "Error" && !message.startsWith(name) ? `${name}: ${message}` : message;
  if (name === "AbortError") return new KestrelError("ERR_TIMEOUT", `cannot ${ctx.what}: cancelled`, { cause: err });
  if (message === "Region is missing") {
    return new KestrelError("ERR_CONFIG_INVALID", `cannot ${ctx.what}: no AWS region: set aws.region in config.yaml (or AWS_REGION)`, {
      cause: err,
    });
  }
  if (name === "CredentialsProviderError") {
    return new KestrelError("ERR_FORBIDDEN", `cannot ${ctx.what}: no credentials from ${ctx.credentials}: ${message}`, { cause: err });
  }
  if (CREDENTIAL_ERRORS.has(name) || status === 401) {
    return new KestrelError("ERR_FORBIDDEN", `cannot ${ctx.what}: the credentials were refused (${detail}): check ${ctx.credentials}`, {
      cause: err,
    });
  }
  if (ACCESS_DENIED.has(name) || status === 403) {
    return new KestrelError("ERR_FORBIDDEN", `cannot ${ctx.what}: access denied (${detail}): the identity needs ${ctx.permission}`, {
      cause: err,
    });
  }
  if (NOT_FOUND.has(name) || status === 404) {
    const what = ctx.notFound ?? "not found";
    return new KestrelError("ERR_TARGET_GONE", `cannot ${ctx.what}: ${what} (${detail})`, { cause: err });
  }
  const throttled = THROTTLING.has(name) || status === 429 || e.$retryable?.throttling === true;
  if (throttled || (status !== undefined && status >= 500)) {
    const header = Number(e.$response?.headers?.["retry-after"]);
    const retryAfter = typeof e.retryAfterSeconds === "string" ? Number(e.retryAfterSeconds) : header;
    return new KestrelError("ERR_AWS", `cannot ${ctx.what}: ${throttled ? "throttled: " : ""}${detail}`, {
      cause: err,
      retryable: true,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  const code = typeof e.code === "string" ? e.code : typeof e.cause?.code === "string" ? e.cause.code : "";
  if (CONNECTION_CODES.has(code) || name === "TimeoutError") {
    return new KestrelError("ERR_AWS", `cannot ${ctx.what}: the service cannot be reached (${code || message})`, {
      cause: err,
      retryable: true,
    });
  }
  return new KestrelError("ERR_AWS", `cannot ${ctx.what}: ${detail}${status === undefined ? "" : ` (HTTP ${status})`}`, { cause: err });
}

// ---- S3 and MinIO --------------------------------------------------------------------------------------

/** Streams are sent in parts of this size, at most QUEUE_SIZE at a time: the memory an upload holds. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** How long the clean-up of a failed multipart upload may take once the upload itself was cancelled. */
const CLEANUP_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5000;

/**
 * The client as lib-storage's Upload sees it: every call it makes carries the upload's signal (Upload has
 * no option for that), except the AbortMultipartUpload that cleans up after a cancelled upload, which must
 * still go out when that signal has fired.
 */
function withSignal(client: S3Client, signal: AbortSignal): S3Client {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== "send") return Reflect.get(target, prop, receiver) as unknown;
      return (command: Parameters<S3Client["send"]>[0], options?: object) =>
        target.send(command, {
          ...options,
          abortSignal: command instanceof AbortMultipartUploadCommand ? AbortSignal.timeout(CLEANUP_TIMEOUT_MS) : signal,
        });
    },
  });
}

/** The refusal of `If-None-Match: *`: 412 when the key exists, 409 while another conditional write of it runs. */
function keyTaken(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  return status === 412 || e.name === "PreconditionFailed" || (status === 409 && e.name === "ConditionalRequestConflict");
}

function objectStore(client: () => S3Client, description: string, credentials: string, service: "AWS" | "MinIO"): ObjectStore {
  return {
    description,
    async upload({ bucket, key, body, contentType, signal }) {
      const ctx: ErrorContext = {
        what: `upload s3://${bucket}/${key} to ${description}`,
        permission:
          service === "AWS"
            ? `s3:PutObject (and s3:AbortMultipartUpload) on arn:aws:s3:::${bucket}/${key}`
            : `s3:PutObject on ${bucket}/${key} in its MinIO policy`,
        credentials,
        notFound: `the bucket '${bucket}' does not exist`,
      };
      const cancelled = (cause?: unknown): KestrelError =>
        new KestrelError("ERR_TIMEOUT", `cannot ${ctx.what}: cancelled (${errorMessage(signal.reason)})`, { cause });
      if (signal.aborted) throw cancelled();
      const upload = new Upload({
        client: withSignal(client(), signal),
        // Sent with PutObject and CompleteMultipartUpload: S3 and MinIO refuse to replace an existing object.
        params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: "*" },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const onAbort = (): void => void upload.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await upload.done();
        return "stored";
      } catch (err) {
        if (signal.aborted) throw cancelled(err);
        if (keyTaken(err)) return "exists";
        throw awsError(err, ctx);
      } finally {
        signal.removeEventListener("abort", onAbort);
        if (body instanceof Readable && !body.destroyed) body.destroy();
      }
    },
  };
}

// ---- the instance metadata service (IMDSv2) ------------------------------------------------------------

const METADATA_TIMEOUT_MS = 2000;
const METADATA_CACHE_MS = 60_000;
const TOKEN_TTL_SECONDS = 21600;

class InstanceMetadataService {
  readonly #endpoint: string;
  readonly #disabled: boolean;
  #token: { value: string; renewAt: number } | undefined;
  #cached: { value: InstanceMetadata; until: number } | undefined;

  constructor(endpoint: string, disabled: boolean) {
    this.#endpoint = endpoint.replace(/\/+$/, "");
    this.#disabled = disabled;
  }

  async get(signal: AbortSignal): Promise<InstanceMetadata> {
    if (this.#disabled) {
      throw new KestrelError("ERR_AWS", "the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED is true)");
    }
    if (this.#cached !== undefined && Date.now() < this.#cached.until) return this.#cached.value;
    const deadline = AbortSignal.timeout(METADATA_TIMEOUT_MS);
    const both = AbortSignal.any([signal, deadline]);
    try {
      const info = await this.#read("/latest/meta-data/iam/info", both);
      const region = await this.#read("/latest/meta-data/placement/region", both);
      if (region === undefined || region === "") throw new KestrelError("ERR_AWS", `${this.#endpoint} gave no placement/region`);
      let profile: { InstanceProfileArn?: unknown; InstanceProfileId?: unknown } = {};
      if (info !== undefined) {
        try {
          profile = JSON.parse(info) as typeof profile;
        } catch {
          throw new KestrelError("ERR_AWS", `${this.#endpoint} answered iam/info with something that is not JSON`);
        }
      }
      const value: InstanceMetadata = {
        instanceProfileArn: typeof profile.InstanceProfileArn === "string" ? profile.InstanceProfileArn : "",
        instanceProfileId: typeof profile.InstanceProfileId === "string" ? profile.InstanceProfileId : "",
        region,
      };
      this.#cached = { value, until: Date.now() + METADATA_CACHE_MS };
      return value;
    } catch (err) {
      if (deadline.aborted) {
        throw new KestrelError(
          "ERR_TIMEOUT",
          `the instance metadata service at ${this.#endpoint} did not answer within ${METADATA_TIMEOUT_MS / 1000} s: is Kestrel running on EC2? (in a container, IMDSv2 needs the instance's metadata hop limit ≥ 2)`,
          { cause: err },
        );
      }
      if (signal.aborted) {
        throw new KestrelError(
          "ERR_TIMEOUT",
          `the request to the instance metadata service was cancelled (${errorMessage(signal.reason)})`,
          { cause: err },
        );
      }
      if (err instanceof KestrelError) throw err;
      throw new KestrelError(
        "ERR_AWS",
        `the instance metadata service at ${this.#endpoint} cannot be reached (${connectionCode(err)}): is Kestrel running on EC2?`,
        {
          cause: err,
          retryable: true,
        },
      );
    }
  }

  /** The text at `path`, undefined on 404; renews the token once when it is refused. */
  async #read(path: string, signal: AbortSignal): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.#tokenValue(signal);
      const res = await fetch(`${this.#endpoint}${path}`, { headers: { "x-aws-ec2-metadata-token": token }, signal });
      const text = await res.text();
      if (res.status === 200) return text.trim();
      if (res.status === 404) return undefined;
      if (res.status === 401 && attempt === 1) {
        this.#token = undefined;
        continue;
      }
      throw new KestrelError("ERR_AWS", `the instance metadata service answered ${path} with HTTP ${res.status}`, {
        retryable: res.status >= 500,
      });
    }
  }

  async #tokenValue(signal: AbortSignal): Promise<string> {
    if (this.#token !== undefined && Date.now() < this.#token.renewAt) return this.#token.value;
    const res = await fetch(`${this.#endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "x-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal,
    });
    const text = await res.text();
    if (res.status !== 200 || text === "") {
      throw new KestrelError(
        "ERR_AWS",
        `the instance metadata service refused an IMDSv2 token (HTTP ${res.status}): is IMDS enabled on the instance?`,
      );
    }
    const ttl = Number(res.headers.get("x-aws-ec2-metadata-token-ttl-seconds")) || TOKEN_TTL_SECONDS;
    this.#token = { value: text, renewAt: Date.now() + Math.max(ttl - 60, 1) * 1000 };
    return text;
  }
}

function connectionCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = e?.cause?.code ?? e?.code;
  return typeof code === "string" ? code : errorMessage(err);
}

// ---- the clients ---------------------------------------------------------------------------------------

function configError(problems: readonly string[]): KestrelError {
  return new KestrelError("ERR_CONFIG_INVALID", problems.join("; "));
}

const VERIFY_TIMEOUT_MS = 15_000;

/** Builds the AWS clients; nothing is contacted until the first call (or prepare()). */
export function createAwsClients(options: AwsClientOptions): AwsClients {
  const { aws, endpoints = {} } = options;
  const env = options.env ?? process.env;
  const minio = minioTarget(options.minio);

  const region = present(aws.region) ? aws.region : undefined;
  const common = { requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS } };
  const staticKeys =
    present(aws.access_key) && present(aws.secret_key) ? { accessKeyId: aws.access_key, secretAccessKey: aws.secret_key } : undefined;
  const base: CredentialSource =
    staticKeys !== undefined
      ? { provider: () => Promise.resolve(staticKeys), description: "the static keys aws.access_key and aws.secret_key" }
      : { provider: fromNodeProviderChain(), description: DEFAULT_CHAIN };
  // STS needs a region even where the rest does not (a bucket's own region); us-east-1 serves every account.
  const stsRegion = region ?? (env["AWS_REGION"] || env["AWS_DEFAULT_REGION"] || "us-east-1");
  let sts: STSClient | undefined;
  const stsClient = (): STSClient =>
    (sts ??= new STSClient({
      ...common,
      region: stsRegion,
      credentials: base.provider,
      ...(endpoints.sts === undefined ? {} : { endpoint: endpoints.sts }),
    }));
  const roleArn = present(aws.role_arn) ? aws.role_arn : undefined;
  const externalId = present(aws.external_id) ? aws.external_id : undefined;
  const source: CredentialSource =
    roleArn === undefined
      ? base
      : {
          provider: assumeRoleProvider(stsClient, roleArn, externalId, base.description),
          description: `the role aws.role_arn '${roleArn}' assumed with ${base.description}`,
        };

  const s3Clients = new Map<string, S3Client>();
  const stores = new Map<string, ObjectStore>();
  let lambda: LambdaClient | undefined;
  let minioStore: ObjectStore | undefined;
  let metadata: InstanceMetadataService | undefined;
  let verified: Promise<string> | undefined;

  const verify = async (): Promise<string> => {
    const signal = AbortSignal.timeout(VERIFY_TIMEOUT_MS);
    try {
      await source.provider();
    } catch (err) {
      throw new KestrelError("ERR_CONFIG_INVALID", startProblem(err, roleArn === undefined ? base.description : "aws.role_arn"), {
        cause: err,
      });
    }
    const ctx: ErrorContext = {
      what: "verify the AWS credentials with STS GetCallerIdentity",
      permission: "none",
      credentials: source.description,
    };
    try {
      const who = await new STSClient({
        ...common,
        region: stsRegion,
        credentials: source.provider,
        ...(endpoints.sts === undefined ? {} : { endpoint: endpoints.sts }),
      }).send(new GetCallerIdentityCommand({}), { abortSignal: signal });
      return who.Arn ?? "";
    } catch (err) {
      if (signal.aborted) {
        throw new KestrelError(
          "ERR_CONFIG_INVALID",
          `cannot verify the AWS credentials: STS did not answer within ${VERIFY_TIMEOUT_MS / 1000} s`,
          { cause: err },
        );
      }
      throw new KestrelError("ERR_CONFIG_INVALID", awsError(err, ctx).message, { cause: err });
    }
  };

  const s3Client = (r: string | undefined): S3Client => {
    const k = r ?? "";
    let c = s3Clients.get(k);
    if (c === undefined) {
      c = new S3Client({
        ...common,
        ...(r === undefined ? {} : { region: r }),
        credentials: source.provider,
        ...(endpoints.s3 === undefined ? {} : { endpoint: endpoints.s3, forcePathStyle: true }),
      });
      s3Clients.set(k, c);
    }
    return c;
  };

  return {
    s3(bucketRegion) {
      const r = present(bucketRegion) ? bucketRegion : region;
      const k = r ?? "";
      let store = stores.get(k);
      if (store === undefined) {
        store = objectStore(() => s3Client(r), `AWS S3 (${r ?? "the default region"})`, source.description, "AWS");
        stores.set(k, store);
      }
      return store;
    },
    minio() {
      if (Array.isArray(minio)) throw configError(minio);
      const target = minio;
      minioStore ??= objectStore(
        () =>
          new S3Client({
            ...common,
            endpoint: target.endpoint,
            forcePathStyle: true,
            region: "us-east-1",
            credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
            // S3-compatible servers vary in their support of the SDK's newer default checksums.
            requestChecksumCalculation: "WHEN_REQUIRED",
            responseChecksumValidation: "WHEN_REQUIRED",
          }),
        `MinIO (${target.endpoint})`,
        "minio.access_key and minio.secret_key",
        "MinIO",
      );
      return minioStore;
    },
    async invokeLambda({ name, qualifier, invocationType, payload, signal }) {
      lambda ??= new LambdaClient({
        ...common,
        ...(region === undefined ? {} : { region }),
        credentials: source.provider,
        ...(endpoints.lambda === undefined ? {} : { endpoint: endpoints.lambda }),
      });
      const where = region === undefined ? "" : ` in ${region}`;
      const ctx: ErrorContext = {
        what: `invoke the Lambda function '${name}' (${qualifier})${where}`,
        permission: `lambda:InvokeFunction on arn:aws:lambda:${region ?? "<region>"}:<account>:function:${name}:${qualifier}`,
        credentials: source.description,
        notFound: `the function '${name}' or its version or alias '${qualifier}' does not exist${where}`,
      };
      try {
        const out = await lambda.send(
          new InvokeCommand({
            FunctionName: name,
            Qualifier: qualifier,
            InvocationType: invocationType,
            Payload: Buffer.from(payload, "utf8"),
          }),
          { abortSignal: signal },
        );
        return {
          statusCode: out.StatusCode ?? 0,
          executedVersion: out.ExecutedVersion,
          functionError: out.FunctionError,
          payload: out.Payload == null ? "" : Buffer.from(out.Payload).toString("utf8"),
        };
      } catch (err) {
        if (signal.aborted)
          throw new KestrelError("ERR_TIMEOUT", `cannot ${ctx.what}: cancelled (${errorMessage(signal.reason)})`, { cause: err });
        throw awsError(err, ctx);
      }
    },
    instanceMetadata(signal) {
      if (metadata === undefined) {
        const mode = (env["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] ?? "").toLowerCase();
        const endpoint =
          endpoints.metadata ??
          (env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] || (mode === "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254"));
        metadata = new InstanceMetadataService(endpoint, (env["AWS_EC2_METADATA_DISABLED"] ?? "").toLowerCase() === "true");
      }
      return metadata.get(signal);
    },
    async prepare(uses) {
      const problems = [...(uses.aws ? awsSettingsProblems(aws) : []), ...(uses.minio && Array.isArray(minio) ? minio : [])];
      if (problems.length > 0) throw configError(problems);
      if (!uses.aws) return undefined;
      if (verified === undefined) {
        const attempt = verify();
        verified = attempt;
        attempt.catch(() => {
          if (verified === attempt) verified = undefined; // a later start or reload tries again
        });
      }
      return verified;
    },
  };
}

/** The start-up message for credentials that could not be had. */
function startProblem(err: unknown, from: string): string {
  const name = (err as { name?: unknown })?.name;
  if (name === "CredentialsProviderError") {
    return `no AWS credentials: set aws.access_key and aws.secret_key, or aws.role_arn, or give them to ${DEFAULT_CHAIN} (${errorMessage(err)})`;
  }
  return err instanceof KestrelError ? err.message : `cannot get AWS credentials from ${from}: ${errorMessage(err)}`;
}
