// HTTPS for the intake: the server's certificate and key, and for mutual TLS the CA that client
// certificates must chain to (Falcosidekick's `mutualtls`, Falco's http_output `mtls`). Files are read at
// start; a missing or unreadable file is an error naming its setting.
import type { ServerOptions } from "node:https";
import { readRegularFileSync } from "../files.ts";

export interface IntakeTlsSettings {
  readonly cert_file: string;
  readonly key_file: string;
  readonly client_ca_file: string;
}

/** A regular file under the size cap: a FIFO would block the start (this read is synchronous). */
function read(setting: string, path: string): Buffer {
  return readRegularFileSync(path, { setting: `tls.${setting}` });
}

/** The https.Server options, or undefined when the intake speaks plain HTTP. */
export function intakeTlsOptions(tls: IntakeTlsSettings): ServerOptions | undefined {
  if (tls.cert_file === "") return undefined;
  const options: ServerOptions = { cert: read("cert_file", tls.cert_file), key: read("key_file", tls.key_file), minVersion: "TLSv1.2" };
  if (tls.client_ca_file !== "") {
    options.ca = read("client_ca_file", tls.client_ca_file);
    // The handshake itself refuses a client without a certificate from this CA: nothing reaches HTTP.
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  return options;
}
