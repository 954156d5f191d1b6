// The intake's bearer tokens as configuration holds them: inline (auth.tokens) or one per line in a file
// (auth.tokens_file). The config checks use them at load time; the intake's guard at run time and on reload.
import { readRegularFileSync } from "../files.ts";

/** Whether an Authorization header can carry the token: visible ASCII only (the header is read as Latin-1). */
export function usableToken(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token.trim());
}

/** Tokens of a file: one per line; blank lines and `#` comments ignored. Throws naming the setting. */
export function readTokensFile(path: string): string[] {
  // A regular file under the size cap: a FIFO would block the process (this read is synchronous).
  const text = readRegularFileSync(path, { setting: "auth.tokens_file" }).toString("utf8");
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
