// A real nats-server (Debian `nats-server`) with JetStream, in the foreground on a free loopback port, its
// store in a temporary folder. It can be stopped and started again on the same port and store (a NATS
// restart: the stream and its messages survive), and is always stopped by PID.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DebianTool, requireTool, skipReason } from "./debian.ts";
import { until } from "./wait.ts";

export const NATS_SERVER =
  process.env["NATS_SERVER_BIN"] ?? (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "/usr/bin/nats-server");

const NATS_TOOL: DebianTool = { command: NATS_SERVER, pkg: "nats-server", env: "NATS_SERVER_BIN" };

/** Why NATS tests cannot run here (a skip message naming the package), or undefined when they can. */
export function natsSkipReason(): string | undefined {
  return skipReason(NATS_TOOL);
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL); the store stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startNats(): Promise<NatsServer> {
  requireTool(NATS_TOOL);
  const dir = await mkdtemp(join(tmpdir(), "kestrel-nats-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";

  const start = async (): Promise<void> => {
    child = spawn(NATS_SERVER, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir, "-n", `kestrel-test-${port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const proc = child;
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    await until(async () => (await reachable(port)) && /Server is ready/.test(output), "nats-server to start", 10_000, {
      intervalMs: 25,
      failIf: () => (proc.exitCode === null ? undefined : `nats-server exited (${proc.exitCode})`),
      detail: () => output,
    });
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid!, "SIGTERM");
    const timer = setTimeout(() => proc.exitCode === null && proc.signalCode === null && process.kill(proc.pid!, "SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    output = "";
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
