import "reflect-metadata";
import crypto from "node:crypto";
import os from "node:os";
import * as x509 from "@peculiar/x509";
import { parseCsr } from "../pki/csr.js";
import { admitCsr } from "../enroll/admission.js";
import { CertificateAuthority } from "../enroll/ca.js";
import { CertSigner, makeIssuer } from "../pki/signer.js";
import { caProfile } from "../enroll/profile.js";
import { buildDeviceCsr } from "../device-sim/device-csr.js";
import { foreignCa, newEcKey } from "../testkit/certs.js";

/**
 * bench:issue (issue 2): CSRs verified + certificates issued per second on one
 * core (this is single-threaded JS), against the raw node:crypto ECDSA P-256
 * sign+verify limit measured in the same run. Also the straightforward
 * @peculiar/x509 + WebCrypto path, for reference.
 */
const N = Number(process.env.N ?? 3000);
const SECONDS = Number(process.env.SECONDS ?? 3);

function rate(label: string, fn: (i: number) => void, n: number): number {
  for (let i = 0; i < Math.min(200, n); i++) fn(i); // warm-up
  let done = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) fn(done++ % n);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = done / secs;
  console.log(`${label.padEnd(58)} ${r.toFixed(0).padStart(7)} /s`);
  return r;
}

async function rateAsync(label: string, fn: (i: number) => Promise<void>, n: number): Promise<number> {
  for (let i = 0; i < 20; i++) await fn(i);
  let done = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) await fn(done++ % n);
  const r = done / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(`${label.padEnd(58)} ${r.toFixed(0).padStart(7)} /s`);
  return r;
}

async function main() {
  console.log(`bench:issue  ${new Date().toISOString()}  node ${process.version}  ${os.cpus()[0]?.model} x${os.cpus().length}`);
  const root = foreignCa("Bench Root");
  const rootDer = Buffer.from(new crypto.X509Certificate(root.certPem).raw);
  const issuing = newEcKey();
  const issuingCert = new CertSigner(makeIssuer(rootDer, crypto.createPrivateKey(root.keyPem))).sign(caProfile({ name: "Bench Issuing", now: Date.now(), days: 30, pathLen: 0 }), issuing.spkiDer);
  const ca = new CertificateAuthority({ root: { certDer: rootDer }, issuing: { certDer: issuingCert.der, key: issuing.privateKey }, certDays: 30, clock: Date.now, crlUrl: () => "https://localhost:8443/crl" });

  process.stdout.write(`preparing ${N} CSRs (distinct P-256 keys)... `);
  const csrs = Array.from({ length: N }, (_, i) => buildDeviceCsr(`dev-${i}`, newEcKey().privateKey));
  console.log("done");

  // The limit: one ECDSA P-256 verify (the CSR's proof of possession) + one sign (the certificate).
  const k = newEcKey();
  const pub = crypto.createPublicKey(k.privateKey);
  const msg = crypto.randomBytes(400);
  const sig = crypto.sign("sha256", msg, k.privateKey);
  const raw = rate("raw node:crypto ECDSA P-256 sign+verify (the limit)", () => {
    crypto.verify("sha256", msg, pub, sig);
    crypto.sign("sha256", msg, k.privateKey);
  }, N);

  const ours = rate("fleetgate: parse+verify CSR, admit, issue certificate", (i) => {
    const csr = parseCsr(csrs[i]!);
    const d = admitCsr(csr.facts, `dev-${i}`);
    if (!d.ok) throw new Error(d.reason);
    ca.issueClient("device", `dev-${i}`, csr.spkiDer);
  }, N);

  // Reference: the straightforward path, @peculiar/x509 on WebCrypto for everything.
  const wc = crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0] & typeof crypto.webcrypto;
  x509.cryptoProvider.set(wc);
  const caKey = await wc.subtle.importKey("pkcs8", issuing.privateKey.export({ type: "pkcs8", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const caCert = new x509.X509Certificate(issuingCert.der);
  const naive = await rateAsync("reference: @peculiar/x509 + WebCrypto (parse, verify, create)", async (i) => {
    const req = new x509.Pkcs10CertificateRequest(csrs[i]!);
    if (!(await req.verify())) throw new Error("verify");
    await x509.X509CertificateGenerator.create({
      serialNumber: crypto.randomBytes(16).toString("hex").replace(/^./, "4"),
      subject: req.subject, issuer: caCert.subject, notBefore: new Date(), notAfter: new Date(Date.now() + 30 * 86400_000),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" }, publicKey: await req.publicKey.export(), signingKey: caKey,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.2"]), await x509.SubjectKeyIdentifierExtension.create(await req.publicKey.export())],
    });
  }, N);

  console.log("");
  console.log(`fleetgate issue rate            ${ours.toFixed(0)} /s on one core`);
  console.log(`ratio fleetgate / raw limit     ${(ours / raw).toFixed(2)}`);
  console.log(`speed-up over WebCrypto path    ${(ours / naive).toFixed(1)}x`);
  console.log(`target >= 2000 /s               ${ours >= 2000 ? "met" : "MISSED"}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
