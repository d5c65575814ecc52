import fs from "node:fs";
import path from "node:path";
import type tls from "node:tls";

/**
 * The gateway's mqtts server options (broker/server.ts) read from a data dir's
 * CONTRACT §2 layout, for the reference servers (plain aedes, the node:tls
 * floor, the memory probe), which load nothing of the gateway itself.
 */
export function gatewayTlsOptions(dataDir: string): tls.TlsOptions {
  const pki = (f: string) => fs.readFileSync(path.join(dataDir, "pki", f));
  return {
    key: pki("server.key"),
    cert: pki("server.pem"),
    ca: [pki("ca.pem"), pki("issuing.pem")],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
  };
}
