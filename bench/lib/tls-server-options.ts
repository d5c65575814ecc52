import fs from "node:fs";
import path from "node:path";
import type tls from "node:tls";
import { tlsServerPolicy } from "../../front/tls-policy.js";

/**
 * The gateway's mqtts server options (broker/server.ts) read from a data dir's
 * data directory's layout, for the reference servers (plain aedes, the node:tls
 * floor, the memory probe), which load nothing of the gateway itself but its
 * TLS policy (tls-policy.ts: suites, renegotiation, session lifetime), so they
 * negotiate exactly what the gateway does.
 */
export function gatewayTlsOptions(dataDir: string): tls.TlsOptions {
  const pki = (f: string) => fs.readFileSync(path.join(dataDir, "pki", f));
  return {
    key: pki("server.key"),
    cert: pki("server.pem"),
    ca: [pki("ca.pem"), pki("issuing.pem")],
    requestCert: true,
    rejectUnauthorized: true,
    ...tlsServerPolicy(),
  };
}
