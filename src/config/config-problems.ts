// The diagnostics of one configuration load, each at the place that caused it: the key or value as
// written in the file (original case, aliases), or `env:NAME` when an environment variable set it.
import type { z } from "zod";
import type { ErrorCode } from "../errors.ts";
import type { Diagnostic, Position, YamlPath, YamlSource } from "../yaml/source.ts";
import { didYouMean } from "../yaml/source.ts";
import type { EnvOverlay } from "./env-overlay.ts";
import { writtenPath } from "./read-yaml.ts";
import { knownKeysAt, type Obj, pathText } from "./shape.ts";

export class ConfigProblems {
  readonly diagnostics: Diagnostic[] = [];
  readonly #file: string;
  readonly #source: YamlSource | undefined;
  /** The document as written, for turning normalised paths back into positions. */
  readonly #document: Obj;
  readonly #overlay: EnvOverlay;

  constructor(file: string, source: YamlSource | undefined, document: Obj, overlay: EnvOverlay) {
    this.#file = file;
    this.#source = source;
    this.#document = document;
    this.#overlay = overlay;
  }

  error(at: Position, message: string, code: ErrorCode = "ERR_CONFIG_INVALID"): void {
    this.diagnostics.push({ ...at, severity: "error", code, message });
  }

  warn(at: Position, message: string): void {
    this.diagnostics.push({ ...at, severity: "warning", code: "ERR_CONFIG_INVALID", message });
  }

  /** A problem of the file as a whole (it cannot be read). */
  fileError(message: string): void {
    this.error({ file: this.#file, line: 0, column: 0 }, message);
  }

  duplicate(path: YamlPath): void {
    const key = String(path[path.length - 1]);
    this.error(this.whereKey(path), `duplicate key "${key}" (keys are case-insensitive, as in Talon)`);
  }

  /** Zod issues under `prefix`, each at its value (an unknown key at the key, with did-you-mean). */
  reportIssues(issues: readonly z.core.$ZodIssue[], prefix: YamlPath, code: ErrorCode): void {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path.map(pathSegment)];
      const branch = issue.code === "invalid_union" ? matchedBranch(issue.errors) : undefined;
      if (branch !== undefined) this.reportIssues(branch, path, code);
      else if (issue.code === "unrecognized_keys") this.#unknownKeys(path, issue.keys, code);
      else {
        const where = path.length === 0 ? "" : `${this.writtenKey(path)}: `;
        this.error(this.where(path), `${where}${issue.message}`, code);
      }
    }
  }

  #unknownKeys(path: YamlPath, keys: readonly string[], code: ErrorCode): void {
    const candidates = knownKeysAt(path);
    for (const key of keys) {
      const shown = this.writtenKey([...path, key]);
      this.error(this.whereKey([...path, key]), `unknown key "${shown}"${didYouMean(key, candidates)}`, code);
    }
  }

  /** Where the value of `path` is. */
  where(path: YamlPath): Position {
    return this.#position(path, false);
  }

  /** Where the key of `path` is. */
  whereKey(path: YamlPath): Position {
    return this.#position(path, true);
  }

  /** The dotted path as the user wrote it (original case, aliases). */
  writtenKey(path: YamlPath): string {
    return pathText(writtenPath(this.#document, path).path);
  }

  /** The notifier name as written under `notifiers:`. */
  writtenNotifier(name: string): string {
    return String(writtenPath(this.#document, ["notifiers", name]).path[1] ?? name);
  }

  /** Diagnostics of the file in line order, then those of env vars. */
  sorted(): Diagnostic[] {
    const rank = (d: Diagnostic) => (d.file === this.#file ? 0 : 1);
    return [...this.diagnostics].sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 ? a.line - b.line || a.column - b.column : 0));
  }

  #position(path: YamlPath, key: boolean): Position {
    const written = writtenPath(this.#document, path);
    const env = this.#overlay.variableFor(path, written.found);
    if (env !== undefined) return { file: `env:${env}`, line: 0, column: 0 };
    if (this.#source === undefined) return { file: this.#file, line: 0, column: 0 };
    return key ? this.#source.locateKey(written.path) : this.#source.locate(written.path);
  }
}

/** The issues of the one union branch whose type the value had (all its issues are below the value,
 * like a list with one bad item), so that the problem is reported where it is; else undefined. */
function matchedBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const deep = branches.filter((b) => b.length > 0 && b.every((i) => i.path.length > 0));
  return deep.length === 1 ? deep[0] : undefined;
}

function pathSegment(seg: PropertyKey): string | number {
  return typeof seg === "number" ? seg : String(seg);
}
