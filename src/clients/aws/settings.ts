// The aws.* and minio.* settings, checked from their text alone: `rules check` and the start use these
// without loading any SDK. Each problem names the setting at fault.
import { KestrelError } from "../../errors.ts";
import { redactCredentials } from "../../redact.ts";
import type { AwsSettings, MinioSettings } from "./types.ts";

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** A setting that is given: YAML and environment variables leave unset ones empty. */
export function present(value: string | undefined): value is string {
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

export interface MinioTarget {
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
    const origin = minioOrigin(s.endpoint, s.use_ssl);
    if (origin.problem !== undefined) problems.push(origin.problem);
    else endpoint = origin.url;
  }
  if (!present(s.access_key)) problems.push("minio.access_key is not set");
  if (!present(s.secret_key)) problems.push("minio.secret_key is not set");
  if (problems.length > 0) return problems;
  return { endpoint, accessKeyId: s.access_key!, secretAccessKey: s.secret_key! };
}

/** minio.endpoint as an origin URL: minio-go (Talon) takes host:port and chooses the scheme from use_ssl; a URL is accepted too. */
function minioOrigin(setting: string, useSsl: boolean): { url: string; problem?: undefined } | { problem: string } {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(setting);
  const text = hasScheme ? setting : `${useSsl ? "https" : "http"}://${setting}`;
  // Messages show the endpoint as written, its credentials (user:pass@) redacted.
  const shown = hasScheme ? redactCredentials(setting) : redactCredentials(text).slice(text.length - setting.length);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `minio.endpoint '${shown}' is not host:port or a URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { problem: `minio.endpoint '${shown}' must be http(s)` };
  if (useSsl && url.protocol === "http:") return { problem: `minio.endpoint '${shown}' is http:// but minio.use_ssl is true` };
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return { problem: `minio.endpoint '${shown}' must be host:port, without a path` };
  }
  if (url.username !== "" || url.password !== "") {
    // S3 requests are signed with the keys; credentials in the address would never be sent.
    return { problem: `minio.endpoint '${shown}' must not carry credentials: set minio.access_key and minio.secret_key` };
  }
  return { url: url.origin };
}

export function configError(problems: readonly string[]): KestrelError {
  return new KestrelError("ERR_CONFIG_INVALID", problems.join("; "));
}
