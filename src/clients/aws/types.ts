// What the rest of Kestrel sees of the AWS and MinIO clients (./index.ts builds them): the settings they
// are made from and the calls plugins make. Types only, so that importing them loads no SDK.
import type { Readable } from "node:stream";

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
