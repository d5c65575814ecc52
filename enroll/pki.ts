import crypto from "node:crypto";
import fs from "node:fs";
import type { Logger } from "../log.js";
import { CURVES } from "../pki/algorithms.js";
import { CertSigner, makeIssuer, selfIssuer } from "../pki/signer.js";
import { toPem } from "../pki/der.js";
import { type LoadedPki, type PkiPaths, loadPki, pkiPaths, readCertDer } from "../pki/data-dir-files.js";
import { ensurePrivateDir, writeKeyFile, writePublicFile } from "./files.js";
import { caProfile, serverProfile } from "./profile.js";
import { signedBy } from "../pki/signed-by.js";
import { CertificateAuthority, type CaOptions } from "./ca.js";

const ROOT_DAYS = 3650;
const ISSUING_DAYS = 1825;
const SERVER_DAYS = 397;
const SERVER_RENEW_MS = 30 * 86_400_000;

function newKey(curve: "P-256" | "P-384") {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: CURVES[curve] });
  return { privateKey, spkiDer: publicKey.export({ type: "spki", format: "der" }) };
}

const keyPem = (k: crypto.KeyObject) => k.export({ type: "pkcs8", format: "pem" }).toString();

function serverNeedsRenewal(p: PkiPaths, hostnames: readonly string[], issuingDer: Buffer, now: number): string | undefined {
  if (!fs.existsSync(p.serverCert) || !fs.existsSync(p.serverKey)) return "missing";
  const cert = new crypto.X509Certificate(fs.readFileSync(p.serverCert));
  if (!signedBy(cert, new crypto.X509Certificate(issuingDer))) return "issuer changed";
  if (Date.parse(cert.validTo) - now < SERVER_RENEW_MS) return "expiring";
  const have = new Set((cert.subjectAltName ?? "").split(", ").map((s) => s.replace(/^(DNS|IP Address):/, "")));
  if (have.size !== hostnames.length || hostnames.some((h) => !have.has(h))) return "hostnames changed";
  return undefined;
}

/**
 * Creates the PKI on first start (root CA -> issuing CA -> server certificate)
 * and reuses it afterwards. The root key signs only the issuing CA. The server
 * certificate is re-issued when --hostnames changes or it nears expiry.
 */
export function ensurePki(o: { dataDir: string; hostnames: readonly string[]; curve: "P-256" | "P-384"; clock: () => number; log: Logger }): LoadedPki {
  const p = pkiPaths(o.dataDir);
  ensurePrivateDir(o.dataDir);
  ensurePrivateDir(p.pkiDir);
  const now = o.clock();
  if (!fs.existsSync(p.rootCert) || !fs.existsSync(p.issuingKey)) {
    if (fs.existsSync(p.rootCert) || fs.existsSync(p.issuingCert)) {
      throw new Error(`incomplete PKI in ${p.pkiDir}: refusing to overwrite it; restore the missing files or use an empty data directory`);
    }
    const tag = crypto.randomBytes(4).toString("hex");
    const root = newKey(o.curve);
    const rootIssuer = selfIssuer(`fleetgate Root CA ${tag}`, root.privateKey, root.spkiDer);
    const rootCert = new CertSigner(rootIssuer).sign(caProfile({ name: `fleetgate Root CA ${tag}`, now, days: ROOT_DAYS }), root.spkiDer, { selfSigned: true });
    const issuing = newKey(o.curve);
    const issuingCert = new CertSigner(rootIssuer).sign(caProfile({ name: `fleetgate Issuing CA ${tag}`, now, days: ISSUING_DAYS, pathLen: 0 }), issuing.spkiDer);
    writeKeyFile(p.rootKey, keyPem(root.privateKey));
    writeKeyFile(p.issuingKey, keyPem(issuing.privateKey));
    writePublicFile(p.issuingCert, issuingCert.pem);
    // ca.pem last: its presence marks a complete PKI.
    writePublicFile(p.rootCert, rootCert.pem);
    o.log.info({ rootSerial: rootCert.serial, issuingSerial: issuingCert.serial, curve: o.curve }, "created PKI");
  }
  const issuingDer = readCertDer(p.issuingCert);
  const issuingKey = crypto.createPrivateKey(fs.readFileSync(p.issuingKey));
  const why = serverNeedsRenewal(p, o.hostnames, issuingDer, now);
  if (why) {
    const k = newKey(o.curve);
    const cert = new CertSigner(makeIssuer(issuingDer, issuingKey)).sign(
      serverProfile({ name: o.hostnames[0]!, hostnames: o.hostnames, now, days: SERVER_DAYS }), k.spkiDer);
    writeKeyFile(p.serverKey, keyPem(k.privateKey));
    writePublicFile(p.serverCert, cert.pem + toPem(issuingDer, "CERTIFICATE"));
    o.log.info({ serial: cert.serial, hostnames: o.hostnames, reason: why }, "issued server certificate");
  }
  return loadPki(o.dataDir);
}

/**
 * The issuing CA of a data directory. Its private key is read from the key file
 * straight into the CA object, which never hands it out (README "Architecture").
 */
export function openCa(p: Pick<LoadedPki, "paths" | "rootDer" | "issuingDer">, o: Omit<CaOptions, "root" | "issuing">): CertificateAuthority {
  return new CertificateAuthority({
    ...o,
    root: { certDer: p.rootDer },
    issuing: { certDer: p.issuingDer, key: crypto.createPrivateKey(fs.readFileSync(p.paths.issuingKey)) },
  });
}
