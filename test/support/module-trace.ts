// Which modules a child process loads, for the tests that check that a heavy library is loaded only when
// needed. moduleTrace().env makes the child preload this file (NODE_OPTIONS=--import); in a process where
// KESTREL_MODULE_TRACE is set, it registers a resolve hook that appends the URL of every module resolved
// (static and dynamic imports, require) to that file, which loaded() reads.
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TRACE_FILE = "KESTREL_MODULE_TRACE";

export interface ModuleTrace {
  /** Environment variables for the child process. */
  readonly env: Record<string, string>;
  /** The URLs of the modules the child has resolved so far that contain `part`. */
  loaded(part: string): string[];
}

export function moduleTrace(): ModuleTrace {
  const file = join(mkdtempSync(join(tmpdir(), "kestrel-modules-")), "modules.txt");
  return {
    env: { NODE_OPTIONS: `--import=${import.meta.url}`, [TRACE_FILE]: file },
    loaded: (part) =>
      existsSync(file)
        ? readFileSync(file, "utf8")
            .split("\n")
            .filter((url) => url.includes(part))
        : [],
  };
}

const traceFile = process.env[TRACE_FILE];
if (traceFile !== undefined) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (!seen.has(resolved.url)) {
        seen.add(resolved.url);
        appendFileSync(traceFile, `${resolved.url}\n`);
      }
      return resolved;
    },
  });
}
