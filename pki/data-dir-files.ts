import fs from "node:fs";
import path from "node:path";
import { fromPemAll } from "./der.js";

/**
 * A gateway data directory's PKI files, read-only: where they are, whether they
 * are all there, and their public parts. Creating them is `gateway start`'s job
 * (enroll/pki.ts ensurePki); the issuing CA's key is read only by the CA itself
 * (enroll/pki.ts openCa).
 */
/** README "Configuration", data directory: the data directory layout. */
export function pkiPaths(dataDir: string) {
  const pki = path.join(dataDir, "pki");
  const admin = path.join(dataDir, "admin");
  return Object.freeze({
    pkiDir: pki,
    adminDir: admin,
    rootCert: path.join(pki, "ca.pem"),
    rootKey: path.join(pki, "ca.key"),
    issuingCert: path.join(pki, "issuing.pem"),
    issuingKey: path.join(pki, "issuing.key"),
    serverCert: path.join(pki, "server.pem"),
    serverKey: path.join(pki, "server.key"),
    adminCert: path.join(admin, "admin.pem"),
    adminKey: path.join(admin, "admin.key"),
  });
}
export type PkiPaths = ReturnType<typeof pkiPaths>;

/** The public half of a data directory's PKI, plus the server's own TLS key. The issuing CA's key is not here: openCa reads it into the CA. */
export interface LoadedPki {
  readonly paths: PkiPaths;
  readonly rootDer: Buffer;
  readonly issuingDer: Buffer;
  /** Server leaf followed by the issuing CA, as TLS servers must send it (RFC 8446 §4.4.2). */
  readonly serverCertChainPem: string;
  readonly serverKeyPem: string;
}

export function readCertDer(file: string): Buffer {
  const der = fromPemAll(fs.readFileSync(file, "utf8"))[0];
  if (!der) throw new Error(`${file} holds no certificate`);
  return der;
}

function readPki(p: PkiPaths): LoadedPki {
  return {
    paths: p,
    rootDer: readCertDer(p.rootCert),
    issuingDer: readCertDer(p.issuingCert),
    serverCertChainPem: fs.readFileSync(p.serverCert, "utf8"),
    serverKeyPem: fs.readFileSync(p.serverKey, "utf8"),
  };
}

/** The files a data directory holds once `gateway start` has run in it. */
export function missingPkiFiles(dataDir: string): string[] {
  const p = pkiPaths(dataDir);
  return [p.rootCert, p.issuingCert, p.issuingKey, p.serverCert, p.serverKey].filter((f) => !fs.existsSync(f));
}

/**
 * Reads an existing PKI and writes nothing: no CA is created and the server
 * certificate is not re-issued (that is `gateway start`'s job). The caller
 * checks missingPkiFiles first, so a typo in --data never mints a new root.
 */
export function loadPki(dataDir: string): LoadedPki {
  return readPki(pkiPaths(dataDir));
}

