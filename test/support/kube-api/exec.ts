// pods/exec over WebSocket with the channel protocol of kube-apiserver/kubelet: binary frames whose first
// byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close in v5). The server
// negotiates v5.channel.k8s.io when offered (else v4), sends an empty frame on the lowest writable channel
// first, never writes to a channel the client did not ask for (client-node throws "Unknown stream" and
// the process dies), treats `ff 00` as the end of stdin (v5), and ends with the Status on channel 3.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Containers } from "./fakefs.ts";
import { bytes, emptyInput, type Input, type Output, Pipe } from "./io.ts";
import { resolveContainer } from "./log.ts";
import { type Command, ExecNotFound, runProgram, type Session } from "./shell.ts";
import { badRequest } from "./status.ts";
import type { ExecLogEntry, KubeObject } from "./types.ts";

const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;

export interface ExecSessionRecord {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  protocol: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** The exit code, or undefined while running / when the runtime failed the exec. */
  exitCode?: number;
  /** The Status sent on channel 3. */
  status?: Record<string, unknown>;
}

export interface ExecOptions {
  containers: Containers;
  timeScale: number;
  execLog: ExecLogEntry[];
  sessions: ExecSessionRecord[];
  custom: ReadonlyMap<string, Command>;
}

function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v === "true" || v === "1";
}

/** The Status the kubelet reports for a finished command (remotecommand's v4 error channel format). */
export function exitStatus(code: number, command: string[]): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

function runtimeFailure(program: string): Record<string, unknown> {
  const inner = `error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: "${program}": executable file not found in $PATH: unknown`;
  return {
    metadata: {},
    status: "Failure",
    message: `Internal error occurred: ${inner}`,
    reason: "InternalError",
    details: { causes: [{ message: inner }] },
    code: 500,
  };
}

export class ExecServer {
  private readonly options: ExecOptions;
  private readonly wss: WebSocketServer;
  private readonly live = new Set<{ ws: WebSocket; controller: AbortController }>();

  constructor(options: ExecOptions) {
    this.options = options;
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
  }

  get count(): number {
    return this.live.size;
  }

  /** Checks the request like the API server does before upgrading (throws ApiError), then upgrades. */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    pod: KubeObject,
    query: URLSearchParams,
    onOpen: (protocol: string) => void,
  ): void {
    const podName = pod.metadata.name!;
    const container = resolveContainer(pod, query.get("container"));
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed")
      throw badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    if (!pod.spec?.nodeName) throw badRequest(`pod ${podName} does not have a host assigned`);
    const wants = { stdin: flag(query, "stdin"), stdout: flag(query, "stdout"), stderr: flag(query, "stderr"), tty: flag(query, "tty") };
    if (!wants.stdin && !wants.stdout && !wants.stderr) throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
    const command = query.getAll("command");
    if (command.length === 0) throw badRequest("you must specify at least one command for the container");
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      onOpen(ws.protocol);
      this.session(ws, pod, container, command, wants);
    });
  }

  private session(
    ws: WebSocket,
    pod: KubeObject,
    container: string,
    command: string[],
    wants: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  ): void {
    const namespace = pod.metadata.namespace!;
    const podName = pod.metadata.name!;
    const protocol = ws.protocol;
    const v5 = protocol === "v5.channel.k8s.io";
    const jsonStatus = v5 || protocol === "v4.channel.k8s.io";
    const record: ExecSessionRecord = { namespace, pod: podName, container, command, protocol, ...wants };
    this.options.sessions.push(record);
    const controller = new AbortController();
    const entry = { ws, controller };
    this.live.add(entry);
    let finished = false;

    const send = (channel: number, payload: Uint8Array) => {
      if (finished || ws.readyState !== ws.OPEN) return;
      ws.send(Buffer.concat([Buffer.from([channel]), payload]));
    };
    // With a TTY there is no separate stderr: the terminal carries both.
    const stderrChannel = wants.tty ? (wants.stdout ? STDOUT : undefined) : wants.stderr ? STDERR : undefined;
    const output = (channel: number | undefined): Output => ({
      write: (chunk) => {
        const b = bytes(chunk);
        if (channel !== undefined && b.length > 0) send(channel, b);
      },
    });
    const lowestWritable = wants.stdout ? STDOUT : stderrChannel !== undefined ? stderrChannel : STATUS;
    send(lowestWritable, new Uint8Array());

    const stdinPipe = wants.stdin ? new Pipe(true) : undefined;
    const stdin: Input = stdinPipe ?? emptyInput();
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return;
      const channel = data[0];
      if (channel === 0) stdinPipe?.write(data.subarray(1));
      else if (channel === CLOSE && v5 && data[1] === 0) stdinPipe?.end();
      // Channel 4 (terminal resize) has no effect on the fake processes.
    });
    ws.on("close", () => {
      finished = true;
      stdinPipe?.end();
      controller.abort();
      this.live.delete(entry);
    });
    ws.on("error", () => controller.abort());

    const state = this.options.containers.get(namespace, podName, container, pod);
    const session: Session = {
      namespace,
      pod: podName,
      container,
      state,
      timeScale: this.options.timeScale,
      custom: this.options.custom,
      log: (argv) => this.options.execLog.push({ namespace, pod: podName, container, argv: [...argv] }),
    };
    const io = { stdin, stdout: output(wants.stdout ? STDOUT : undefined), stderr: output(stderrChannel) };
    const finish = (status: Record<string, unknown>) => {
      record.status = status;
      if (jsonStatus) send(STATUS, Buffer.from(JSON.stringify(status)));
      else if (status.status !== "Success") send(STATUS, Buffer.from(String(status.message)));
      finished = true;
      if (ws.readyState === ws.OPEN) ws.close(1000);
    };
    runProgram(command, io, { ...state.env }, "/", session, controller.signal, "exec").then(
      (code) => {
        record.exitCode = code;
        finish(exitStatus(code, command));
      },
      (err: unknown) => {
        if (err instanceof ExecNotFound) finish(runtimeFailure(err.program));
        else
          finish({
            metadata: {},
            status: "Failure",
            message: `Internal error occurred: ${String(err)}`,
            reason: "InternalError",
            code: 500,
          });
      },
    );
  }

  closeAll(): void {
    for (const { ws, controller } of [...this.live]) {
      controller.abort();
      ws.terminate();
    }
    this.live.clear();
  }
}
