import type { Role } from "../db/types.js";
import { OID, ROLE_POLICY_OIDS } from "../pki/roles.js";
import type { CertTemplate } from "../pki/template.js";

/**
 * Certificate profiles as pure data. The profile alone decides every extension
 * of an issued certificate; nothing a CSR requests is copied (RFC 7030 §4.2.1
 * leaves the choice to the CA; RFC 5280 §4.2 defines the extensions).
 */
export type { CertTemplate, KeyUsageName } from "../pki/template.js";

/** notBefore is backdated so a device whose clock is a little behind still accepts its certificate. */
export const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;

/** X.509 times have one-second resolution; keep the registry exactly in step with the certificate. */
const floorSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

function validity(now: number, days: number) {
  return { notBefore: new Date(floorSecond(now - BACKDATE_MS)), notAfter: new Date(floorSecond(now + days * DAY_MS)) };
}

/** Device, service and admin client certificates: CA:FALSE, digitalSignature, clientAuth, the role policy. */
export function clientProfile(p: { role: Role; name: string; now: number; days: number; crlUrl: string }): CertTemplate {
  return {
    subjectCN: p.name,
    ...validity(p.now, p.days),
    ca: false,
    keyUsage: ["digitalSignature"],
    extKeyUsage: [OID.clientAuth],
    policies: [ROLE_POLICY_OIDS[p.role]],
    crlUrl: p.crlUrl,
  };
}

export function serverProfile(p: { name: string; hostnames: readonly string[]; now: number; days: number }): CertTemplate {
  const ip = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(":");
  return {
    subjectCN: p.name,
    ...validity(p.now, p.days),
    ca: false,
    keyUsage: ["digitalSignature"],
    extKeyUsage: [OID.serverAuth],
    policies: [],
    dnsNames: p.hostnames.filter((h) => !ip(h)),
    ipAddresses: p.hostnames.filter(ip),
  };
}

export function caProfile(p: { name: string; now: number; days: number; pathLen?: number }): CertTemplate {
  return {
    subjectCN: p.name,
    ...validity(p.now, p.days),
    ca: true,
    ...(p.pathLen === undefined ? {} : { pathLen: p.pathLen }),
    keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"],
    extKeyUsage: [],
    policies: [],
  };
}
