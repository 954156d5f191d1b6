// Starts the real Prometheus Alertmanager (Debian's /usr/bin/prometheus-alertmanager) in the foreground on
// 127.0.0.1, with its own config and storage in a temporary directory, routing every alert at once
// (group_wait 0s) to a webhook receiver. Stopped by PID. Without the binary, tests skip — unless CI is
// set, where a missing binary is an error.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DebianTool, requireTool, skipReason } from "./debian.ts";
import { until } from "./wait.ts";

export const ALERTMANAGER_BIN = process.env["ALERTMANAGER_BIN"] ?? "/usr/bin/prometheus-alertmanager";
const ALERTMANAGER_TOOL: DebianTool = { command: ALERTMANAGER_BIN, pkg: "prometheus-alertmanager", env: "ALERTMANAGER_BIN" };

/** Why Alertmanager tests cannot run here (a skip message naming the package), or undefined when they can. */
export function alertmanagerSkipReason(): string | undefined {
  return skipReason(ALERTMANAGER_TOOL);
}

export interface RunningAlertmanager {
  readonly url: string;
  readonly pid: number;
  /** The alerts Alertmanager holds (GET /api/v2/alerts), optionally filtered (`alertname="x"`). */
  alerts(filter?: string): Promise<AmAlert[]>;
  stop(): Promise<void>;
}

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
  receivers: { name: string }[];
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startAlertmanager(options: { webhookUrl: string }): Promise<RunningAlertmanager> {
  requireTool(ALERTMANAGER_TOOL);
  const dir = await mkdtemp(join(tmpdir(), "kestrel-am-"));
  const config = join(dir, "am.yml");
  await writeFile(
    config,
    `route:
  receiver: webhook
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: '${options.webhookUrl}'
        send_resolved: true
`,
  );
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${config}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=${url}`,
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => {
      stderr = (stderr + c.toString("utf8")).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (await waitReady(url, child, 10_000)) {
      return {
        url,
        pid: child.pid!,
        async alerts(filter) {
          const q = filter === undefined ? "" : `?filter=${encodeURIComponent(filter)}`;
          const res = await fetch(`${url}/api/v2/alerts${q}`);
          if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
          return (await res.json()) as AmAlert[];
        },
        async stop() {
          await stopChild(child, exited);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child, exited);
    // The port may have been taken between freePort() and the bind: try another one, a few times.
    if (attempt >= 3) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`Alertmanager did not become ready:\n${stderr}`);
    }
  }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const ready = async (): Promise<boolean> => {
    try {
      return (await fetch(`${url}/-/ready`)).ok;
    } catch {
      return false; // not listening yet
    }
  };
  const exited = (): string | undefined => (child.exitCode === null ? undefined : "Alertmanager exited");
  return until(ready, "Alertmanager to be ready", timeoutMs, { intervalMs: 25, failIf: exited }).then(
    () => true,
    () => false,
  );
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  process.kill(child.pid!, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
  }, 3000);
  await exited;
  clearTimeout(timer);
}
