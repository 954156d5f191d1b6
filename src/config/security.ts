// Env overrides of the settings that secure the intake (auth.tokens, auth.tokens_file, tls.*). An env var
// replaces the file's value, so one set by mistake would switch authentication off (AUTH_TOKENS=" , "
// leaves no token: the intake opens) or break TLS at start. Each such override is an error naming its
// variable, found when the configuration is loaded, so that `rules check` fails when the server would not
// start or would start open. Tokens are never part of a message.
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import { errorMessage } from "../errors.ts";
import { readRegularFileSync } from "../files.ts";
import { isPlainObject, type Obj } from "./shape.ts";
import { readTokensFile, usableToken } from "./tokens.ts";

export interface SecurityProblem {
  /** The config path the problem is about (an env var set it). */
  readonly path: readonly string[];
  readonly message: string;
}

const TLS_FILES = ["cert_file", "key_file", "client_ca_file"] as const;

/**
 * The problems of the security settings that env vars set. `raw` is the configuration with the env
 * overrides applied, before validation; `setByEnv` tells whether an env var set a dotted key.
 */
export function securityOverrideProblems(raw: Obj, setByEnv: (key: string) => boolean): SecurityProblem[] {
  const problems: SecurityProblem[] = [];
  if (isPlainObject(raw["auth"])) authProblems(raw["auth"], setByEnv, problems);
  if (isPlainObject(raw["tls"])) tlsProblems(raw["tls"], setByEnv, problems);
  return problems;
}

function authProblems(auth: Obj, setByEnv: (key: string) => boolean, out: SecurityProblem[]): void {
  const tokens = auth["tokens"];
  if (setByEnv("auth.tokens") && Array.isArray(tokens)) {
    const path = ["auth", "tokens"];
    if (tokens.length === 0) {
      out.push({
        path,
        message:
          "auth.tokens: the variable holds no token (only blanks or commas), which would leave the intake without authentication; set the tokens, or unset the variable to keep the configuration file's",
      });
    }
    tokens.forEach((t, i) => {
      if (typeof t === "string" && !usableToken(t)) {
        out.push({
          path,
          message: `auth.tokens: token ${i + 1} has a character no Authorization header can carry (a space, a control or non-ASCII character)`,
        });
      }
    });
  }
  const file = auth["tokens_file"];
  if (setByEnv("auth.tokens_file") && typeof file === "string") {
    const path = ["auth", "tokens_file"];
    if (file.trim() === "") {
      out.push({ path, message: "auth.tokens_file: the variable holds only blanks; set a path, or unset the variable" });
      return;
    }
    let fromFile: string[];
    try {
      fromFile = readTokensFile(file);
    } catch (err) {
      out.push({ path, message: errorMessage(err) }); // "auth.tokens_file: cannot read '<path>': …"
      return;
    }
    if (!fromFile.some(usableToken))
      out.push({ path, message: `auth.tokens_file: '${file}' holds no usable token (one per line, no spaces)` });
  }
}

type TlsKey = (typeof TLS_FILES)[number];
type TlsFiles = Partial<Record<TlsKey, Buffer>>;

function tlsProblems(tls: Obj, setByEnv: (key: string) => boolean, out: SecurityProblem[]): void {
  const fromEnv = TLS_FILES.filter((k) => setByEnv(`tls.${k}`));
  if (fromEnv.length === 0) return;
  const pem = readTlsFiles(tls, fromEnv, out);
  if (pem === undefined) return;
  // What the HTTPS server does at start with these files (./ingest/tls.ts), and a CA that holds no
  // certificate, which node accepts but which then refuses every client.
  if (fromEnv.includes("client_ca_file") && !clientCaUsable(tls, pem, out)) return;
  if (pem.cert_file === undefined || pem.key_file === undefined) return; // half a pair: the schema says so
  try {
    createSecureContext({
      cert: pem.cert_file,
      key: pem.key_file,
      ...(pem.client_ca_file === undefined ? {} : { ca: pem.client_ca_file }),
    });
  } catch (err) {
    const key = fromEnv[0]!;
    out.push({ path: ["tls", key], message: `tls.${key}: the HTTPS server cannot use the certificate and key: ${errorMessage(err)}` });
  }
}

/** The contents of the TLS files that are set; undefined when one cannot be read (a problem for each one
 * that an env var set). */
function readTlsFiles(tls: Obj, fromEnv: readonly TlsKey[], out: SecurityProblem[]): TlsFiles | undefined {
  const pem: TlsFiles = {};
  let readable = true;
  for (const key of TLS_FILES) {
    const file = tls[key];
    if (typeof file !== "string" || file === "") continue;
    const read = readTlsFile(key, file);
    if (typeof read !== "string") pem[key] = read;
    else {
      if (fromEnv.includes(key)) out.push({ path: ["tls", key], message: read });
      readable = false;
    }
  }
  return readable ? pem : undefined;
}

/** The file's contents, or the problem reading it. */
function readTlsFile(key: TlsKey, file: string): Buffer | string {
  if (file.trim() === "") return `tls.${key}: the variable holds only blanks; set a path, or unset the variable`;
  try {
    return readRegularFileSync(file, { setting: `tls.${key}` });
  } catch (err) {
    return errorMessage(err); // "tls.<key>: cannot read '<path>': …"
  }
}

/** False, with a problem, when the client CA file holds no certificate. */
function clientCaUsable(tls: Obj, pem: TlsFiles, out: SecurityProblem[]): boolean {
  if (pem.client_ca_file === undefined) return true;
  try {
    new X509Certificate(pem.client_ca_file);
    return true;
  } catch (err) {
    out.push({
      path: ["tls", "client_ca_file"],
      message: `tls.client_ca_file: '${String(tls["client_ca_file"])}' holds no PEM certificate: ${errorMessage(err)}`,
    });
    return false;
  }
}
