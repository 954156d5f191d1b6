import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { laterBy } from "../../test/support/clock.ts";
import { readTokensFile } from "../config/tokens.ts";
import { KestrelError } from "../errors.ts";
import { createGuard } from "./guard.ts";

const request = (client: string, authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization }, socket: { remoteAddress: client } }) as unknown as IncomingMessage;

describe("intake guard", () => {
  it("is absent when nothing is configured", () => {
    assert.equal(createGuard({ tokens: [], tokensFile: "", eventsPerSecond: 0, burst: 0 }), undefined);
  });

  it("reads a tokens file: one per line, comments and blank lines ignored; a missing file names the setting", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-guard-"));
    await writeFile(join(dir, "t"), "# rotated 2026-11-23\n  alpha  \n\nbeta\n");
    assert.deepEqual(readTokensFile(join(dir, "t")), ["alpha", "beta"]);
    assert.throws(
      () => readTokensFile(join(dir, "missing")),
      (e: unknown) => e instanceof KestrelError && /auth\.tokens_file/.test(e.message),
    );
    // A FIFO is refused at once: this synchronous read would otherwise block the whole process.
    execFileSync("mkfifo", [join(dir, "pipe")]);
    assert.throws(() => readTokensFile(join(dir, "pipe")), {
      message: `auth.tokens_file: cannot read '${join(dir, "pipe")}': it is a named pipe (FIFO), not a regular file`,
    });
    await writeFile(join(dir, "empty"), "# nothing yet\n");
    assert.throws(() => createGuard({ tokens: [], tokensFile: join(dir, "empty"), eventsPerSecond: 0, burst: 0 }), /holds no token/);
    assert.throws(() => createGuard({ tokens: [" "], tokensFile: "", eventsPerSecond: 0, burst: 0 }), /a token is empty/);
  });

  it("checks the token before the rate: a refused token does not use the client's budget", () => {
    const guard = createGuard({ tokens: ["t0ken"], tokensFile: "", eventsPerSecond: 1, burst: 1 })!;
    assert.equal(guard.check(request("10.0.0.1", "Bearer wrong"))?.status, 403);
    assert.equal(guard.check(request("10.0.0.1", "Bearer t0ken")), undefined);
    assert.equal(guard.check(request("10.0.0.1", "Bearer t0ken"))?.status, 429);
    guard.close();
  });

  it("throttles a client that keeps failing authentication, before looking at its token, and lets it back at the rate", (t) => {
    const guard = createGuard({
      tokens: ["t0ken"],
      tokensFile: "",
      eventsPerSecond: 0,
      burst: 0,
      authFailureBurst: 3,
      authFailuresPerSecond: 10,
    })!;
    for (let i = 0; i < 5; i++) assert.equal(guard.check(request("10.0.0.1", "Bearer t0ken")), undefined, "successes cost nothing");
    assert.equal(guard.check(request("10.0.0.1"))?.status, 401);
    assert.equal(guard.check(request("10.0.0.1", "Bearer wrong"))?.status, 403);
    assert.equal(guard.check(request("10.0.0.1", "Bearer wrong"))?.status, 403);
    const throttled = guard.check(request("10.0.0.1", "Bearer t0ken"));
    assert.equal(throttled?.status, 429, "even the right token: a guess must not tell whether it was right");
    assert.equal(throttled.reason, "auth_throttled");
    assert.equal(throttled.headers["retry-after"], "1");
    assert.doesNotMatch(JSON.stringify(throttled), /t0ken|wrong/);
    assert.equal(guard.check(request("10.0.0.2", "Bearer t0ken")), undefined, "another client is not throttled");
    laterBy(t, 150); // one failure back every 100 ms
    assert.equal(guard.check(request("10.0.0.1", "Bearer t0ken")), undefined);
    guard.close();
  });

  it("does not throttle without tokens: the rate limit alone has no failures to count", () => {
    const guard = createGuard({ tokens: [], tokensFile: "", eventsPerSecond: 1000, burst: 1000, authFailureBurst: 1 })!;
    for (let i = 0; i < 5; i++) assert.equal(guard.check(request("10.0.0.1", "Bearer anything")), undefined);
  });

  it("forgets the oldest clients beyond 10,000 addresses, so memory stays bounded", () => {
    const guard = createGuard({ tokens: [], tokensFile: "", eventsPerSecond: 0.001, burst: 1 })!;
    assert.equal(guard.check(request("192.0.2.1")), undefined);
    assert.equal(guard.check(request("192.0.2.1"))?.status, 429, "its one event is spent for 1000 s");
    for (let i = 0; i < 10_000; i++) guard.check(request(`10.${i >> 8}.${i & 255}.1`));
    assert.equal(guard.check(request("192.0.2.1")), undefined, "forgotten: a fresh bucket");
    const wait = guard.check(request("192.0.2.1"));
    assert.equal(wait?.status, 429);
    assert.equal(wait.headers["retry-after"], "1000");
  });
});
