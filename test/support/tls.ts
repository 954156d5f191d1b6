// A self-signed certificate for localhost and 127.0.0.1, made by openssl in a temporary directory, for
// the test servers that speak TLS (SMTP, syslog over TLS).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  readonly dir: string;
  readonly keyFile: string;
  /** The certificate, also the CA file a client trusts it with. */
  readonly certFile: string;
  readonly key: Buffer;
  readonly cert: Buffer;
}

export function selfSignedCertificate(prefix = "kestrel-tls-"): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { stdio: "ignore" },
  );
  return { dir, keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}
