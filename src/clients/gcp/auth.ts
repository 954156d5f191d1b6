// The auth side of the Google Cloud client: the auth client of the credentials (for Cloud Storage and the
// Cloud Functions API), ID tokens for function URLs, and the project the credentials belong to.
import { type AuthClient, GoogleAuth, gaxios, IdTokenClient, JWT } from "google-auth-library";
import { untilAborted } from "../../abort.ts";
import { errorMessage, KestrelError } from "../../errors.ts";
import type { CredentialSource, ServiceAccountKey } from "./credentials.ts";
import { credentialsError, GOOGLE_TOKEN_URL } from "./errors.ts";

const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
/** Function URLs come from the rules, so the ID token clients stay few; the bound guards against a surprise. */
const MAX_ID_TOKEN_CLIENTS = 100;

/**
 * The auth client for a service account key. google-auth-library sends every service-account token request
 * to Google's endpoint whatever the key's token_uri says; Go's library (and so Talon) uses token_uri, so a
 * request interceptor on the client's own transporter sends it there.
 */
function serviceAccountAuth(key: ServiceAccountKey): JWT {
  const transporter = new gaxios.Gaxios();
  const tokenUri = key.token_uri;
  if (tokenUri !== undefined && tokenUri !== GOOGLE_TOKEN_URL) {
    transporter.interceptors.request.add({
      resolved: async (config) => {
        if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
        return config;
      },
    });
  }
  return new JWT({
    email: key.client_email,
    key: key.private_key,
    ...(key.private_key_id === undefined ? {} : { keyId: key.private_key_id }),
    scopes: [CLOUD_PLATFORM],
    transporter,
  });
}

export class GcpAuth {
  /** Where the credentials come from, for messages. */
  readonly label: string;
  /** The key's own token endpoint: a failure there is the credentials' problem. */
  readonly tokenUri: string | undefined;
  /** What Cloud Storage signs its requests with. */
  readonly client: AuthClient | GoogleAuth;
  readonly #source: CredentialSource;
  readonly #env: NodeJS.ProcessEnv;
  readonly #jwt: JWT | undefined;
  readonly #auth: GoogleAuth | undefined;
  readonly #idTokenClients = new Map<string, Promise<IdTokenClient>>();
  #project: Promise<string> | undefined;

  constructor(source: CredentialSource, env: NodeJS.ProcessEnv) {
    this.#source = source;
    this.#env = env;
    this.label = source.label;
    this.tokenUri = source.kind === "service_account" ? source.key.token_uri : undefined;
    if (source.kind === "service_account") this.#jwt = serviceAccountAuth(source.key);
    else if (source.kind === "other") this.#auth = new GoogleAuth({ credentials: source.json as never, scopes: [CLOUD_PLATFORM] });
    else this.#auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
    this.client = this.#jwt ?? this.#auth!;
  }

  /** The project of the credentials: the key's project_id (or $GOOGLE_CLOUD_PROJECT), else what the default chain finds. */
  projectId(signal: AbortSignal): Promise<string> {
    const source = this.#source;
    if (source.kind === "service_account") {
      const id = source.key.project_id ?? (this.#env["GOOGLE_CLOUD_PROJECT"] || this.#env["GCLOUD_PROJECT"]);
      if (id !== undefined && id !== "") return Promise.resolve(id);
      const why = `no Google Cloud project: the key of ${this.label} has no project_id (set $GOOGLE_CLOUD_PROJECT)`;
      return Promise.reject(new KestrelError("ERR_CONFIG_INVALID", why));
    }
    this.#project ??= this.#auth!.getProjectId().catch((err: unknown) => {
      this.#project = undefined;
      const why = `no Google Cloud project in ${this.label} (set $GOOGLE_CLOUD_PROJECT): ${errorMessage(err)}`;
      throw new KestrelError("ERR_CONFIG_INVALID", why, { cause: err });
    });
    return untilAborted(this.#project, signal);
  }

  /** The Authorization header for `url`: an access token, or an ID token when `audience` is given. */
  async headers(url: string, signal: AbortSignal, audience?: string): Promise<Record<string, string>> {
    try {
      const client = audience === undefined ? this.client : await untilAborted(this.#idTokenClient(audience), signal);
      return Object.fromEntries(await untilAborted(client.getRequestHeaders(url), signal));
    } catch (err) {
      if (err instanceof KestrelError) throw err;
      throw credentialsError(err, this.label, signal, audience === undefined ? "an access token" : `an ID token for ${audience}`);
    }
  }

  #idTokenClient(audience: string): Promise<IdTokenClient> {
    let client = this.#idTokenClients.get(audience);
    if (client === undefined) {
      client =
        this.#jwt !== undefined
          ? Promise.resolve(new IdTokenClient({ targetAudience: audience, idTokenProvider: this.#jwt }))
          : this.#auth!.getIdTokenClient(audience);
      client.catch(() => this.#idTokenClients.delete(audience));
      if (this.#idTokenClients.size >= MAX_ID_TOKEN_CLIENTS) this.#idTokenClients.delete(this.#idTokenClients.keys().next().value!);
      this.#idTokenClients.set(audience, client);
    }
    return client;
  }
}
