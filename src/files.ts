// Reading a file the configuration names (config.yaml, rules files, TLS keys, tokens, credentials, scripts):
// it must be a regular file no larger than a cap. Reading a FIFO would wait forever for a writer (opening
// one does too, so it is opened non-blocking and checked before any read), a device such as /dev/zero
// never ends, and a huge file costs seconds and gigabytes to parse. The check is made on the opened file
// (fstat), so the file read is the file checked.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { type ErrorCode, errorMessage, KestrelError } from "./errors.ts";

/** The default cap: far above any real configuration, rules or key file. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface ReadFileOptions {
  /** Larger files are refused; MAX_FILE_BYTES when omitted. */
  maxBytes?: number;
  /** The setting that names the file (`tls.cert_file`), put first in the message. */
  setting?: string;
  /** The code of the error thrown; ERR_CONFIG_INVALID when omitted. */
  code?: ErrorCode;
}

/** A file that cannot be used. `reason` says why in a few words ("no such file", "it is a named pipe
 * (FIFO), not a regular file"); `sysCode` is the system's code (ENOENT…) when the system refused it. */
export class FileError extends KestrelError {
  readonly path: string;
  readonly reason: string;
  readonly sysCode: string | undefined;

  constructor(path: string, reason: string, options: ReadFileOptions, sysCode?: string, cause?: unknown) {
    const prefix = options.setting === undefined ? "" : `${options.setting}: `;
    super(options.code ?? "ERR_CONFIG_INVALID", `${prefix}cannot read '${path}': ${reason}`, cause === undefined ? {} : { cause });
    this.path = path;
    this.reason = reason;
    this.sysCode = sysCode;
  }
}

// O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer. It changes
// nothing for regular files.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** The file's content; throws a FileError when it is missing, unreadable, not a regular file or too large. */
export async function readRegularFile(path: string, options: ReadFileOptions = {}): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    throw openError(path, err, options);
  }
  try {
    const max = options.maxBytes ?? MAX_FILE_BYTES;
    const stats = await handle.stat();
    checkStats(path, stats, max, options);
    const reader = new Collector(max);
    for (let n = -1; n !== 0; ) {
      const { buffer, offset, length } = reader.space(stats.size);
      n = (await handle.read(buffer, offset, length, null)).bytesRead;
      reader.advance(n, path, options);
    }
    return reader.content();
  } catch (err) {
    throw err instanceof FileError ? err : new FileError(path, errorMessage(err), options, (err as NodeJS.ErrnoException).code, err);
  } finally {
    await handle.close();
  }
}

/** readRegularFile for code that must stay synchronous (TLS options, the tokens file). */
export function readRegularFileSync(path: string, options: ReadFileOptions = {}): Buffer {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    throw openError(path, err, options);
  }
  try {
    const max = options.maxBytes ?? MAX_FILE_BYTES;
    const stats = fstatSync(fd);
    checkStats(path, stats, max, options);
    const reader = new Collector(max);
    for (let n = -1; n !== 0; ) {
      const { buffer, offset, length } = reader.space(stats.size);
      n = readSync(fd, buffer, offset, length, null);
      reader.advance(n, path, options);
    }
    return reader.content();
  } catch (err) {
    throw err instanceof FileError ? err : new FileError(path, errorMessage(err), options, (err as NodeJS.ErrnoException).code, err);
  } finally {
    closeSync(fd);
  }
}

/** Reads into a buffer sized from the file's size, growing it when the file grows, up to max + 1 bytes
 * (one more than the cap, to see that a file grew beyond it while being read). */
class Collector {
  readonly #limit: number;
  #buffer: Buffer | undefined;
  #total = 0;

  constructor(max: number) {
    this.#limit = max + 1;
  }

  space(size: number): { buffer: Buffer; offset: number; length: number } {
    if (this.#buffer === undefined) this.#buffer = Buffer.allocUnsafe(Math.min(size + 1, this.#limit));
    else if (this.#total === this.#buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.min(Math.max(this.#buffer.length * 2, size + 1), this.#limit));
      this.#buffer.copy(bigger, 0, 0, this.#total);
      this.#buffer = bigger;
    }
    return { buffer: this.#buffer, offset: this.#total, length: this.#buffer.length - this.#total };
  }

  advance(bytesRead: number, path: string, options: ReadFileOptions): void {
    this.#total += bytesRead;
    if (this.#total >= this.#limit) throw new FileError(path, tooLarge(this.#limit - 1), options);
  }

  content(): Buffer {
    return (this.#buffer ?? Buffer.alloc(0)).subarray(0, this.#total);
  }
}

function checkStats(path: string, stats: Stats, max: number, options: ReadFileOptions): void {
  if (stats.isDirectory()) throw new FileError(path, "it is a directory", options);
  if (!stats.isFile()) throw new FileError(path, `${kindOf(stats)}, not a regular file`, options);
  if (stats.size > max) throw new FileError(path, `${tooLarge(max)} (${sizeText(stats.size)})`, options);
}

function tooLarge(max: number): string {
  return `it is larger than the ${sizeText(max)} limit`;
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return "it is a directory";
  if (stats.isFIFO()) return "it is a named pipe (FIFO)";
  if (stats.isSocket()) return "it is a socket";
  if (stats.isCharacterDevice()) return "it is a character device";
  if (stats.isBlockDevice()) return "it is a block device";
  return "it is not a file";
}

function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

function openError(path: string, err: unknown, options: ReadFileOptions): FileError {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return new FileError(path, "no such file", options, code, err);
    case "EACCES":
    case "EPERM":
      return new FileError(path, "permission denied", options, code, err);
    case "EISDIR":
      return new FileError(path, "it is a directory", options, code, err);
    case "ENXIO":
    case "EOPNOTSUPP": {
      // A socket cannot be opened: name what it is.
      let kind = "it cannot be opened";
      try {
        kind = kindOf(statSync(path));
      } catch {
        // gone meanwhile: keep the generic words
      }
      return new FileError(path, `${kind}, not a regular file`, options, code, err);
    }
    default:
      return new FileError(path, errorMessage(err), options, code, err);
  }
}
