// An env var that would switch the intake's authentication off (or break its TLS) stops `kestrel server`
// at start, naming the variable, and `kestrel rules check` fails on it the same way: the check passes
// exactly when the server would start.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KESTREL_BIN } from "../support/process.ts";

const dir = mkdtempSync(join(tmpdir(), "kestrel-env-security-"));
const configFile = join(dir, "config.yaml");
const rulesFile = join(dir, "rules.yaml");
writeFileSync(
  configFile,
  `listen_address: 127.0.0.1\nlisten_port: 0\nwatch_rules: false\nrules_files: [${rulesFile}]\nauth:\n  tokens: [file-token-AAAA]\n`,
);
writeFileSync(
  rulesFile,
  "- rule: Act\n  match: { rules: [x] }\n  actions:\n    - action: Ok\n      actionner: local:command\n      parameters: { command: [/bin/true] }\n",
);

function kestrel(args: string[], env: Record<string, string>) {
  // The rules come from the configuration's rules_files: `rules check -r` does not read the configuration.
  return spawnSync(process.execPath, [KESTREL_BIN, ...args, "-c", configFile], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...env },
    timeout: 30_000,
  });
}

describe("an env override that leaves authentication empty", () => {
  it("stops kestrel server at start, naming the variable (the server used to start with no token)", () => {
    const r = kestrel(["server"], { AUTH_TOKENS: " , " });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^env:AUTH_TOKENS: error auth\.tokens: the variable holds no token/m);
    assert.ok(!r.stderr.includes("file-token-AAAA") && !r.stdout.includes("file-token-AAAA"), "the file's token is not shown");
  });

  it("fails kestrel rules check the same way, which passes without it", () => {
    const bad = kestrel(["rules", "check"], { AUTH_TOKENS: " , " });
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /^env:AUTH_TOKENS: error /m);
    const good = kestrel(["rules", "check"], {});
    assert.equal(good.status, 0, good.stderr);
  });
});
