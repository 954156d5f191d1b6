// The Debian programs some tests run for real (rsyslogd, Alertmanager, nats-server, promtool). Where one is
// missing, the tests that need it are skipped with a message that names the package to install; under CI
// (which installs them all: scripts/test.sh) they run anyway and fail with the same message.
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

export interface DebianTool {
  /** An absolute path, or a command name looked up on PATH. */
  readonly command: string;
  /** The Debian package that installs it. */
  readonly pkg: string;
  /** The env var that points at another binary, if any. */
  readonly env?: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The tool's executable path, or undefined when it is not installed. */
export function locate(tool: DebianTool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (isAbsolute(tool.command)) return executable(tool.command) ? tool.command : undefined;
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (dir !== "" && executable(join(dir, tool.command))) return join(dir, tool.command);
  }
  return undefined;
}

/** "rsyslogd is not installed (Debian package rsyslog): …": what to do about a missing tool. */
export function missingMessage(tool: DebianTool): string {
  const other = tool.env === undefined ? "" : `, or set ${tool.env} to another binary`;
  return `${tool.command} is not installed (Debian package ${tool.pkg}): apt-get install ${tool.pkg}, or run ./kestrel test as root${other}`;
}

/** Why the tests that need `tool` cannot run here (a skip message naming the package), or undefined when
 * they can, or when CI is set: there a missing tool fails the tests (see requireTool). */
export function skipReason(tool: DebianTool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (locate(tool, env) !== undefined) return undefined;
  if (env["CI"]) return undefined;
  return missingMessage(tool);
}

/** The tool's path; throws the message naming the package when it is missing (instead of a spawn ENOENT). */
export function requireTool(tool: DebianTool, env: NodeJS.ProcessEnv = process.env): string {
  const path = locate(tool, env);
  if (path === undefined) throw new Error(missingMessage(tool));
  return path;
}

/** promtool, which checks the /metrics exposition format. */
export const PROMTOOL: DebianTool = { command: "promtool", pkg: "prometheus" };
