// Sends each notification as a syslog message (RFC 5424 or RFC 3164) over UDP, TCP, TLS or a Unix stream
// socket, like Falco's syslog_output (facility LOG_USER, severity from the priority) but to any server.
// Severity: an event's priority (Emergency 0 … Debug 7); for results, failure → err (3), else the event's
// priority. TCP/TLS/Unix connections are kept and re-established after an error (the send is retryable).
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { connect as netConnect, type Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { z } from "zod";
import { errorMessage, KestrelError } from "../errors.ts";
import { readRegularFileSync } from "../files.ts";
import { defineNotifier } from "../plugins/define.ts";
import type { Notification } from "../plugins/types.ts";
import { formatLine } from "./_payload.ts";

export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;

type Facility = keyof typeof FACILITIES;

/** 0 (emerg) … 7 (debug): a failed result is err, anything else has the event's priority. */
export function severityOf(n: Notification): number {
  if (n.kind !== "event" && n.status === "failure") return 3;
  return n.event.priorityLevel;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A header field of RFC 5424: printable US-ASCII without spaces, at most `max` characters, "-" if empty. */
function headerField(value: string, max: number): string {
  const v = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return v === "" ? "-" : v;
}

export interface SyslogFormat {
  readonly rfc: "5424" | "3164";
  readonly facility: Facility;
  readonly hostname: string;
  readonly appName: string;
  readonly format: "json" | "text";
  readonly pid?: number;
}

/** The syslog message (without transport framing) for one notification. */
export function syslogMessage(n: Notification, f: SyslogFormat, now: Date = n.time): string {
  const pri = FACILITIES[f.facility] * 8 + severityOf(n);
  const body = formatLine(n, f.format);
  const pid = f.pid ?? process.pid;
  if (f.rfc === "5424") {
    // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG; MSGID is the notification kind.
    return `<${pri}>1 ${now.toISOString()} ${headerField(f.hostname, 255)} ${headerField(f.appName, 48)} ${pid} ${n.kind} - ${body}`;
  }
  // <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG, local time as BSD syslog (and glibc) write it.
  const ts = `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, " ")} ${[now.getHours(), now.getMinutes(), now.getSeconds()]
    .map((x) => String(x).padStart(2, "0"))
    .join(":")}`;
  const tag = f.appName.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 32) || "kestrel";
  return `<${pri}>${ts} ${headerField(f.hostname, 255)} ${tag}[${pid}]: ${body}`;
}

/** Frames a message for a stream transport: RFC 6587 octet counting (`<len> <msg>`) or a trailing LF. */
export function frame(message: string, framing: "octet-counting" | "newline"): Buffer {
  const msg = Buffer.from(message, "utf8");
  if (framing === "newline") return Buffer.concat([msg, Buffer.from("\n")]);
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}

const params = z.strictObject({
  transport: z.enum(["udp", "tcp", "tls", "unix"]).default("udp").describe("udp, tcp, tls (RFC 5425) or unix (a Unix stream socket)"),
  host: z.string().min(1).default("localhost").describe("syslog server (udp, tcp, tls)"),
  port: z.number().int().min(1).max(65535).optional().describe("server port (default 514; 6514 for tls)"),
  path: z.string().min(1).default("/dev/log").describe("socket path for the unix transport (a stream socket)"),
  rfc: z.coerce
    .string()
    .pipe(z.enum(["5424", "3164"]))
    .default("5424")
    .describe("message format: 5424 or 3164 (BSD)"),
  facility: z
    .enum(Object.keys(FACILITIES) as [Facility, ...Facility[]])
    .default("user")
    .describe("syslog facility (Falco uses user)"),
  app_name: z.string().min(1).default("kestrel").describe("APP-NAME (5424) or TAG (3164)"),
  hostname: z.string().min(1).default(osHostname()).describe("HOSTNAME of the messages (default: this machine's)"),
  framing: z
    .enum(["octet-counting", "newline"])
    .default("octet-counting")
    .describe("message framing over tcp, tls and unix: RFC 6587 octet counting or one message per line"),
  format: z.enum(["json", "text"]).default("json").describe("message body: Talon's JSON or one readable line"),
  ca_file: z.string().optional().describe("PEM CA bundle to verify the tls server (default: the system's)"),
  insecure_skip_verify: z.boolean().default(false).describe("tls: do not verify the server certificate"),
  timeout_seconds: z.number().positive().default(5).describe("deadline to connect (Kestrel addition)"),
  max_buffer_bytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024)
    .describe("bytes waiting on a stream connection before new messages fail (Kestrel addition)"),
});

type Settings = z.output<typeof params>;

function sendError(what: string, err: unknown, retryable = true): KestrelError {
  return new KestrelError("ERR_NOTIFY", `syslog: ${what}: ${errorMessage(err)}`, { cause: err, retryable });
}

/** Node's codes for a server certificate that does not verify (OpenSSL's X509 errors, the host name check). */
function isCertificateError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  return code === "ERR_TLS_CERT_ALTNAME_INVALID" || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
}

interface Transport {
  send(message: string, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

class UdpTransport implements Transport {
  readonly #host: string;
  readonly #port: number;
  #socket: Promise<{ socket: UdpSocket; address: string }> | undefined;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  #open(): Promise<{ socket: UdpSocket; address: string }> {
    this.#socket ??= lookup(this.#host).then(({ address, family }) => {
      const socket = createSocket(family === 6 ? "udp6" : "udp4");
      socket.on("error", () => {
        this.#socket = undefined;
        socket.close();
      });
      socket.unref();
      return { socket, address };
    });
    const opened = this.#socket;
    opened.catch(() => {
      if (this.#socket === opened) this.#socket = undefined;
    });
    return opened;
  }

