// Who may post events: bearer tokens (`auth.tokens`, `auth.tokens_file`) and a per-client rate limit
// (`limits.events_per_second`). Events trigger actions on a cluster, so once a token is configured nothing
// without it reaches the engine. A client that keeps failing authentication is throttled (429) for a while,
// whatever it sends: guessing costs time, and a misconfigured client's flood costs little. Checked before
// the body is read. Tokens are compared as SHA-256 digests in constant time, never logged, and the file is
// re-read when it changes (a rotated Kubernetes Secret).

import { createHash, timingSafeEqual } from "node:crypto";
import { statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { readTokensFile } from "../config/tokens.ts";
import { KestrelError } from "../errors.ts";

export interface Rejection {
  readonly status: 401 | 403 | 429;
  readonly reason: "unauthorized" | "forbidden" | "rate_limited" | "auth_throttled";
  readonly message: string;
  readonly headers: Record<string, string>;
}

export interface GuardOptions {
  tokens: readonly string[];
  tokensFile: string;
  eventsPerSecond: number;
  burst: number;
  /** How often the tokens file is checked for changes. */
  reloadIntervalMs?: number;
  /** Failed authentications one client may make in a row before it is throttled (default AUTH_FAILURE_BURST). */
  authFailureBurst?: number;
  /** Failed authentications per second a throttled client gets back (default AUTH_FAILURES_PER_SECOND). */
  authFailuresPerSecond?: number;
}

export const AUTH_FAILURE_BURST = 10;
export const AUTH_FAILURES_PER_SECOND = 1;

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

class TokenSet {
  readonly #inline: Buffer[];
  readonly #file: string;
  #fromFile: Buffer[] = [];
  #fileStamp = "";
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(tokens: readonly string[], file: string, reloadIntervalMs: number, onReloadError: (err: unknown) => void) {
    for (const t of tokens) if (t.trim() === "") throw new KestrelError("ERR_CONFIG_INVALID", "auth.tokens: a token is empty");
    this.#inline = tokens.map((t) => digest(t.trim()));
    this.#file = file;
    if (file !== "") {
      this.#load();
      if (this.#fromFile.length === 0) throw new KestrelError("ERR_CONFIG_INVALID", `auth.tokens_file: '${file}' holds no token`);
      this.#timer = setInterval(() => {
        try {
          this.#load();
        } catch (err) {
          onReloadError(err); // keep the tokens we have: a file being rewritten must not open the door
        }
      }, reloadIntervalMs);
      this.#timer.unref();
    }
  }

  get enabled(): boolean {
    return this.#inline.length > 0 || this.#file !== "";
  }

  #load(): void {
    const st = statSync(this.#file);
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (stamp === this.#fileStamp) return;
    const tokens = readTokensFile(this.#file);
    if (tokens.length === 0 && this.#fromFile.length > 0)
      throw new KestrelError("ERR_CONFIG_INVALID", `auth.tokens_file: '${this.#file}' is now empty`);
    this.#fromFile = tokens.map(digest);
    this.#fileStamp = stamp;
  }

  has(token: string): boolean {
    const d = digest(token);
    let found = false;
    // Every candidate is compared, so the time taken does not depend on which one matched.
    for (const t of this.#inline) found = timingSafeEqual(d, t) || found;
    for (const t of this.#fromFile) found = timingSafeEqual(d, t) || found;
    return found;
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}

interface Bucket {
  tokens: number;
  last: number;
}

/** Most client addresses tracked at once; beyond it the least recently added are forgotten (full buckets). */
const MAX_CLIENTS = 10_000;

class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = Math.max(1, burst > 0 ? burst : rate);
  }

  /** Clients tracked: a bucket is dropped when wait() finds it full again, or by #evict. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Like take() without taking: 0 when the client may go on. A bucket that has refilled is dropped. */
  wait(client: string, now: number): number {
    const b = this.#buckets.get(client);
    if (b === undefined) return 0;
    const tokens = Math.min(this.#burst, b.tokens + ((now - b.last) / 1000) * this.#rate);
    if (tokens >= this.#burst) this.#buckets.delete(client);
    return tokens >= 1 ? 0 : (1 - tokens) / this.#rate;
  }

  /** 0 when the client may go on, else the seconds until it may. */
  take(client: string, now: number): number {
    let b = this.#buckets.get(client);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#evict(now);
      b = { tokens: this.#burst, last: now };
      this.#buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.last) / 1000) * this.#rate);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.#rate;
  }

  /** Drops buckets that have refilled (same as absent), then the oldest ones if still too many. */
  #evict(now: number): void {
    const refill = (this.#burst / this.#rate) * 1000;
    for (const [k, b] of this.#buckets) if (now - b.last >= refill) this.#buckets.delete(k);
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_CLIENTS) break;
      this.#buckets.delete(k);
    }
  }
}

export interface IntakeGuard {
  /** Undefined when the request may go on. */
  check(req: IncomingMessage): Rejection | undefined;
  close(): void;
}

/** Why a request's Authorization header is refused: absent (401) or not one of the tokens (403). */
function tokenRejection(header: string | undefined, tokens: TokenSet): Rejection | undefined {
  if (header === undefined) {
    return {
      status: 401,
      reason: "unauthorized",
      message: "authentication required: send Authorization: Bearer <token>",
      headers: { "www-authenticate": 'Bearer realm="kestrel"' },
    };
  }
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m !== null && tokens.has(m[1]!)) return undefined;
  return {
    status: 403,
    reason: "forbidden",
    message: "the token is not accepted",
    headers: { "www-authenticate": 'Bearer realm="kestrel", error="invalid_token"' },
  };
}

export function createGuard(options: GuardOptions, onReloadError: (err: unknown) => void = () => {}): IntakeGuard | undefined {
  const tokens = new TokenSet(options.tokens, options.tokensFile, options.reloadIntervalMs ?? 2000, onReloadError);
  const limiter = options.eventsPerSecond > 0 ? new RateLimiter(options.eventsPerSecond, options.burst) : undefined;
  if (!tokens.enabled && limiter === undefined) return undefined;
  const failures = new RateLimiter(
    options.authFailuresPerSecond ?? AUTH_FAILURES_PER_SECOND,
    options.authFailureBurst ?? AUTH_FAILURE_BURST,
  );
  const client = (req: IncomingMessage): string => req.socket.remoteAddress ?? "";
  const authenticate = (req: IncomingMessage): Rejection | undefined => {
    // Only clients that failed lately have a bucket: usually the map is empty, or one lookup misses.
    // Checked before the token is looked at: a throttled client must not learn whether its guess was right.
    const wait = failures.size > 0 ? failures.wait(client(req), performance.now()) : 0;
    if (wait > 0) {
      return {
        status: 429,
        reason: "auth_throttled",
        message: "too many failed authentications from this client",
        headers: { "retry-after": String(Math.ceil(wait)) },
      };
    }
    const rejection = tokenRejection(req.headers.authorization, tokens);
    if (rejection !== undefined) failures.take(client(req), performance.now());
    return rejection;
  };
  const rateLimited = (req: IncomingMessage, rate: RateLimiter): Rejection | undefined => {
    const wait = rate.take(client(req), performance.now());
    if (wait <= 0) return undefined;
    return {
      status: 429,
      reason: "rate_limited",
      message: `more than ${options.eventsPerSecond} events per second from this client`,
      headers: { "retry-after": String(Math.ceil(wait)) },
    };
  };
  return {
    check(req): Rejection | undefined {
      const refused = tokens.enabled ? authenticate(req) : undefined;
      if (refused !== undefined || limiter === undefined) return refused;
      return rateLimited(req, limiter);
    },
    close() {
      tokens.close();
    },
  };
}
