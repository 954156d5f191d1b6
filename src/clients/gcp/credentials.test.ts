// Google Cloud credentials are found where documented, and a bad key file or endpoint setting stops the
// start naming its setting.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KestrelError } from "../../errors.ts";
import { resolveCredentials } from "./credentials.ts";
import { createGcpClient } from "./index.ts";

const NO_GCP = { storage_endpoint: "", functions_endpoint: "" };
const notOnGoogleCloud = { env: {}, onGoogleCloud: () => false };

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: KestrelError) => {
    assert.ok(err instanceof KestrelError, String(err));
    assert.equal(err.code, "ERR_CONFIG_INVALID");
    assert.match(err.message, pattern);
    return true;
  });
}

describe("GCP credentials", () => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-gcp-creds-"));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("names gcp.credentials_path and the file when it is missing, not JSON or not a key", () => {
    const missing = join(dir, "nope.json");
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: missing }, notOnGoogleCloud),
      new RegExp(`^gcp\\.credentials_path "${missing}": cannot read the credentials file \\(ENOENT\\)`),
    );
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("a.json", "{not json") }, notOnGoogleCloud),
      /^gcp\.credentials_path ".*a\.json": the credentials file is not JSON/,
    );
    configError(() => resolveCredentials({ ...NO_GCP, credentials_path: file("b.json", "[]") }, notOnGoogleCloud), /not a JSON object/);
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("c.json", '{"type":"api_key"}') }, notOnGoogleCloud),
      /unknown credentials type "api_key"/,
    );
    configError(
      () =>
        resolveCredentials(
          { ...NO_GCP, credentials_path: file("d.json", '{"type":"service_account","private_key":"x"}') },
          notOnGoogleCloud,
        ),
      /the service account key has no client_email/,
    );
    configError(
      () =>
        resolveCredentials(
          { ...NO_GCP, credentials_path: file("e.json", '{"type":"service_account","client_email":"a@b","private_key":"garbage"}') },
          notOnGoogleCloud,
        ),
      /the private_key of the service account key cannot be read/,
    );
  });

  it("prefers gcp.credentials_path to $GOOGLE_APPLICATION_CREDENTIALS and checks the key's token_uri", () => {
    const other = file("other.json", JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }));
    const broken = join(dir, "broken.json");
    assert.match(
      resolveCredentials(
        { ...NO_GCP, credentials_path: other },
        { env: { GOOGLE_APPLICATION_CREDENTIALS: broken }, onGoogleCloud: () => false },
      ).label,
      /^gcp\.credentials_path /,
    );
    const key = (tokenUri: string) =>
      JSON.stringify({
        type: "service_account",
        client_email: "a@b",
        private_key: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }),
        token_uri: tokenUri,
      });
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: file("f.json", key("ftp://x/token")) }, notOnGoogleCloud),
      /the token_uri "ftp:\/\/x\/token" is not an http\(s\) URL/,
    );
    assert.equal(
      resolveCredentials({ ...NO_GCP, credentials_path: file("g.json", key("https://oauth2.googleapis.com/token")) }, notOnGoogleCloud)
        .kind,
      "service_account",
    );
  });

  it("reads Talon's setting as a path (Talon parsed the path itself as JSON)", () => {
    // Talon users wrote a path here; the JSON content itself is not a file name.
    configError(
      () => resolveCredentials({ ...NO_GCP, credentials_path: '{"type":"service_account"}' }, notOnGoogleCloud),
      /^gcp\.credentials_path "\{"type".*cannot read the credentials file/,
    );
  });

  it("falls back to $GOOGLE_APPLICATION_CREDENTIALS, then gcloud's file, then the metadata server, else fails naming the setting", async () => {
    const userCreds = file("adc.json", JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }));
    const fromEnv = resolveCredentials(NO_GCP, { env: { GOOGLE_APPLICATION_CREDENTIALS: userCreds }, onGoogleCloud: () => false });
    assert.equal(fromEnv.kind, "other");
    assert.match(fromEnv.label, /^\$GOOGLE_APPLICATION_CREDENTIALS ".*adc\.json"$/);
    configError(
      () => resolveCredentials(NO_GCP, { env: { GOOGLE_APPLICATION_CREDENTIALS: join(dir, "gone.json") }, onGoogleCloud: () => false }),
      /^\$GOOGLE_APPLICATION_CREDENTIALS/,
    );

    const gcloud = join(dir, "gcloud");
    await mkdir(gcloud, { recursive: true });
    writeFileSync(
      join(gcloud, "application_default_credentials.json"),
      JSON.stringify({ type: "authorized_user", client_id: "x", client_secret: "y", refresh_token: "z" }),
    );
    assert.match(
      resolveCredentials(NO_GCP, { env: { CLOUDSDK_CONFIG: gcloud }, onGoogleCloud: () => false }).label,
      /gcloud's application default credentials/,
    );
    const empty = mkdtempSync(join(tmpdir(), "kestrel-home-"));
    assert.equal(resolveCredentials(NO_GCP, { env: { HOME: empty }, onGoogleCloud: () => true }).kind, "default");
    assert.equal(
      resolveCredentials(NO_GCP, { env: { HOME: empty, GCE_METADATA_HOST: "169.254.169.254" }, onGoogleCloud: () => false }).kind,
      "default",
    );
    configError(
      () => resolveCredentials(NO_GCP, { env: { HOME: empty }, onGoogleCloud: () => false }),
      /^gcp\.credentials_path: the rules use Google Cloud but no credentials were found/,
    );
  });

  it("refuses an endpoint setting that is not an http(s) URL, naming it", () => {
    configError(
      () => createGcpClient({ storage_endpoint: "ftp://x", functions_endpoint: "" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.storage_endpoint: "ftp:\/\/x" is not an http\(s\) URL/,
    );
    configError(
      () => createGcpClient({ storage_endpoint: "", functions_endpoint: "not a url" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.functions_endpoint/,
    );
    configError(
      () =>
        createGcpClient({ storage_endpoint: "https://u:s3cr3t@gcs.example", functions_endpoint: "" }, { env: { GCE_METADATA_HOST: "x" } }),
      /^gcp\.storage_endpoint: "https:\/\/\[redacted\]@gcs\.example" must not carry credentials$/,
    );
  });
});
