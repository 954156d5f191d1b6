// Where the Google Cloud credentials come from: `gcp.credentials_path` (a JSON key file; Talon passed this
// setting's value to CredentialsFromJSON as if it were the JSON itself, a bug), else
// $GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application-default file, else the metadata server when
// running on Google Cloud. File problems and "no credentials at all" are errors at start, naming the setting.
import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { gcpMetadata } from "google-auth-library";
import { errorMessage, KestrelError } from "../../errors.ts";
import { FileError, readRegularFileSync } from "../../files.ts";
import type { GcpClientOptions, GcpSettings } from "./types.ts";

const CREDENTIAL_TYPES = new Set([
  "service_account",
  "authorized_user",
  "external_account",
  "external_account_authorized_user",
  "impersonated_service_account",
]);

export interface ServiceAccountKey {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
  readonly project_id?: string;
  readonly token_uri?: string;
}

export type CredentialSource =
  | { readonly kind: "service_account"; readonly key: ServiceAccountKey; readonly label: string }
  | { readonly kind: "other"; readonly json: Record<string, unknown>; readonly label: string }
  | { readonly kind: "default"; readonly label: string };

type Fail = (why: string, cause?: unknown) => never;

/**
 * Where the credentials come from. Reads and checks a key file now, so that a missing, unreadable or
 * malformed file stops the start with a message naming the setting; throws ERR_CONFIG_INVALID.
 */
export function resolveCredentials(settings: GcpSettings, options: GcpClientOptions = {}): CredentialSource {
  const env = options.env ?? process.env;
  const configured = settings.credentials_path ?? "";
  if (configured !== "") return readKeyFile(configured, `gcp.credentials_path "${configured}"`);
  const fromEnv = env["GOOGLE_APPLICATION_CREDENTIALS"] ?? "";
  if (fromEnv !== "") return readKeyFile(fromEnv, `$GOOGLE_APPLICATION_CREDENTIALS "${fromEnv}"`);
  const gcloudDir = env["CLOUDSDK_CONFIG"] || join(env["HOME"] || homedir(), ".config", "gcloud");
  const wellKnown = join(gcloudDir, "application_default_credentials.json");
  if (existsSync(wellKnown)) return readKeyFile(wellKnown, `gcloud's application default credentials "${wellKnown}"`);
  const metadataHost = Boolean(env["GCE_METADATA_HOST"] || env["GCE_METADATA_IP"]) || env["METADATA_SERVER_DETECTION"] === "assume-present";
  const onGoogleCloud = options.onGoogleCloud ?? (() => gcpMetadata.detectGCPResidency());
  if (metadataHost || onGoogleCloud()) return { kind: "default", label: "the metadata server's credentials" };
  throw new KestrelError(
    "ERR_CONFIG_INVALID",
    "gcp.credentials_path: the rules use Google Cloud but no credentials were found: set gcp.credentials_path to a service account JSON key (or $GOOGLE_APPLICATION_CREDENTIALS), or run Kestrel on Google Cloud",
  );
}

function readKeyFile(path: string, label: string): CredentialSource {
  const fail: Fail = (why, cause) => {
    throw new KestrelError("ERR_CONFIG_INVALID", `${label}: ${why}`, { cause });
  };
  const obj = keyFileObject(path, fail);
  const type = obj["type"];
  if (typeof type !== "string" || !CREDENTIAL_TYPES.has(type)) {
    return fail(`unknown credentials type ${JSON.stringify(type)} (expected ${[...CREDENTIAL_TYPES].join(", ")})`);
  }
  if (type !== "service_account") return { kind: "other", json: obj, label };
  return { kind: "service_account", key: serviceAccountKey(obj, fail), label };
}

function keyFileObject(path: string, fail: Fail): Record<string, unknown> {
  let text = "";
  try {
    text = readRegularFileSync(path).toString("utf8");
  } catch (err) {
    fail(`cannot read the credentials file (${err instanceof FileError ? (err.sysCode ?? err.reason) : errorMessage(err)})`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`the credentials file is not JSON (${errorMessage(err)})`, err);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("the credentials file is not a JSON object");
  return json as Record<string, unknown>;
}

function serviceAccountKey(obj: Record<string, unknown>, fail: Fail): ServiceAccountKey {
  const email = obj["client_email"];
  const key = obj["private_key"];
  if (typeof email !== "string" || email === "") return fail("the service account key has no client_email");
  if (typeof key !== "string" || key === "") return fail("the service account key has no private_key");
  try {
    createPrivateKey(key);
  } catch (err) {
    fail(`the private_key of the service account key cannot be read (${errorMessage(err)})`, err);
  }
  if (obj["token_uri"] !== undefined) checkTokenUri(obj["token_uri"], fail);
  const optional = (k: string): string | undefined => (typeof obj[k] === "string" && obj[k] !== "" ? (obj[k] as string) : undefined);
  const [keyId, project, tokenUri] = [optional("private_key_id"), optional("project_id"), optional("token_uri")];
  return {
    client_email: email,
    private_key: key,
    ...(keyId === undefined ? {} : { private_key_id: keyId }),
    ...(project === undefined ? {} : { project_id: project }),
    ...(tokenUri === undefined ? {} : { token_uri: tokenUri }),
  };
}

function checkTokenUri(value: unknown, fail: Fail): void {
  let url: URL | undefined;
  try {
    url = new URL(String(value));
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:"))
    fail(`the token_uri ${JSON.stringify(value)} is not an http(s) URL`);
}
