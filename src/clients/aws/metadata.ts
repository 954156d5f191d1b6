// The instance metadata service (IMDSv2), for the `aws` context: the instance profile and region of the EC2
// instance Kestrel runs on.
//
// Not @aws-sdk/ec2-metadata-service: measured (3.1164.0) against the IMDS test server of
// test/support/aws.ts, its MetadataService
//   - fetches a new token before every read: 4 requests for the profile and the region instead of 3, and
//     no renewal of a refused token (the test "renews a refused token once" sees 401 → a failure);
//   - off EC2, takes 3.7 s to fail on a refused connection (3 retries, backoff 1.2^n s), where this class
//     fails in 0.06 s, and its error keeps the cause only as text ("Error: connect ECONNREFUSED …": no code);
//   - takes no AbortSignal, so an action's deadline cannot cut it;
//   - after a token request times out, falls back to IMDSv1 without a token, for good;
//   - sends `//latest/…` for a path written `/latest/…` on an endpoint without a path.
import { errorMessage, KestrelError } from "../../errors.ts";
import { connectionCode, isRetryableStatus } from "../retry.ts";
import type { InstanceMetadata } from "./types.ts";

const METADATA_TIMEOUT_MS = 2000;
const METADATA_CACHE_MS = 60_000;
const TOKEN_TTL_SECONDS = 21600;

/** The endpoint the SDK would use: $AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address of the endpoint mode. */
export function metadataEndpoint(env: NodeJS.ProcessEnv): string {
  const mode = (env["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] ?? "").toLowerCase();
  return env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] || (mode === "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254");
}

export class InstanceMetadataService {
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
    try {
      const value = await this.#lookup(AbortSignal.any([signal, deadline]));
      this.#cached = { value, until: Date.now() + METADATA_CACHE_MS };
      return value;
    } catch (err) {
      throw this.#failure(err, signal, deadline);
    }
  }

  async #lookup(signal: AbortSignal): Promise<InstanceMetadata> {
    const info = await this.#read("/latest/meta-data/iam/info", signal);
    const region = await this.#read("/latest/meta-data/placement/region", signal);
    if (region === undefined || region === "") throw new KestrelError("ERR_AWS", `${this.#endpoint} gave no placement/region`);
    let profile: { InstanceProfileArn?: unknown; InstanceProfileId?: unknown } = {};
    if (info !== undefined) {
      try {
        profile = JSON.parse(info) as typeof profile;
      } catch {
        throw new KestrelError("ERR_AWS", `${this.#endpoint} answered iam/info with something that is not JSON`);
      }
    }
    return {
      instanceProfileArn: typeof profile.InstanceProfileArn === "string" ? profile.InstanceProfileArn : "",
      instanceProfileId: typeof profile.InstanceProfileId === "string" ? profile.InstanceProfileId : "",
      region,
    };
  }

  #failure(err: unknown, signal: AbortSignal, deadline: AbortSignal): KestrelError {
    if (deadline.aborted) {
      return new KestrelError(
        "ERR_TIMEOUT",
        `the instance metadata service at ${this.#endpoint} did not answer within ${METADATA_TIMEOUT_MS / 1000} s: is Kestrel running on EC2? (in a container, IMDSv2 needs the instance's metadata hop limit ≥ 2)`,
        { cause: err },
      );
    }
    if (signal.aborted) {
      return new KestrelError(
        "ERR_TIMEOUT",
        `the request to the instance metadata service was cancelled (${errorMessage(signal.reason)})`,
        {
          cause: err,
        },
      );
    }
    if (err instanceof KestrelError) return err;
    const why = connectionCode(err) ?? errorMessage(err);
    return new KestrelError(
      "ERR_AWS",
      `the instance metadata service at ${this.#endpoint} cannot be reached (${why}): is Kestrel running on EC2?`,
      {
        cause: err,
        retryable: true,
      },
    );
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
        retryable: isRetryableStatus(res.status),
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
