import { isRegisteredCertificate } from "../db/fingerprint.js";
import { spkiSha256 } from "../db/spki-hash.js";
import type { Repositories, Store } from "../db/store.js";
import type { GatewayEvents } from "../runtime/deps.js";
import { GatewayError, type ErrorCode } from "../errors.js";
import type { Logger } from "../log.js";
import { admitCsr } from "./admission.js";
import { fromPemAll } from "../pki/der.js";
import type { CertificateAuthority, IssuedCertificate } from "./ca.js";
import type { CertFacts } from "../pki/cert-facts.js";
import { parseCsr, type ParsedCsr } from "../pki/csr.js";
import { DEFAULT_ISSUANCE_LIMITS, renewalRate, toSupersede, type IssuanceLimits } from "./issuance-limits.js";
import { hashToken, tokenUsable } from "./tokens.js";
import { pickByKey, recentReplay, stillDeliverable, tokenReplay, type ReplayCandidate } from "./redelivery.js";
import { namesOf } from "./names.js";
import { deviceNameRefusal } from "../pki/principal-names.js";

/**
 * Enrollment as a domain operation, independent of HTTP: an authorized
 * identity and a CSR go in, a recorded certificate comes out (RFC 7030 §4.2).
 * The EST routes only translate requests into an Authorization.
 */
export type EnrollOperation = "simpleenroll" | "simplereenroll";

export type Authorization =
  /** HTTP Basic <deviceId>:<token>; the token is consumed only if the certificate is recorded. */
  | { readonly kind: "token"; readonly deviceId: string; readonly token: string }
  /** A manufacturer certificate that chained to --bootstrap-ca; the device id is its CN. */
  | { readonly kind: "bootstrap"; readonly deviceId: string; readonly facts: CertFacts }
  /**
   * The device's current certificate from this gateway (re-enrollment, RFC 7030 §4.2.2);
   * `fingerprint`: SHA-256 (hex) of the certificate the TLS handshake verified.
   */
  | { readonly kind: "certificate"; readonly facts: CertFacts; readonly fingerprint: string };

export interface EnrollDeps {
  readonly store: Store;
  readonly ca: CertificateAuthority;
  readonly clock: () => number;
  readonly events: GatewayEvents;
  /** Per-device issuance bounds (issuance-limits.ts); the defaults when absent. */
  readonly issuanceLimits?: IssuanceLimits;
}

export interface Enrolled {
  readonly deviceId: string;
  readonly operation: EnrollOperation;
  readonly certificate: IssuedCertificate;
  /** True when a retry was answered with the certificate it had already been issued (redelivery.ts). */
  readonly redelivered?: boolean;
}

/** The outcome of checking a credential: the device it acts for and, for a possible retry, what it may get again. */
export interface CredentialCheck {
  readonly deviceId: string;
  readonly replay?: ReplayCandidate | undefined;
}

/**
 * checkCredential, extended with retries (see redelivery.ts): a token spent on
 * a certificate still within its retry bounds is accepted as a candidate for
 * redelivery only (a new certificate is never issued on it); an authorized
 * manufacturer certificate or renewal carries its device's recent certificates.
 */
export async function checkCredentialOrReplay(store: Repositories, auth: Authorization, now: number): Promise<CredentialCheck> {
  if (auth.kind === "token" && !(await tokenUsable(store, auth.deviceId, auth.token, now))) {
    const replay = await tokenReplay(store, auth, now);
    if (replay) return { deviceId: replay.deviceId, replay };
  }
  const deviceId = await checkCredential(store, auth, now);
  if (auth.kind === "token") return { deviceId };
  return { deviceId, replay: await recentReplay(store, deviceId, auth.facts.serial, now) };
}

/**
 * Enrolls, or answers a retry with the certificate already issued for the CSR's
 * key. A spent token whose CSR carries another key is refused as before (401).
 */
export async function enrollOrReplay(d: EnrollDeps, auth: Authorization, check: CredentialCheck, csrDer: Uint8Array): Promise<Enrolled> {
  if (!check.replay) {
    try {
      return await enrollChecked(d, auth, check.deviceId, csrDer);
    } catch (e) {
      // A concurrent duplicate: the same request spent the token after this one's check (it waited
      // for its body). It is a retry like any other, answered with the certificate that request got.
      const replay = auth.kind === "token" && e instanceof GatewayError && e.code === "FG_TOKEN_INVALID" ? await tokenReplay(d.store, auth, d.clock()) : undefined;
      if (!replay) throw e;
      return replayOrRefuse(d, auth, { deviceId: replay.deviceId, replay }, parseCsr(csrDer), csrDer);
    }
  }
  return replayOrRefuse(d, auth, { deviceId: check.deviceId, replay: check.replay }, parseCsr(csrDer), csrDer);
}

