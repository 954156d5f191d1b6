// Who may post events: bearer tokens (`auth.tokens`, `auth.tokens_file`) and a per-client rate limit
// (`limits.events_per_second`). Events trigger actions on a cluster, so once a token is configured nothing
// without it reaches the engine. Checked before the body is read. Tokens are compared as SHA-256 digests in
// constant time, never logged, and the file is re-read when it changes (a rotated Kubernetes Secret).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { KestrelError } from "../errors.ts";

export interface Rejection {
  readonly status: 401 | 403 | 429;
  readonly reason: "unauthorized" | "forbidden" | "rate_limited";
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
}

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** Tokens of a file: one per line; blank lines and `#` comments ignored. Throws naming the setting. */
export function readTokensFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new KestrelError("ERR_CONFIG_INVALID", `auth.tokens_file: cannot read '${path}': ${(err as Error).message}`, { cause: err });
  }
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

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
    if (tokens.length === 0 && this.#fromFile.length > 0) throw new KestrelError("ERR_CONFIG_INVALID", `auth.tokens_file: '${this.#file}' is now empty`);
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

export function createGuard(options: GuardOptions, onReloadError: (err: unknown) => void = () => {}): IntakeGuard | undefined {
  const tokens = new TokenSet(options.tokens, options.tokensFile, options.reloadIntervalMs ?? 2000, onReloadError);
  const limiter = options.eventsPerSecond > 0 ? new RateLimiter(options.eventsPerSecond, options.burst) : undefined;
  if (!tokens.enabled && limiter === undefined) return undefined;
  return {
    check(req): Rejection | undefined {
      if (tokens.enabled) {
        const header = req.headers.authorization;
        if (header === undefined) {
          return {
            status: 401,
            reason: "unauthorized",
            message: "authentication required: send Authorization: Bearer <token>",
            headers: { "www-authenticate": 'Bearer realm="kestrel"' },
          };
        }
        const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
        if (m === null || !tokens.has(m[1]!)) {
          return {
            status: 403,
            reason: "forbidden",
            message: "the token is not accepted",
            headers: { "www-authenticate": 'Bearer realm="kestrel", error="invalid_token"' },
          };
        }
      }
      if (limiter !== undefined) {
        const wait = limiter.take(req.socket.remoteAddress ?? "", performance.now());
        if (wait > 0) {
          return {
            status: 429,
            reason: "rate_limited",
            message: `more than ${options.eventsPerSecond} events per second from this client`,
            headers: { "retry-after": String(Math.ceil(wait)) },
          };
        }
      }
      return undefined;
    },
    close() {
      tokens.close();
    },
  };
}
