// A self-signed certificate for localhost and 127.0.0.1, made by openssl in a temporary directory, for
// the test servers that speak TLS (SMTP, syslog over TLS).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return { dir, keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

export interface TestPki {
  readonly caFile: string;
  readonly ca: Buffer;
  /** Server certificate for localhost / 127.0.0.1, signed by the CA. */
  readonly server: TestCertificate;
  /** Client certificate (CN=falco), signed by the CA. */
  readonly client: TestCertificate;
  /** A client certificate the CA did not sign. */
  readonly stranger: TestCertificate;
}

/** A test CA with a server and a client certificate it signed, and a stranger's self-signed client certificate. */
export function testPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Kestrel test CA");
  const issue = (name: string, cn: string, ext: string): TestCertificate => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.pem`);
    return { dir, keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
  };
  run("req", "-x509", ...ec, "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2", "-subj", "/CN=stranger");
  return {
    caFile: join(dir, "ca.pem"),
    ca: readFileSync(join(dir, "ca.pem")),
    server: issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    client: issue("client", "falco", "extendedKeyUsage=clientAuth\n"),
    stranger: {
      dir,
      keyFile: join(dir, "stranger.key"),
      certFile: join(dir, "stranger.pem"),
      key: readFileSync(join(dir, "stranger.key")),
      cert: readFileSync(join(dir, "stranger.pem")),
    },
  };
}
