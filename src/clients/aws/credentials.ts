// AWS credentials, as Talon documents them: the static keys `aws.access_key` + `aws.secret_key`; with
// `aws.role_arn`, those (or the SDK's default chain) are used to assume the role through STS (with
// `aws.external_id`), and the role's credentials are renewed before they expire; with neither, the SDK's
// default chain (environment, profile, web identity, ECS, EC2 instance profile). Talon used the static keys
// only when `aws.region` was set too and silently fell back to the default chain otherwise; Kestrel uses
// them whenever both keys are set, and a key without its partner is an error naming the missing setting.
import { randomBytes } from "node:crypto";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromNodeProviderChain, fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { errorMessage, KestrelError } from "../../errors.ts";
import { awsError } from "./errors.ts";
import { present } from "./settings.ts";
import type { AwsSettings } from "./types.ts";

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

type CredentialProvider = () => Promise<Credentials>;

/** Where the credentials come from, as said in error messages. */
export interface CredentialSource {
  readonly provider: CredentialProvider;
  /** "the static keys aws.access_key and aws.secret_key", … */
  readonly description: string;
  /** What a start-up failure to get them names: the role setting, else the source. */
  readonly setting: string;
}

/** How every SDK client connects: a refused or silent address fails in seconds, not the OS's minutes. */
export const SDK_COMMON = { requestHandler: { connectionTimeout: 5000 } } as const;

/** Where STS is asked (AssumeRole, GetCallerIdentity). */
export interface StsTarget {
  readonly region: string;
  readonly endpoint?: string | undefined;
}

/** Role credentials are renewed this long before they expire (the SDK clients use the same margin). */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
const ROLE_SESSION_SECONDS = 3600;
const STS_TIMEOUT_MS = 15_000;

const DEFAULT_CHAIN =
  "the SDK's default credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, ECS or EC2 instance role)";

/** The credentials the settings name (the role is assumed on first use, not here). */
export function credentialSource(aws: AwsSettings, sts: StsTarget): CredentialSource {
  const base: CredentialSource =
    present(aws.access_key) && present(aws.secret_key)
      ? {
          provider: () => Promise.resolve({ accessKeyId: aws.access_key!, secretAccessKey: aws.secret_key! }),
          description: "the static keys aws.access_key and aws.secret_key",
          setting: "the static keys aws.access_key and aws.secret_key",
        }
      : { provider: fromNodeProviderChain(), description: DEFAULT_CHAIN, setting: DEFAULT_CHAIN };
  return present(aws.role_arn) ? assumedRole(aws.role_arn, present(aws.external_id) ? aws.external_id : undefined, base, sts) : base;
}

/** The SDK's fromTemporaryCredentials (AssumeRole with `base`), its failures named, its credentials shared. */
function assumedRole(roleArn: string, externalId: string | undefined, base: CredentialSource, sts: StsTarget): CredentialSource {
  const assume = fromTemporaryCredentials({
    masterCredentials: base.provider,
    params: {
      RoleArn: roleArn,
      // One name per process: CloudTrail shows which Kestrel acted.
      RoleSessionName: `kestrel-${randomBytes(4).toString("hex")}`,
      DurationSeconds: ROLE_SESSION_SECONDS,
      ...(externalId === undefined ? {} : { ExternalId: externalId }),
    },
    clientConfig: {
      region: sts.region,
      ...(sts.endpoint === undefined ? {} : { endpoint: sts.endpoint }),
      requestHandler: { ...SDK_COMMON.requestHandler, requestTimeout: STS_TIMEOUT_MS },
    },
  });
  const settings = externalId === undefined ? "aws.role_arn" : "aws.role_arn with aws.external_id";
  const ctx = {
    what: `assume the role '${roleArn}' (${settings}) with ${base.description}`,
    permission: `sts:AssumeRole on ${roleArn}, and a trust policy of the role that lets this identity${externalId === undefined ? "" : " with this external id"} assume it`,
    credentials: base.description,
  };
  const named: CredentialProvider = async () => {
    try {
      return await assume();
    } catch (err) {
      throw awsError(err, ctx);
    }
  };
  return {
    provider: sharedUntilExpiry(named),
    description: `the role aws.role_arn '${roleArn}' assumed with ${base.description}`,
    setting: "aws.role_arn",
  };
}

/**
 * Keeps the credentials of `provider` until REFRESH_MARGIN_MS before they expire; callers during a renewal
 * share it, and a failed attempt is not kept (the next call tries again). Every SDK client memoizes its
 * credentials on its own: without this, each of them (S3 per region, Lambda, the STS check) would assume
 * the role for itself.
 */
function sharedUntilExpiry(provider: CredentialProvider): CredentialProvider {
  let current: Promise<Credentials> | undefined;
  let renewAt = 0;
  return () => {
    if (current !== undefined && Date.now() < renewAt) return current;
    const attempt = provider();
    current = attempt;
    renewAt = Number.POSITIVE_INFINITY; // no second renewal while this one runs
    attempt.then(
      (c) => {
        if (current === attempt)
          renewAt = c.expiration === undefined ? Number.POSITIVE_INFINITY : c.expiration.getTime() - REFRESH_MARGIN_MS;
      },
      () => {
        if (current !== attempt) return;
        current = undefined;
        renewAt = 0;
      },
    );
    return attempt;
  };
}

/** Gets the credentials (assuming the role) and asks STS whose they are; throws ERR_CONFIG_INVALID naming the setting at fault. */
export async function verifyCredentials(source: CredentialSource, sts: StsTarget): Promise<string> {
  try {
    await source.provider();
  } catch (err) {
    throw new KestrelError("ERR_CONFIG_INVALID", startProblem(err, source.setting), { cause: err });
  }
  const signal = AbortSignal.timeout(STS_TIMEOUT_MS);
  try {
    const client = new STSClient({
      ...SDK_COMMON,
      region: sts.region,
      credentials: source.provider,
      ...(sts.endpoint === undefined ? {} : { endpoint: sts.endpoint }),
    });
    const who = await client.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
    return who.Arn ?? "";
  } catch (err) {
    if (signal.aborted) {
      throw new KestrelError(
        "ERR_CONFIG_INVALID",
        `cannot verify the AWS credentials: STS did not answer within ${STS_TIMEOUT_MS / 1000} s`,
        { cause: err },
      );
    }
    const ctx = { what: "verify the AWS credentials with STS GetCallerIdentity", permission: "none", credentials: source.description };
    throw new KestrelError("ERR_CONFIG_INVALID", awsError(err, ctx).message, { cause: err });
  }
}

/** The start-up message for credentials that could not be had. */
function startProblem(err: unknown, from: string): string {
  const name = (err as { name?: unknown })?.name;
  if (name === "CredentialsProviderError") {
    return `no AWS credentials: set aws.access_key and aws.secret_key, or aws.role_arn, or give them to ${DEFAULT_CHAIN} (${errorMessage(err)})`;
  }
  return err instanceof KestrelError ? err.message : `cannot get AWS credentials from ${from}: ${errorMessage(err)}`;
}