async function replayOrRefuse(d: EnrollDeps, auth: Authorization, check: CredentialCheck & { replay: ReplayCandidate }, csr: ParsedCsr, csrDer: Uint8Array): Promise<Enrolled> {
  // For a token, a replay candidate exists only once the token is spent (checkCredentialOrReplay).
  const spentToken = auth.kind === "token";
  const admitted = admitCsr(csr.facts, check.deviceId);
  const cert = admitted.ok ? pickByKey(check.replay, csr.publicKey) : undefined;
  if (!cert) {
    // A spent token answers every other request exactly as before: nothing tells it apart from a wrong token.
    if (spentToken) throw new GatewayError("FG_TOKEN_INVALID");
    return enrollChecked(d, auth, check.deviceId, csrDer, csr);
  }
  const operation: EnrollOperation = auth.kind === "certificate" ? "simplereenroll" : "simpleenroll";
  await d.store.transaction(async (tx) => {
    await stillDeliverable(tx, cert, d.clock());
    await tx.audit.append({
      at: d.clock(), type: `enroll.${operation}.redelivered`, actor: `device:${check.deviceId}`, deviceId: check.deviceId, serial: cert.serial,
      detail: { method: auth.kind, ...(auth.kind === "token" ? {} : { presentedSerial: auth.facts.serial }) },
    });
  });
  const der = fromPemAll(cert.pem)[0]!;
  return { deviceId: check.deviceId, operation, redelivered: true, certificate: { serial: cert.serial, der, pem: cert.pem, notBefore: cert.notBefore, notAfter: cert.notAfter } };
}

const sameSubject = (a: CertFacts["subject"], b: CertFacts["subject"]) =>
  a.length === b.length && a.every((x, i) => x.type === b[i]!.type && x.value === b[i]!.value);

/**
 * Authentication and the credential's own state: the device id a request acts
 * for, or a refusal (401 bad token, 403 unusable certificate or revoked device).
 * The EST adapter calls it before decoding the body, so a bad credential is
 * answered 401 whatever the body (through checkCredentialOrReplay); enrollChecked() runs for the id it returned.
 */
export async function checkCredential(store: Repositories, auth: Authorization, now: number): Promise<string> {
  const deviceId = await checkAuthorization(store, auth, now);
  await checkDevice(store, auth, deviceId);
  return deviceId;
}

async function checkAuthorization(store: Repositories, auth: Authorization, now: number): Promise<string> {
  // Checked before any work on the CSR; consumed atomically only at the end.
  if (auth.kind === "token") {
    if (!(await tokenUsable(store, auth.deviceId, auth.token, now))) throw new GatewayError("FG_TOKEN_INVALID");
    if (!(await reprovisionAllowed(store, auth.token, auth.deviceId, now))) throw new GatewayError("FG_TOKEN_INVALID", NOT_REPROVISION);
    return auth.deviceId;
  }
  if (auth.kind === "bootstrap") return auth.deviceId;
  const f = auth.facts;
  if (f.role !== "device" || f.commonName === undefined) throw new GatewayError("FG_ROLE_FORBIDDEN", "only device certificates re-enroll");
  const row = await store.certificates.get(f.serial);
  // The registered certificate under this serial must be the one presented (a serial can be copied).
  if (!row || row.deviceId !== f.commonName || !isRegisteredCertificate(row, auth.fingerprint)) throw new GatewayError("FG_CERT_UNKNOWN");
  if (row.status !== "valid") throw new GatewayError("FG_CERT_REVOKED");
  if (now < f.notBefore || now >= f.notAfter) throw new GatewayError("FG_CERT_EXPIRED");
  return f.commonName;
}

