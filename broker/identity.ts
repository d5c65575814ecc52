import type { PeerFacts } from "./peer-facts.js";
import type { CertStanding, Role } from "../db/types.js";
import type { ErrorCode } from "../errors.js";
import { OID, isValidName } from "../enroll/roles.js";

/**
 * Who an MQTT client is, decided from its certificate alone (CONTRACT §5).
 * Pure: facts in, identity or refusal out. The TLS layer has already verified
 * the chain against the gateway's CAs; this adds what OpenSSL does not know:
 * that the direct issuer is the ISSUING CA (not merely some certificate under
 * the root), that the leaf is a client leaf, and which single role it carries.
 */
export interface Identity {
  readonly role: Role;
  /** The certificate CN: the device id for devices, the service/admin name otherwise. */
  readonly name: string;
  /** Canonical serial (lowercase hex), the registry key. */
  readonly serial: string;
}

/** What the socket layer knows about the peer certificate (cached per fingerprint). */
export interface PeerCertificate {
  /** undefined when the DER could not be parsed (OpenSSL accepted it, our ASN.1 reader did not). */
  readonly facts: PeerFacts | undefined;
  /** The leaf was signed by the gateway's issuing CA (issuer name, key identifier and signature). */
  readonly issuedByIssuingCa: boolean;
  /** Why the leaf's public key proves nothing (enroll/key-strength.ts), when it is degenerate. */
  readonly keyWeakness?: string | undefined;
}

export type Refusal = { readonly ok: false; readonly code: ErrorCode; readonly reason: string };
export type IdentityResult = { readonly ok: true; readonly identity: Identity } | Refusal;

const refuse = (code: ErrorCode, reason: string): Refusal => ({ ok: false, code, reason });

export function identify(cert: PeerCertificate | undefined, now: number): IdentityResult {
  if (!cert) return refuse("FG_MQTT_NO_CERT", "no verified client certificate");
  const f = cert.facts;
  if (!f) return refuse("FG_MQTT_CERT_INVALID", "certificate could not be parsed");
  if (!cert.issuedByIssuingCa) return refuse("FG_MQTT_CERT_INVALID", "not issued by the gateway's issuing CA");
  // TLS client authentication is a signature under the certificate's key; under a degenerate key anyone can make it.
  if (cert.keyWeakness) return refuse("FG_MQTT_CERT_INVALID", `certificate key proves nothing: ${cert.keyWeakness}`);
  if (f.isCA) return refuse("FG_MQTT_CERT_INVALID", "a CA certificate cannot be a client");
  if (!f.extKeyUsage.includes(OID.clientAuth)) return refuse("FG_MQTT_CERT_INVALID", "extended key usage lacks clientAuth");
  if (f.role === undefined) return refuse("FG_MQTT_CERT_INVALID", "certificate carries no role policy, or more than one");
  if (!isValidName(f.commonName)) return refuse("FG_MQTT_CERT_INVALID", "certificate CN is missing or not a valid name");
  // RFC 5280 §4.1.2.5: the validity period includes both bounds. Checked on every
  // CONNECT because a resumed TLS session skips OpenSSL's date check.
  if (now < f.notBefore) return refuse("FG_CERT_EXPIRED", "certificate is not yet valid");
  if (now > f.notAfter) return refuse("FG_CERT_EXPIRED", "certificate is expired");
  return { ok: true, identity: Object.freeze({ role: f.role, name: f.commonName, serial: f.serial }) };
}

/**
 * CONTRACT §5 clientId binding: a device's clientId is its device id; a service's
 * or admin's is its name or starts with `<name>-`. So a device cannot take over
 * another device's session ([MQTT-3.1.4-2] would close the older one).
 */
export function clientIdBound(identity: Identity, clientId: string): boolean {
  if (identity.role === "device") return clientId === identity.name;
  return clientId === identity.name || clientId.startsWith(`${identity.name}-`);
}

/**
 * The registry's verdict on an identity: the certificate must be registered
 * under the same role and name and be valid; a device must exist and be active.
 * Returns undefined when admitted.
 */
export function registryRefusal(identity: Identity, standing: CertStanding | undefined): Refusal | undefined {
  if (!standing) return refuse("FG_CERT_UNKNOWN", "certificate is not in the registry");
  if (standing.role !== identity.role || standing.name !== identity.name) return refuse("FG_CERT_UNKNOWN", "registry identity differs from the certificate");
  if (identity.role === "device") {
    if (standing.deviceId !== identity.name || standing.deviceStatus === null) return refuse("FG_DEVICE_UNKNOWN", "device is unknown");
    if (standing.deviceStatus !== "active") return refuse("FG_DEVICE_REVOKED", "device is revoked");
  }
  if (standing.status !== "valid") return refuse("FG_CERT_REVOKED", "certificate is revoked");
  return undefined;
}
