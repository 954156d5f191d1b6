// Watches rules files for changes that matter: the folders holding them are watched (a Kubernetes
// ConfigMap volume replaces its files by swapping a `..data` symlink, which a watch on the file itself
// never sees), events are debounced, and the callback runs only when the files' contents changed (editors
// and ConfigMap updates fire several events for one change, and touching a file changes nothing).
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { dirname, resolve } from "node:path";
import { FileError, readRegularFile } from "../files.ts";

export interface RulesWatcher {
  close(): void;
}

/** A digest of the files' contents; an unreadable file counts as its error (it may come back). */
export async function contentsDigest(files: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const f of files) {
    try {
      // The loader's own checks: a FIFO put in place of a rules file must not hang the watcher either.
      hash.update(await readRegularFile(f));
    } catch (err) {
      hash.update(`unreadable ${err instanceof FileError ? err.reason : ""}`);
    }
    hash.update("\0");
  }
  return hash.digest("hex");
}

export function watchRuleFiles(
  files: readonly string[],
  onChange: () => void,
  options: { debounceMs?: number; onError?: (err: unknown) => void; initialDigest?: string } = {},
): RulesWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let known: Promise<string> = options.initialDigest !== undefined ? Promise.resolve(options.initialDigest) : contentsDigest(files);

  const check = (): void => {
    timer = undefined;
    known = known.then(async (before) => {
      const now = await contentsDigest(files);
      if (now !== before && !closed) onChange();
      return now;
    });
  };
  for (const dir of new Set(files.map((f) => dirname(resolve(f))))) {
    try {
      const w = watch(dir, { persistent: false }, () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(check, debounceMs);
      });
      w.on("error", (err) => options.onError?.(err));
      watchers.push(w);
    } catch (err) {
      options.onError?.(err);
    }
  }
  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