/** Whether the device may (still) receive a certificate: unknown devices may (first enrollment), revoked ones never. */
async function checkDevice(store: Repositories, auth: Authorization, deviceId: string): Promise<void> {
  // One name space (names.ts): a service's or admin's name never becomes a device, by token or by manufacturer certificate.
  const taken = deviceNameRefusal(deviceId, await namesOf(store, deviceId));
  if (taken) throw new GatewayError("FG_DEVICE_ID_TAKEN", taken);
  const dev = await store.devices.get(deviceId);
  if (dev?.status === "revoked") throw new GatewayError("FG_DEVICE_REVOKED");
  // A re-enrolling certificate implies a device row; its absence means the registry was tampered with.
  if (!dev && auth.kind === "certificate") throw new GatewayError("FG_DEVICE_UNKNOWN");
}

/**
 * What the registry says about issuing this key to this device now:
 *  - one public key, one identity: a key ever certified (in any status) for
 *    another device, service or admin is refused (409), so a shared or cloned
 *    key cannot be certified twice; the same device renewing with the same key
 *    is allowed (RFC 7030 §4.2.2 lets re-enrollment keep the key);
 *  - the renewal rate (issuance-limits.ts), for credentials the device can
 *    present again and again (its certificate, a manufacturer certificate).
 * Run before signing (cheap refusal) and again inside the transaction that
 * records the certificate, which is what makes it hold under concurrency.
 */
async function checkIssuance(store: Repositories, auth: Authorization, deviceId: string, keyHash: string, now: number, limits: IssuanceLimits): Promise<void> {
  if (await store.certificates.keyCertifiedElsewhere(keyHash, "device", deviceId)) throw new GatewayError("FG_CSR_KEY_REUSED");
  if (auth.kind === "token") return;
  const rate = renewalRate(await store.certificates.issuedSince(deviceId, now - limits.windowMs), now, limits);
  if (!rate.ok) {
    throw new GatewayError("FG_RENEWAL_RATE", `${deviceId} got ${limits.perWindow} certificates within ${limits.windowMs / 1000} s; retry in ${rate.retryAfterSeconds} s`, { retryAfter: rate.retryAfterSeconds });
  }
}

/**
 * Issues a device certificate. Order: the credential's state (403), then the
 * CSR (proof of possession, admission: 400/403), then the key's and the
 * device's issuance bounds (409/429), then signing, then one IMMEDIATE
 * transaction that re-checks the state and the bounds, consumes the token
 * (exactly one concurrent user wins), records device, certificate and audit
 * event, and supersedes the device's certificates beyond the cap.
 * `deviceId` is what checkCredential returned for `auth`.
 * The certificate is committed before this returns, so the HTTP answer can
 * never hand out a certificate the registry does not know.
 */
