import type { PeerCertificate } from "../pki/peer.js";
import type { CertStanding, Role } from "../db/types.js";
import type { ErrorCode } from "../errors.js";
import { OID, isValidName } from "../pki/roles.js";
import { deviceNameRefusal } from "../pki/principal-names.js";

/**
 * Who an MQTT client is, decided from its certificate alone (README "MQTT").
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
  /** SHA-256 (lowercase hex) of the certificate the TLS handshake verified. */
  readonly fingerprint: string;
}

/** What the socket layer knows about the peer certificate: pki/peer.ts, cached per fingerprint. */
export type { PeerCertificate } from "../pki/peer.js";

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
  return { ok: true, identity: Object.freeze({ role: f.role, name: f.commonName, serial: f.serial, fingerprint: cert.fingerprint }) };
}

/**
 * README "MQTT" clientId binding: a device's clientId is its device id; a service's
 * or admin's is its name or starts with `<name>-`. So a device cannot take over
 * another device's session ([MQTT-3.1.4-2] would close the older one).
 */
export function clientIdBound(identity: Identity, clientId: string): boolean {
  if (identity.role === "device") return clientId === identity.name;
  return clientId === identity.name || clientId.startsWith(`${identity.name}-`);
}

/** Who holds a name in the registry (enroll/names.ts: one name space for devices and credentials). */
export interface NameRegistry {
  /** A device row exists, or a token was ever created for this id. */
  isDevice(name: string): Promise<boolean>;
  /** The role of the service/admin credential issued under this name, if any. */
  credentialRole(name: string): Promise<Role | undefined>;
}

/** Longest name the grammar allows: no prefix longer than this can be a registered name. */
const MAX_NAME = 64;

/**
 * The clientId rule (README "MQTT", made unambiguous): a clientId belongs to exactly
 * one principal, so no identity can take over another's session [MQTT-3.1.4-2].
 *  - A device uses its device id, and only if that id is no credential's name
 *    (where a registry from before this rule holds both, the credential keeps it).
 *  - A service or admin uses its name, or
 *    `<name>-<suffix>` when that clientId is not itself a registered name (device
 *    or credential) and no longer credential name `<name>-…` owns it (longest
 *    prefix wins: with `s` and `s-b`, `s-b-1` is `s-b`'s, never `s`'s).
 * Pure but for the registry lookups: identity, clientId and a registry in, refusal or undefined out.
 */
export async function clientIdRefusal(identity: Identity, clientId: string, names: NameRegistry): Promise<Refusal | undefined> {
  if (!clientIdBound(identity, clientId)) {
    return refuse("FG_MQTT_CLIENTID_MISMATCH", `clientId ${JSON.stringify(clientId)} is not bound to ${identity.role} ${identity.name}`);
  }
  if (identity.role === "device") {
    const role = await names.credentialRole(identity.name);
    const why = deviceNameRefusal(identity.name, { device: true, credential: role === "service" || role === "admin" ? role : undefined });
    return why ? refuse("FG_DEVICE_ID_TAKEN", why) : undefined;
  }
  // A credential's own name is its own: a device by that name is refused above, so it never holds this clientId.
  if (clientId === identity.name) return undefined;
  if (isValidName(clientId) && ((await names.isDevice(clientId)) || (await names.credentialRole(clientId)) !== undefined)) {
    return refuse("FG_MQTT_CLIENTID_TAKEN", `clientId ${JSON.stringify(clientId)} is the name of another device or credential`);
  }
  for (let i = clientId.indexOf("-", identity.name.length + 1); i > 0 && i <= MAX_NAME; i = clientId.indexOf("-", i + 1)) {
    const owner = clientId.slice(0, i);
    if (isValidName(owner) && (await names.credentialRole(owner)) !== undefined) {
      return refuse("FG_MQTT_CLIENTID_TAKEN", `clientId ${JSON.stringify(clientId)} belongs to credential ${owner} (${owner}-…)`);
    }
  }
  return undefined;
}

/** The principal behind an identity: all certificates of one device or credential share it. */
export const principalOf = (id: Identity): string => `${id.role}:${id.name}`;

/**
 * [MQTT-3.1.4-2] closes a live session when a client connects with its clientId.
 * That takeover is allowed only from the same principal (a device reconnecting,
 * perhaps with a renewed certificate), never from another identity.
 */
export function takeoverRefusal(newcomer: Identity, holder: Identity | undefined, clientId: string): Refusal | undefined {
  if (!holder || principalOf(holder) === principalOf(newcomer)) return undefined;
  return refuse("FG_MQTT_CLIENTID_TAKEN", `clientId ${JSON.stringify(clientId)} is held by a live session of ${holder.role} ${holder.name}`);
}

/**
 * The registry's verdict on an identity: the certificate must be registered
 * (the very certificate, by its DER fingerprint, not merely its serial) under
 * the same role and name and be valid; a device must exist and be active.
 * Returns undefined when admitted.
 */
export function registryRefusal(identity: Identity, standing: CertStanding | undefined): Refusal | undefined {
  if (!standing) return refuse("FG_CERT_UNKNOWN", "certificate is not in the registry");
  if (standing.fingerprint !== identity.fingerprint) return refuse("FG_CERT_UNKNOWN", "registered certificate with this serial is a different certificate");
  if (standing.role !== identity.role || standing.name !== identity.name) return refuse("FG_CERT_UNKNOWN", "registry identity differs from the certificate");
  if (identity.role === "device") {
    if (standing.deviceId !== identity.name || standing.deviceStatus === null) return refuse("FG_DEVICE_UNKNOWN", "device is unknown");
    if (standing.deviceStatus !== "active") return refuse("FG_DEVICE_REVOKED", "device is revoked");
  }
  if (standing.status !== "valid") return refuse("FG_CERT_REVOKED", "certificate is revoked");
  return undefined;
}

/**
 * The identity fields of every ACL and limit log line: `deviceId` for a device,
 * `name` and `role` for a service or admin, and the certificate serial.
 */
export function who(id: { role: string; name: string | undefined; serial: string } | undefined): { deviceId?: string; name?: string; role?: string; serial?: string } {
  if (!id) return {};
  return id.role === "device" ? { deviceId: id.name, serial: id.serial } : { name: id.name, role: id.role, serial: id.serial };
}
