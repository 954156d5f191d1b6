// A real rsyslogd in the foreground with its own configuration: UDP and TCP inputs on free loopback ports
// (and a Unix stream socket through imptcp), every message written to a file with a template that shows
// what rsyslog parsed (facility, severity, app name, msgid, body). Stopped by PID. Without the binary, tests
// skip with the package's name (rsyslogSkipReason) — unless CI is set, where a missing binary is an error.
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DebianTool, requireTool, skipReason } from "./debian.ts";
import { until } from "./wait.ts";

export interface SyslogRecord {
  proto: string;
  fac: string;
  sev: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  msg: string;
}

export interface Rsyslog {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** A Unix stream socket (imptcp) that accepts octet-counted or LF-framed messages. */
  readonly unixPath: string;
  /** The messages written so far, parsed from the template's fields. */
  records(): Promise<SyslogRecord[]>;
  /** Resolves with the records once `count` are there (polling); rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SyslogRecord[]>;
  stop(): Promise<void>;
}

export const RSYSLOGD = process.env["RSYSLOGD_BIN"] ?? "/usr/sbin/rsyslogd";
const RSYSLOG_TOOL: DebianTool = { command: RSYSLOGD, pkg: "rsyslog", env: "RSYSLOGD_BIN" };

/** Why rsyslog tests cannot run here (a skip message naming the package), or undefined when they can. */
export function rsyslogSkipReason(): string | undefined {
  return skipReason(RSYSLOG_TOOL);
}

/** A TCP and a UDP port that are both free on 127.0.0.1 (one number serves both inputs). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket("udp4");
      u.once("error", () => resolve(false));
      u.bind(port, "127.0.0.1", () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

const SEP = "\u001f";

export async function startRsyslog(): Promise<Rsyslog> {
  requireTool(RSYSLOG_TOOL);
  const dir = await mkdtemp(join(tmpdir(), "kestrel-rsyslog-"));
  await mkdir(join(dir, "work"));
  const port = await freePort();
  const out = join(dir, "messages.log");
  const unixPath = join(dir, "log.sock");
  const fields = [
    "%inputname%",
    "%syslogfacility-text%",
    "%syslogseverity-text%",
    "%hostname%",
    "%app-name%",
    "%procid%",
    "%msgid%",
    "%msg%",
  ];
  const conf = `global(workDirectory="${dir}/work")
module(load="imudp")
module(load="imtcp")
module(load="imptcp")
input(type="imudp" address="127.0.0.1" port="${port}" ruleset="remote")
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="remote")
input(type="imptcp" path="${unixPath}" ruleset="remote")
template(name="fields" type="string" string="${fields.join(SEP)}\\n")
ruleset(name="remote") {
  action(type="omfile" file="${out}" template="fields")
}
`;
  const confFile = join(dir, "rsyslog.conf");
  await writeFile(confFile, conf);
  const child: ChildProcess = spawn(RSYSLOGD, ["-n", "-f", confFile, "-i", join(dir, "rsyslogd.pid")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  // Ready when the TCP input accepts connections.
  const accepts = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const c = connect({ host: "127.0.0.1", port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
  try {
    await until(accepts, `rsyslogd to listen on ${port}`, 10_000, {
      failIf: () => (child.exitCode === null ? undefined : "rsyslogd exited"),
      detail: () => stderr,
    });
  } catch (err) {
    if (child.exitCode === null) child.kill("SIGKILL");
    throw err;
  }

  const records = async (): Promise<SyslogRecord[]> => {
    let text: string;
    try {
      text = await readFile(out, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const [proto, fac, sev, host, app, procid, msgid, ...msg] = l.split(SEP);
        return { proto: proto!, fac: fac!, sev: sev!, host: host!, app: app!, procid: procid!, msgid: msgid!, msg: msg.join(SEP) };
      });
  };

  return {
    udpPort: port,
    tcpPort: port,
    unixPath,
    records,
    async waitFor(count, timeoutMs = 5000) {
      let r: SyslogRecord[] = [];
      const enough = async (): Promise<boolean> => {
        r = await records();
        return r.length >= count;
      };
      await until(enough, `rsyslog to write ${count} messages`, timeoutMs, {
        detail: () => `${r.length} written: ${JSON.stringify(r)} ${stderr}`,
      });
      return r;
    },
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