  async send(message: string): Promise<void> {
    let s: { socket: UdpSocket; address: string };
    try {
      s = await this.#open();
    } catch (err) {
      throw sendError(`cannot resolve ${this.#host}`, err);
    }
    await new Promise<void>((resolve, reject) => {
      s.socket.send(Buffer.from(message, "utf8"), this.#port, s.address, (err) => {
        if (err === null || err === undefined) return resolve();
        // A message larger than a datagram never fits; anything else (refused, unreachable) may pass later.
        reject(sendError(`cannot send to ${this.#host}:${this.#port}`, err, (err as NodeJS.ErrnoException).code !== "EMSGSIZE"));
      });
    });
  }

  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = undefined;
    if (s === undefined) return;
    try {
      (await s).socket.close();
    } catch {
      // never opened
    }
  }
}

class StreamTransport implements Transport {
  readonly #s: Settings;
  readonly #port: number;
  #conn: Promise<Socket> | undefined;
  #closing = false;

  constructor(settings: Settings, port: number) {
    this.#s = settings;
    this.#port = port;
  }

  #where(): string {
    return this.#s.transport === "unix" ? this.#s.path : `${this.#s.host}:${this.#port}`;
  }

  #connect(): Promise<Socket> {
    if (this.#conn !== undefined) return this.#conn;
    const s = this.#s;
    const conn = new Promise<Socket>((resolve, reject) => {
      let socket: Socket;
      const ready = s.transport === "tls" ? "secureConnect" : "connect";
      if (s.transport === "tls") {
        socket = tlsConnect({
          host: s.host,
          port: this.#port,
          servername: s.host,
          rejectUnauthorized: !s.insecure_skip_verify,
          ...(s.ca_file === undefined ? {} : { ca: readRegularFileSync(s.ca_file, { setting: "syslog: ca_file", code: "ERR_NOTIFY" }) }),
        });
      } else if (s.transport === "unix") {
        socket = netConnect({ path: s.path });
      } else {
        socket = netConnect({ host: s.host, port: this.#port });
      }
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${s.timeout_seconds} s`)), s.timeout_seconds * 1000);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.setKeepAlive(true, 30_000);
        resolve(socket);
      });
      socket.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once("close", () => {
        clearTimeout(timer);
        if (this.#conn === conn) this.#conn = undefined;
        reject(new Error("the connection was closed"));
      });
      // The server never talks back; reading keeps us informed of its FIN.
      socket.on("data", () => undefined);
      socket.on("end", () => socket.destroy());
    });
    this.#conn = conn;
    conn.catch(() => {
      if (this.#conn === conn) this.#conn = undefined;
    });
    return conn;
  }

  async send(message: string, signal: AbortSignal): Promise<void> {
    if (this.#closing) throw new KestrelError("ERR_NOTIFY", "syslog: the notifier is closed");
    let socket: Socket;
    try {
      socket = await this.#connect();
    } catch (err) {
      // A certificate that does not verify will not verify on a retry either.
      throw sendError(`cannot connect to ${this.#where()}`, err, !isCertificateError(err));
    }
    if (socket.writableLength > this.#s.max_buffer_bytes) {
      throw new KestrelError("ERR_NOTIFY", `syslog: ${socket.writableLength} bytes are waiting for ${this.#where()}`, { retryable: true });
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new KestrelError("ERR_TIMEOUT", `syslog: ${this.#where()} does not take data`, { retryable: true }));
      signal.addEventListener("abort", onAbort, { once: true });
      socket.write(frame(message, this.#s.framing), (err) => {
        signal.removeEventListener("abort", onAbort);
        if (err === null || err === undefined) resolve();
        else {
          socket.destroy();
          reject(sendError(`cannot send to ${this.#where()}`, err));
        }
      });
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn === undefined) return;
    let socket: Socket;
    try {
      socket = await conn;
    } catch {
      return;
    }
    // end() sends what is buffered, then FIN; give it a moment, then drop it.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }
}

export default defineNotifier({
  name: "syslog",
  needs: [],
  notes: {
    behaviour:
      "One message per notification, severity from the priority (`err` for failures); TCP/TLS reconnected; `port` 514 by default (6514 for `tls`); over `tls` (RFC 5425) a certificate that does not verify is not retried; `unix` is a stream socket.",
  },
  description: "Send each result as a syslog message (RFC 5424 or 3164) over UDP, TCP, TLS or a Unix socket",
  params,
  example: `
notifiers:
  syslog:
    transport: tcp
    host: syslog.example.com
    port: 514
    rfc: 5424
    facility: local0
    app_name: kestrel
    framing: octet-counting
    format: json
`,
  create(settings) {
    const port = settings.port ?? (settings.transport === "tls" ? 6514 : 514);
    const transport: Transport = settings.transport === "udp" ? new UdpTransport(settings.host, port) : new StreamTransport(settings, port);
    const format: SyslogFormat = {
      rfc: settings.rfc,
      facility: settings.facility,
      hostname: settings.hostname,
      appName: settings.app_name,
      format: settings.format,
    };
    return {
      send(n, signal) {
        return transport.send(syslogMessage(n, format), signal);
      },
      close() {
        return transport.close();
      },
    };
  },
});