export async function enrollChecked(d: EnrollDeps, auth: Authorization, deviceId: string, csrDer: Uint8Array, parsed?: ParsedCsr): Promise<Enrolled> {
  const operation: EnrollOperation = auth.kind === "certificate" ? "simplereenroll" : "simpleenroll";

  const csr = parsed ?? parseCsr(csrDer);
  const f = csr.facts;
  // RFC 7030 §4.2.2: a re-enrollment request's subject is identical to the current certificate's.
  // Judged only once possession is proven, like every other claim of the CSR.
  if (auth.kind === "certificate" && f.signatureAlgorithmSupported && f.signatureValid && !sameSubject(f.subject, auth.facts.subject)) {
    throw new GatewayError("FG_CSR_SUBJECT_MISMATCH", "CSR subject differs from the current certificate's subject");
  }
  const decision = admitCsr(f, deviceId);
  if (!decision.ok) throw new GatewayError(decision.code, decision.reason);
  const limits = d.issuanceLimits ?? DEFAULT_ISSUANCE_LIMITS;
  const keyHash = spkiSha256(csr.spkiDer);
  await checkIssuance(d.store, auth, deviceId, keyHash, d.clock(), limits);

  // Every extension comes from the profile; nothing the CSR asks for (CA:TRUE, key usages) is copied.
  const cert = d.ca.issueClient("device", deviceId, csr.spkiDer);
  const now = d.clock();
  const superseded = await d.store.transaction(async (tx): Promise<string[]> => {
    // Re-checked under the write lock: a revocation may have committed since the checks above
    // (it also cancelled the device's tokens; the device's state is the better answer).
    await checkDevice(tx, auth, deviceId);
    if (auth.kind === "token" && !(await tx.tokens.consume(hashToken(auth.token), deviceId, now, cert.serial))) throw new GatewayError("FG_TOKEN_INVALID");
    if (auth.kind === "certificate" && (await tx.certificates.get(auth.facts.serial))?.status !== "valid") throw new GatewayError("FG_CERT_REVOKED");
    // Also under the write lock: two enrollments of one key for two devices, or a burst of renewals, cannot both pass.
    await checkIssuance(tx, auth, deviceId, keyHash, now, limits);
    const reprovisioned = auth.kind === "token" ? await supersedeForToken(tx, auth.token, deviceId, now) : [];
    await tx.devices.ensure(deviceId, now);
    const presented = auth.kind === "certificate" ? auth.facts.serial : undefined;
    const capped: string[] = [];
    for (const s of toSupersede(await tx.certificates.validOldestFirst(deviceId, now), limits, presented)) if (await tx.certificates.supersede(s, now)) capped.push(s);
    // Logged per serial with no device id: sessions presenting a superseded certificate are closed
    // and the CRL is rebuilt, while the device's other sessions (on its newer certificates) stay.
    for (const s of capped) await tx.revocations.append(null, s, now);
    const superseded = [...reprovisioned, ...capped];
    await tx.certificates.insert({
      serial: cert.serial, role: "device", name: deviceId, deviceId,
      notBefore: cert.notBefore, notAfter: cert.notAfter, issuedAt: now, pem: cert.pem, spkiSha256: keyHash,
    });
    await tx.audit.append({
      at: now, type: `enroll.${operation}`, actor: `device:${deviceId}`, deviceId, serial: cert.serial,
      detail: {
        method: auth.kind,
        notAfter: new Date(cert.notAfter).toISOString(),
        ...(auth.kind === "token" ? {} : { presentedSerial: auth.facts.serial }),
        ...(superseded.length > 0 ? { superseded } : {}),
      },
    });
    return superseded;
  });
  // The replaced certificates' live sessions are closed (by serial: the device's new session stays).
  if (superseded.length > 0) d.events.emit("revoked", { deviceId: null, serials: superseded, reason: "superseded" });
  d.events.emit("enrolled", { deviceId, serial: cert.serial, op: operation });
  return { deviceId, operation, certificate: cert };
}

const NOT_REPROVISION = "device already has a valid certificate and this token was not created to re-provision it";

/** A token enrolls a device that holds a valid certificate only if it was created with `reprovision`. */
async function reprovisionAllowed(store: Repositories, token: string, deviceId: string, now: number): Promise<boolean> {
  return !(await store.certificates.hasValid(deviceId, now)) || (await store.tokens.get(hashToken(token)))?.reprovision === true;
}

/**
 * Inside the enrollment transaction, for a token enrollment of a device that
 * already holds a valid certificate: only a token created with `reprovision`
 * may replace it, and then every valid certificate of the device is revoked as
 * superseded (RFC 5280 §5.3.1), logged for every broker to close its sessions.
 */
async function supersedeForToken(store: Repositories, token: string, deviceId: string, now: number): Promise<string[]> {
  if (!(await store.certificates.hasValid(deviceId, now))) return [];
  // The device holds a valid certificate, so only a re-provisioning token may replace it (reprovisionAllowed, without asking hasValid again).
  if ((await store.tokens.get(hashToken(token)))?.reprovision !== true) throw new GatewayError("FG_TOKEN_INVALID", NOT_REPROVISION);
  const serials = await store.certificates.revokeForDevice(deviceId, "superseded", now);
  for (const s of serials) await store.revocations.append(null, s, now);
  return serials;
}

export interface Refusal {
  readonly operation: EnrollOperation;
  readonly code: ErrorCode;
  readonly deviceId?: string | undefined;
  readonly address?: string | undefined;
}

/**
 * Records a refused enrollment in the audit trail: the code and the device when
 * known, never the token. Auditing must not turn a refusal into a crash, so a
 * failing write (database closed at shutdown) is logged and swallowed.
 */
export async function auditRefusal(d: { store: Store; clock: () => number; log: Logger }, r: Refusal): Promise<void> {
  try {
    await d.store.audit.append({
      at: d.clock(), type: "enroll.refused", code: r.code, deviceId: r.deviceId ?? null,
      detail: { operation: r.operation, ...(r.address ? { address: r.address } : {}) },
    });
  } catch (e) {
    d.log.error({ err: e, code: r.code, deviceId: r.deviceId }, "could not audit a refused enrollment");
  }
}
