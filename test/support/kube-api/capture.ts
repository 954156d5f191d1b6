// tcpdump and sysdig stand-ins. They produce real file formats (a pcap with a valid global header and
// well-formed IPv4/UDP packets; a gzip-able scap-like block stream) at a steady rate until their count or
// duration is reached, they are killed (timeout, kill, client gone) or the exec client hangs up stdin.
import { gzipSync } from "node:zlib";
import { normalizePath } from "./fakefs.ts";
import { sleep } from "./io.ts";
import type { Command, CommandContext } from "./shell.ts";

/** Milliseconds between two generated packets/events, before the session's time scale. */
const EVENT_INTERVAL_MS = 100;

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL2 = 276;

export function pcapHeader(snaplen: number, linktype: number): Uint8Array {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt32LE(snaplen, 16);
  b.writeUInt32LE(linktype, 20);
  return b;
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One UDP datagram 10.244.0.10:port → 10.96.0.10:53, framed for the link type. */
function packet(seq: number, linktype: number): Buffer {
  const payload = Buffer.from(`kestrel-fake-packet-${seq}`);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000 + (seq % 20000), 0);
  udp.writeUInt16BE(53, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip.writeUInt16BE(seq & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  Buffer.from([10, 244, 0, 10]).copy(ip, 12);
  Buffer.from([10, 96, 0, 10]).copy(ip, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  let link: Buffer;
  if (linktype === LINKTYPE_LINUX_SLL2) {
    link = Buffer.alloc(20);
    link.writeUInt16BE(0x0800, 0);
    link.writeUInt32BE(2, 4);
    link.writeUInt16BE(1, 8);
    link.writeUInt8(4, 10);
    link.writeUInt8(6, 11);
    Buffer.from([0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x0a]).copy(link, 12);
  } else {
    link = Buffer.alloc(14);
    Buffer.from([0x0a, 0x58, 0x0a, 0x60, 0x00, 0x0a, 0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x0a]).copy(link, 0);
    link.writeUInt16BE(0x0800, 12);
  }
  return Buffer.concat([link, ip, udp, payload]);
}

function pcapRecord(data: Buffer, snaplen: number, when: number): Buffer {
  const incl = Math.min(data.length, snaplen);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(Math.floor(when / 1000), 0);
  h.writeUInt32LE((when % 1000) * 1000, 4);
  h.writeUInt32LE(incl, 8);
  h.writeUInt32LE(data.length, 12);
  return Buffer.concat([h, data.subarray(0, incl)]);
}

/** Resolves when the exec client closes stdin (a hang-up), if stdin is the client's; never otherwise. */
function hangUp(ctx: CommandContext): Promise<void> {
  if (!ctx.io.stdin.attached) return new Promise(() => {});
  return (async () => {
    while ((await ctx.io.stdin.read(ctx.signal)) !== null) {
      // input to a capture tool is ignored
    }
  })();
}

interface Sink {
  write(chunk: Uint8Array, truncate?: boolean): void;
}

/** Where a capture goes: `-w file` on the fake file system, `-w -` or nothing on stdout. */
function sinkFor(ctx: CommandContext, file: string | undefined, tool: string): Sink | string {
  if (file === undefined || file === "-") return { write: (chunk) => ctx.io.stdout.write(chunk) };
  const fs = ctx.session.state.fs;
  const path = normalizePath(file, ctx.cwd);
  if (fs.write(path, new Uint8Array(), false) !== undefined) return `${tool}: ${file}: No such file or directory`;
  return { write: (chunk, truncate) => void fs.write(path, chunk, !truncate) };
}

const TCPDUMP_FLAGS = new Set("AbdDeEhHIJKlLnNOpqStuUvx#".split(""));
const TCPDUMP_VALUES = new Set([
  "-i",
  "-s",
  "-w",
  "-c",
  "-G",
  "-W",
  "-C",
  "-Z",
  "-B",
  "-y",
  "-F",
  "-r",
  "-T",
  "-j",
  "-z",
  "-E",
  "-M",
  "-V",
  "--snapshot-length",
  "--interface",
  "--time-stamp-precision",
]);

const tcpdump: Command = async (ctx) => {
  const values = new Map<string, string>();
  const filter: string[] = [];
  const args = ctx.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (TCPDUMP_VALUES.has(a)) values.set(a, args[++i] ?? "");
    else if (/^-[iswcGWCZByFrTjzEMV].+/.test(a) && TCPDUMP_VALUES.has(a.slice(0, 2))) values.set(a.slice(0, 2), a.slice(2));
    else if (a.startsWith("--")) continue;
    else if (a.startsWith("-") && a.length > 1) {
      const bad = [...a.slice(1)].find((c) => !TCPDUMP_FLAGS.has(c));
      if (bad !== undefined) {
        ctx.io.stderr.write(`tcpdump: invalid option -- '${bad}'\nUsage: tcpdump [-AbdDefhHIJKlLnNOpqStuUvxX#] [ -B size ] [ -c count ]\n`);
        return 1;
      }
    } else filter.push(a);
  }
  const iface = values.get("-i") ?? values.get("--interface") ?? "eth0";
  if (!["any", "eth0", "lo"].includes(iface)) {
    ctx.io.stderr.write(`tcpdump: ${iface}: No such device exists\n(SIOCGIFHWADDR: No such device)\n`);
    return 1;
  }
  const snapRaw = Number(values.get("-s") ?? values.get("--snapshot-length") ?? "0");
  const snaplen = snapRaw > 0 ? snapRaw : 262144;
  const linktype = iface === "any" ? LINKTYPE_LINUX_SLL2 : LINKTYPE_ETHERNET;
  const count = values.has("-c") ? Number(values.get("-c")) : Number.POSITIVE_INFINITY;
  const rotateMs = values.has("-G") ? Number(values.get("-G")) * 1000 : undefined;
  const files = values.has("-W") ? Number(values.get("-W")) : undefined;
  const file = values.get("-w");
  const sink = sinkFor(ctx, file, "tcpdump");
  if (typeof sink === "string") {
    ctx.io.stderr.write(`${sink}\n`);
    return 1;
  }
  const linkName = linktype === LINKTYPE_LINUX_SLL2 ? "LINUX_SLL2 (Linux cooked v2)" : "EN10MB (Ethernet)";
  ctx.io.stderr.write(
    `tcpdump: ${file === undefined ? "verbose output suppressed, use -v[v]... for full protocol decode\n" : ""}listening on ${iface}, link-type ${linkName}, snapshot length ${snaplen} bytes\n`,
  );
  const binary = file !== undefined;
  if (binary) sink.write(pcapHeader(snaplen, linktype));
  const scale = ctx.session.timeScale;
  const start = Date.now();
  const deadline = rotateMs !== undefined && files !== undefined ? start + rotateMs * files * scale : Number.POSITIVE_INFINITY;
  let hungUp = false;
  void hangUp(ctx).then(() => {
    hungUp = true;
  });
  let captured = 0;
  let rotation = 0;
  // The first packet comes at once (an interface always has some traffic), the next ones at intervals.
  while (captured < count && !hungUp && !ctx.signal.aborted && Date.now() < deadline) {
    if (captured > 0 && (!(await sleep(Math.max(1, EVENT_INTERVAL_MS * scale), ctx.signal)) || hungUp)) break;
    if (rotateMs !== undefined) {
      const r = Math.floor((Date.now() - start) / (rotateMs * scale));
      if (r !== rotation && binary) {
        rotation = r;
        if (files !== undefined && r >= files) break;
        sink.write(pcapHeader(snaplen, linktype), true);
      }
    }
    const when = Date.now();
    const data = packet(captured, linktype);
    if (binary) sink.write(pcapRecord(data, snaplen, when));
    else {
      const t = new Date(when).toISOString().slice(11, 23);
      ctx.io.stdout.write(
        `${t}000 IP 10.244.0.10.${40000 + (captured % 20000)} > 10.96.0.10.53: UDP, length ${data.length - (linktype === LINKTYPE_LINUX_SLL2 ? 48 : 42)}\n`,
      );
    }
    captured++;
  }
  ctx.io.stderr.write(`${captured} packets captured\n${captured} packets received by filter\n0 packets dropped by kernel\n`);
  return 0;
};

const SYSDIG_VALUES = new Set([
  "-M",
  "-w",
  "-s",
  "-n",
  "-r",
  "-c",
  "-p",
  "-k",
  "-K",
  "-C",
  "-W",
  "-G",
  "-e",
  "-F",
  "--cri",
  "--modern-bpf-cpus",
  "--snaplen",
  "--numevents",
  "--write",
]);

/** A section header block followed by event blocks, in pcapng framing as scap files are. */
function scapSectionHeader(): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32LE(0x0a0d0d0a, 0);
  b.writeUInt32LE(28, 4);
  b.writeUInt32LE(0x1a2b3c4d, 8);
  b.writeUInt16LE(1, 12);
  b.writeUInt16LE(2, 14);
  b.writeBigInt64LE(-1n, 16);
  b.writeUInt32LE(28, 24);
  return b;
}

function scapEvent(seq: number): Buffer {
  const body = Buffer.from(`evt ${seq} execve comm=sh`);
  const padded = Math.ceil(body.length / 4) * 4;
  const total = 12 + padded;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(0x205, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

const sysdig: Command = async (ctx) => {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const filter: string[] = [];
  const args = ctx.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq !== -1) values.set(a.slice(0, eq), a.slice(eq + 1));
    else if (SYSDIG_VALUES.has(a)) values.set(a, args[++i] ?? "");
    else if (a.startsWith("-")) flags.add(a);
    else filter.push(a);
  }
  const seconds = Number(values.get("-M") ?? "0");
  const count = Number(values.get("-n") ?? values.get("--numevents") ?? "0");
  const file = values.get("-w") ?? values.get("--write");
  const gzip = flags.has("-z") || flags.has("--compress");
  const sink = sinkFor(ctx, file, "sysdig");
  if (typeof sink === "string") {
    ctx.io.stderr.write(`${sink}\n`);
    return 1;
  }
  const scale = ctx.session.timeScale;
  const deadline = seconds > 0 ? Date.now() + seconds * 1000 * scale : Number.POSITIVE_INFINITY;
  let hungUp = false;
  void hangUp(ctx).then(() => {
    hungUp = true;
  });
  const chunks: Buffer[] = [scapSectionHeader()];
  // The whole file is rewritten on each event so that it is a complete (gzip) file at every moment.
  const flush = () => {
    if (file === undefined) return;
    const raw = Buffer.concat(chunks);
    sink.write(gzip ? gzipSync(raw) : raw, true);
  };
  flush();
  let events = 0;
  while ((count <= 0 || events < count) && !hungUp && !ctx.signal.aborted && Date.now() < deadline) {
    if (events > 0 && (!(await sleep(Math.max(1, Math.min(EVENT_INTERVAL_MS * scale, deadline - Date.now())), ctx.signal)) || hungUp))
      break;
    if (file === undefined)
      ctx.io.stdout.write(`${events + 1} ${new Date().toISOString().slice(11, 23)}000000 0 sh (7) > execve filename=/bin/sh\n`);
    else {
      chunks.push(scapEvent(events));
      flush();
    }
    events++;
  }
  return 0;
};

export const CAPTURE_COMMANDS: Record<string, Command> = { tcpdump, sysdig };
