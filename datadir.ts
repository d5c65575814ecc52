import path from "node:path";
import type { GatewayConfig } from "./config.js";
import type { Logger } from "./log.js";
import { openStore, type Store } from "./db/store.js";
import { ensurePki, type LoadedPki } from "./enroll/pki.js";
import { CertificateAuthority } from "./enroll/ca.js";
import { ensureAdminCredential } from "./enroll/credentials.js";

export interface DataDir {
  readonly store: Store;
  readonly pki: LoadedPki;
  readonly ca: CertificateAuthority;
}

/** Where device certificates say the CRL is (CONTRACT §6: GET /crl on the HTTPS port). */
export function crlUrlFor(config: GatewayConfig, port: number): string {
  const host = config.hostnames[0]!;
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}/crl`;
}

/**
 * Opens the data directory, creating the database, the PKI and the admin
 * credential on first use (CONTRACT §1/§2). Used by `gateway start` and by every
 * CLI command, so each works whether or not a gateway is running.
 */
export function openDataDir(config: GatewayConfig, log: Logger, clock: () => number, crlUrl?: () => string): DataDir {
  const pki = ensurePki({ dataDir: config.dataDir, hostnames: config.hostnames, curve: config.caCurve, clock, log });
  const store = openStore(path.join(config.dataDir, "gateway.db"), clock);
  try {
    const ca = new CertificateAuthority({
      root: { certDer: pki.rootDer },
      issuing: { certDer: pki.issuingDer, key: pki.issuingKey },
      certDays: config.certDays,
      clock,
      crlUrl: crlUrl ?? (() => crlUrlFor(config, config.httpsPort)),
    });
    if (ensureAdminCredential({ store, ca, clock }, pki.paths.adminDir)) log.info({ file: pki.paths.adminCert }, "created admin credential");
    return { store, pki, ca };
  } catch (e) {
    store.close();
    throw e;
  }
}
