// A real SMTP server (smtp-server) on 127.0.0.1 for the smtp notifier's tests: STARTTLS with a
// self-signed certificate made by openssl in a temporary directory, authentication checked, every mail
// recorded raw, and scriptable answers (4xx/5xx) for the next mails. Also a small MIME reader, so tests
// can check headers and decoded bodies of what nodemailer really sent.
import { rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { selfSignedCertificate } from "./tls.ts";

export interface ReceivedMail {
  from: string;
  to: string[];
  user: string | undefined;
  secure: boolean;
  raw: string;
}

export interface SmtpTestServer {
  readonly port: number;
  readonly caFile: string;
  readonly mails: ReceivedMail[];
  /** Failed logins seen. */
  readonly authFailures: number;
  /** Answers for the next DATA commands, in order (e.g. 451); accepted after they run out. */
  script(...codes: number[]): void;
  /** DATA commands answered so far, accepted or not. */
  readonly attempts: number;
  close(): Promise<void>;
}

export async function startSmtpServer(options: { user: string; password: string; implicitTls?: boolean }): Promise<SmtpTestServer> {
  const certificate = selfSignedCertificate("kestrel-smtp-");
  const { dir, certFile: caFile } = certificate;
  const mails: ReceivedMail[] = [];
  const codes: number[] = [];
  let authFailures = 0;
  let attempts = 0;
  const server = new SMTPServer({
    key: certificate.key,
    cert: certificate.cert,
    secure: options.implicitTls ?? false,
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === options.user && auth.password === options.password) return cb(null, { user: auth.username });
      authFailures++;
      return cb(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        attempts++;
        const code = codes.shift();
        if (code !== undefined) return cb(Object.assign(new Error(`scripted ${code} answer`), { responseCode: code }));
        mails.push({
          from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          secure: session.secure,
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    caFile,
    mails,
    get authFailures() {
      return authFailures;
    },
    get attempts() {
      return attempts;
    },
    script(...list) {
      codes.push(...list);
    },
    close() {
      return new Promise((resolve) =>
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        }),
      );
    },
  };
}

export interface MimePart {
  headers: Record<string, string>;
  body: string;
}

/** Parses a MIME message: unfolded headers (lower-case names, encoded words decoded) and its leaf parts
 * with their bodies decoded (quoted-printable, base64). */
export function parseMime(raw: string): { headers: Record<string, string>; parts: MimePart[] } {
  const top = parseEntity(raw);
  return { headers: top.headers, parts: leaves(top) };
}

function leaves(e: MimePart & { rawBody: string }): MimePart[] {
  const type = e.headers["content-type"] ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!type.toLowerCase().startsWith("multipart/") || boundary === undefined) return [{ headers: e.headers, body: e.body }];
  const sections = e.rawBody.split(`--${boundary}`).slice(1);
  const out: MimePart[] = [];
  for (const s of sections) {
    if (s.startsWith("--")) break;
    out.push(...leaves(parseEntity(s.replace(/^\r?\n/, ""))));
  }
  return out;
}

function parseEntity(text: string): MimePart & { rawBody: string } {
  const sep = text.search(/\r?\n\r?\n/);
  const head = sep < 0 ? text : text.slice(0, sep);
  const rawBody = sep < 0 ? "" : text.slice(sep).replace(/^\r?\n\r?\n/, "");
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  const enc = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  let body = rawBody;
  if (enc === "base64") body = Buffer.from(rawBody.replace(/\s+/g, ""), "base64").toString("utf8");
  else if (enc === "quoted-printable") body = decodeQp(rawBody);
  return { headers, body, rawBody };
}

function decodeQp(s: string): string {
  const soft = s.replace(/=\r?\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === "=" && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(soft[i]!, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

function decodeWords(v: string): string {
  return v
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, data: string) =>
      enc.toUpperCase() === "B" ? Buffer.from(data, "base64").toString("utf8") : decodeQp(data.replace(/_/g, " ")),
    );
}
