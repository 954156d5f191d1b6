// Files named by the configuration: only regular files under the size cap are read. A FIFO, a device or a
// directory is refused at once (a FIFO used to hang the loader forever), a large file without reading it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileError, MAX_FILE_BYTES, readRegularFile, readRegularFileSync } from "./files.ts";

describe("readRegularFile", () => {
  let dir: string;
  let fifo: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kestrel-files-"));
    fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const both = async (path: string, options: Parameters<typeof readRegularFile>[1] = {}): Promise<[unknown, unknown]> => {
    const outcome = (f: () => unknown) => {
      try {
        return f();
      } catch (err) {
        return err;
      }
    };
    return [await readRegularFile(path, options).catch((err: unknown) => err), outcome(() => readRegularFileSync(path, options))];
  };

  it("reads a regular file", async () => {
    const file = join(dir, "ok.yaml");
    await writeFile(file, "a: 1\n");
    for (const got of await both(file)) assert.equal((got as Buffer).toString("utf8"), "a: 1\n");
  });

  it("refuses a FIFO at once instead of waiting for a writer, naming the setting", async () => {
    const started = Date.now();
    for (const err of await both(fifo, { setting: "auth.tokens_file" })) {
      assert.ok(err instanceof FileError);
      assert.equal(err.message, `auth.tokens_file: cannot read '${fifo}': it is a named pipe (FIFO), not a regular file`);
      assert.equal(err.code, "ERR_CONFIG_INVALID");
    }
    assert.ok(Date.now() - started < 2000);
  });

  it("refuses a device, a directory and a missing file, with the code asked for", async () => {
    for (const err of await both("/dev/zero", { code: "ERR_ACTION" })) {
      assert.equal((err as FileError).reason, "it is a character device, not a regular file");
      assert.equal((err as FileError).code, "ERR_ACTION");
    }
    for (const err of await both(dir)) assert.equal((err as FileError).reason, "it is a directory");
    for (const err of await both(join(dir, "nope"))) {
      assert.equal((err as FileError).reason, "no such file");
      assert.equal((err as FileError).sysCode, "ENOENT");
    }
  });

  it("refuses a file larger than the cap without reading it", async () => {
    const big = join(dir, "big.yaml");
    await writeFile(big, "");
    await truncate(big, MAX_FILE_BYTES + 1); // sparse: nothing is written
    for (const err of await both(big)) assert.equal((err as FileError).reason, "it is larger than the 16 MiB limit (16 MiB)");
    const small = join(dir, "small.yaml");
    await writeFile(small, "x".repeat(100));
    for (const err of await both(small, { maxBytes: 99 })) assert.match((err as FileError).reason, /^it is larger than the 99 bytes limit/);
    for (const got of await both(small, { maxBytes: 100 })) assert.equal((got as Buffer).length, 100);
  });
});
