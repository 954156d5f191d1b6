// The AWS and MinIO clients: one set per process, created only when a loaded rule uses an `aws:*` or
// `minio:*` plugin or the `aws` context, with each SDK client built on first use. Every failure becomes a
// KestrelError at this boundary (./errors.ts), so plugins never see SDK exceptions: throttling, 5xx and
// network errors are retryable, an access denial names the IAM permission that is missing, refused
// credentials name the settings they came from (./credentials.ts), a missing bucket or function says so.
// Every call takes the caller's AbortSignal.
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { type CredentialSource, credentialSource, SDK_COMMON, type StsTarget, verifyCredentials } from "./credentials.ts";
import { invokeLambda } from "./lambda.ts";
import { InstanceMetadataService, metadataEndpoint } from "./metadata.ts";
import { minioS3Client, objectStore } from "./s3.ts";
import { awsSettingsProblems, configError, type MinioTarget, minioTarget, present } from "./settings.ts";
import type {
  AwsClientOptions,
  AwsClients,
  AwsSettings,
  AwsUses,
  InstanceMetadata,
  LambdaRequest,
  LambdaResult,
  ObjectStore,
} from "./types.ts";

/** Builds the AWS clients; nothing is contacted until the first call (or prepare()). */
export function createAwsClients(options: AwsClientOptions): AwsClients {
  return new AwsClientSet(options);
}

class AwsClientSet implements AwsClients {
  readonly #aws: AwsSettings;
  readonly #endpoints: NonNullable<AwsClientOptions["endpoints"]>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #minio: MinioTarget | string[];
  readonly #region: string | undefined;
  readonly #sts: StsTarget;
  readonly #source: CredentialSource;
  readonly #s3Clients = new Map<string, S3Client>();
  readonly #stores = new Map<string, ObjectStore>();
  #lambda: LambdaClient | undefined;
  #minioStore: ObjectStore | undefined;
  #metadata: InstanceMetadataService | undefined;
  #verified: Promise<string> | undefined;

  constructor(options: AwsClientOptions) {
    this.#aws = options.aws;
    this.#endpoints = options.endpoints ?? {};
    this.#env = options.env ?? process.env;
    this.#minio = minioTarget(options.minio);
    this.#region = present(this.#aws.region) ? this.#aws.region : undefined;
    // STS needs a region even where the rest does not (a bucket's own region); us-east-1 serves every account.
    const stsRegion = this.#region ?? (this.#env["AWS_REGION"] || this.#env["AWS_DEFAULT_REGION"] || "us-east-1");
    this.#sts = { region: stsRegion, endpoint: this.#endpoints.sts };
    this.#source = credentialSource(this.#aws, this.#sts);
  }

  s3(bucketRegion?: string): ObjectStore {
    const region = present(bucketRegion) ? bucketRegion : this.#region;
    const key = region ?? "";
    let store = this.#stores.get(key);
    if (store === undefined) {
      store = objectStore(() => this.#s3Client(region), `AWS S3 (${region ?? "the default region"})`, this.#source.description, "AWS");
      this.#stores.set(key, store);
    }
    return store;
  }

  #s3Client(region: string | undefined): S3Client {
    const key = region ?? "";
    let client = this.#s3Clients.get(key);
    if (client === undefined) {
      const endpoint = this.#endpoints.s3;
      client = new S3Client({
        ...SDK_COMMON,
        ...(region === undefined ? {} : { region }),
        credentials: this.#source.provider,
        ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
      });
      this.#s3Clients.set(key, client);
    }
    return client;
  }

  minio(): ObjectStore {
    const target = this.#minio;
    if (Array.isArray(target)) throw configError(target);
    this.#minioStore ??= objectStore(
      () => minioS3Client(target, SDK_COMMON),
      `MinIO (${target.endpoint})`,
      "minio.access_key and minio.secret_key",
      "MinIO",
    );
    return this.#minioStore;
  }

  invokeLambda(request: LambdaRequest): Promise<LambdaResult> {
    const region = this.#region;
    const endpoint = this.#endpoints.lambda;
    this.#lambda ??= new LambdaClient({
      ...SDK_COMMON,
      ...(region === undefined ? {} : { region }),
      credentials: this.#source.provider,
      ...(endpoint === undefined ? {} : { endpoint }),
    });
    return invokeLambda(this.#lambda, request, region, this.#source.description);
  }

  instanceMetadata(signal: AbortSignal): Promise<InstanceMetadata> {
    this.#metadata ??= new InstanceMetadataService(
      this.#endpoints.metadata ?? metadataEndpoint(this.#env),
      (this.#env["AWS_EC2_METADATA_DISABLED"] ?? "").toLowerCase() === "true",
    );
    return this.#metadata.get(signal);
  }

  async prepare(uses: AwsUses): Promise<string | undefined> {
    const minio = this.#minio;
    const problems = [...(uses.aws ? awsSettingsProblems(this.#aws) : []), ...(uses.minio && Array.isArray(minio) ? minio : [])];
    if (problems.length > 0) throw configError(problems);
    if (!uses.aws) return undefined;
    if (this.#verified === undefined) {
      const attempt = verifyCredentials(this.#source, this.#sts);
      this.#verified = attempt;
      attempt.catch(() => {
        if (this.#verified === attempt) this.#verified = undefined; // a later start or reload tries again
      });
    }
    return this.#verified;
  }
}
