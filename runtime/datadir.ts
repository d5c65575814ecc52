import fs from "node:fs";
import path from "node:path";
import type { GatewayConfig } from "../config.js";
import type { Logger } from "../log.js";
import { GatewayError } from "../errors.js";
import type { Store } from "../db/store.js";
import { openRegistry } from "../db/open.js";
import { ensurePki, openCa } from "../enroll/pki.js";
import { loadPki, missingPkiFiles, type LoadedPki } from "../pki/data-dir-files.js";
import type { CertificateAuthority } from "../enroll/ca.js";
import { ensureAdminCredential } from "../enroll/credentials.js";

export interface DataDir {
  readonly store: Store;
  readonly pki: LoadedPki;
  readonly ca: CertificateAuthority;
}

/** Where device certificates say the CRL is (README "Admin API": GET /crl on the HTTPS port). */
export function crlUrlFor(config: GatewayConfig, port: number): string {
  const host = config.hostnames[0]!;
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}/crl`;
}

const dbFile = (config: GatewayConfig) => path.join(config.dataDir, "gateway.db");
/** The registry: PostgreSQL when --database names one, else gateway.db in the data directory. */
const registry = (config: GatewayConfig, clock: () => number) => openRegistry({ database: config.database, file: dbFile(config) }, clock);

function withCa(config: GatewayConfig, clock: () => number, pki: LoadedPki, crlUrl?: () => string): CertificateAuthority {
  return openCa(pki, {
    certDays: config.certDays,
    clock,
    crlUrl: crlUrl ?? (() => crlUrlFor(config, config.httpsPort)),
  });
}

/**
 * Creates the data directory on first use (database, PKI, admin credential) and
 * opens it afterwards. Only `gateway start` calls this: it is the one command
 * allowed to create a data directory (README "Configuration", data directory).
 */
export async function initDataDir(config: GatewayConfig, log: Logger, clock: () => number, crlUrl?: () => string): Promise<DataDir> {
  const pki = ensurePki({ dataDir: config.dataDir, hostnames: config.hostnames, curve: config.caCurve, clock, log });
  const store = await registry(config, clock);
  try {
    const ca = withCa(config, clock, pki, crlUrl);
    if (await ensureAdminCredential({ store, ca, clock }, pki.paths.adminDir)) log.info({ file: pki.paths.adminCert }, "created admin credential");
    return { store, pki, ca };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * Opens an existing gateway data directory and creates nothing: every command
 * but `start` uses it, so `gateway devices list --data ./typo` fails (exit 1)
 * instead of minting a new root CA in ./typo.
 */
export async function openDataDir(config: GatewayConfig, clock: () => number): Promise<DataDir> {
  const dir = path.resolve(config.dataDir);
  // With --database the registry lives in PostgreSQL: only the PKI has to be here.
  const dbMissing = config.database === undefined && !fs.existsSync(dbFile(config));
  const missing = [...missingPkiFiles(dir), ...(dbMissing ? [dbFile(config)] : [])];
  if (missing.length > 0) {
    throw new GatewayError("FG_DATA_DIR_INVALID", `${dir} is not a gateway data directory (missing ${missing.map((f) => path.relative(dir, f)).join(", ")}); run "gateway start --data ${config.dataDir}" to create one`);
  }
  const pki = loadPki(dir);
  const store = await registry(config, clock);
  return { store, pki, ca: withCa(config, clock, pki) };
}
