/** Who a certificate speaks for (README "Architecture", roles). The registry stores the same names. */
export type Role = "device" | "service" | "admin";

/**
 * The role travels in the certificate as a certificate policy OID that only the
 * profile sets (never copied from a CSR), so a device cannot claim "admin".
 * The arc below is fleetgate's private arc; it is documented in the README.
 */
export const ROLE_POLICY_OIDS: Readonly<Record<Role, string>> = Object.freeze({
  device: "1.3.6.1.4.1.59595.1.1.1",
  service: "1.3.6.1.4.1.59595.1.1.2",
  admin: "1.3.6.1.4.1.59595.1.1.3",
});

export function roleFromPolicyOids(oids: readonly string[]): Role | undefined {
  const found = (Object.keys(ROLE_POLICY_OIDS) as Role[]).filter((r) => oids.includes(ROLE_POLICY_OIDS[r]));
  // Exactly one role policy, or none: a certificate carrying two roles is not trusted for either.
  return found.length === 1 ? found[0] : undefined;
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** README "Architecture", roles: the device id (and service/admin name) grammar. */
export function isValidName(s: unknown): s is string {
  return typeof s === "string" && NAME_RE.test(s);
}

export const OID = Object.freeze({
  commonName: "2.5.4.3",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  extensionRequest: "1.2.840.113549.1.9.14",
  challengePassword: "1.2.840.113549.1.9.7",
});
