// Secrets never leave the process through what Kestrel shows: logs, errors, `rules print`. Values under
// secret keys are replaced, and so are the credentials of URLs (`https://user:pass@host`,
// `nats://token@host`) wherever they appear. This module sits below everything that shows or sends a URL
// (the HTTP client, the logger, the cluster, `rules print`), so it imports nothing from Kestrel.

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** Keys whose values are never shown, wherever they appear (compared in lower case). */
export const secretKeys: ReadonlySet<string> = new Set([
  "password",
  "api_key",
  "apikey",
  "x-api-key",
  "token",
  "secret",
  "secret_key",
  "access_key",
  "webhook_url",
  "routing_key",
  "custom_headers",
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
]);

/** Key suffixes that mark a secret too (`smtp_password`, `bearer_token`, `client_secret`). */
const secretSuffixes = ["_password", "_token", "_secret"] as const;

/** How deep redaction looks into objects; deeper values are kept as they are. */
const MAX_DEPTH = 8;

// The userinfo of a URL: from `scheme://` to the last `@` before the host. Quotes, backslashes and
// whitespace end it, so that in a JSON line it never reaches into the next string.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>\\]*@/gi;

/** `text` with the credentials of every URL in it replaced: `https://[redacted]@host/…`. */
export function redactCredentials(text: string): string {
  // Most texts have no `@`: they are returned without running the expression.
  return text.includes("@") ? text.replace(USERINFO, `$1${REDACTED}@`) : text;
}

export interface UrlCredentials {
  /** The URL without its credentials. */
  url: string;
  /** Decoded user name ("" when the URL has a password only). */
  username: string;
  /** Decoded password ("" when the URL has a user name only, like NATS's `nats://token@host`). */
  password: string;
}

/** Splits the credentials off a URL; undefined when it has none (or is not a URL). */
export function splitCredentials(url: string): UrlCredentials | undefined {
  if (!url.includes("@")) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.username === "" && u.password === "") return undefined;
  const username = safeDecode(u.username);
  const password = safeDecode(u.password);
  u.username = "";
  u.password = "";
  return { url: u.href, username, password };
}

/** The `Authorization: Basic` value for a user and password (RFC 7617: user-id ":" password, UTF-8). */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Returns `value` with every secret replaced by "[redacted]": the values of `secretKeys`, and the URL
 * credentials in any text. Objects without secrets are returned as they are (no copy), objects with some
 * are copied along the path to them. The `url` of each notifier's settings (`notifiers.<name>.url`) is a
 * secret too: webhook URLs carry tokens. */
export function redactSecrets<T extends object>(value: T): T {
  return redactObject(value as Record<string, unknown>, 0, Scope.Plain) as T;
}

// Plain numbers rather than an enum: erasable syntax only.
const Scope = { Plain: 0, NotifierMap: 1, NotifierSettings: 2 } as const;
type Scope = (typeof Scope)[keyof typeof Scope];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  if (secretKeys.has(k)) return true;
  for (const suffix of secretSuffixes) if (k.endsWith(suffix)) return true;
  return false;
}

function isSecret(key: string, scope: Scope): boolean {
  return isSecretKey(key) || (scope === Scope.NotifierSettings && key.toLowerCase() === "url");
}

function childScope(key: string, scope: Scope): Scope {
  if (scope === Scope.NotifierMap) return Scope.NotifierSettings;
  return key === "notifiers" ? Scope.NotifierMap : Scope.Plain;
}

function redactValue(value: unknown, depth: number, scope: Scope): unknown {
  if (typeof value === "string") return redactCredentials(value);
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactValue(value[i], depth + 1, scope);
      if (next !== value[i]) {
        out ??= [...value];
        out[i] = next;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // Error, Date, Buffer, class instances
  return redactObject(value as Record<string, unknown>, depth, scope);
}

function redactObject(obj: Record<string, unknown>, depth: number, scope: Scope): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const v = obj[key];
    let next = v;
    if (v !== undefined && v !== null && isSecret(key, scope)) next = REDACTED;
    else if (typeof v === "string") next = redactCredentials(v);
    else if (typeof v === "object" && v !== null) next = redactValue(v, depth + 1, childScope(key, scope));
    if (next !== v) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}
