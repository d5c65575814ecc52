import type { Store } from "../db/store.js";
import { GatewayError } from "../errors.js";
import { type NameOwners, credentialNameRefusal, deviceNameRefusal } from "../pki/principal-names.js";
import type { Role } from "../pki/roles.js";

/* The name-space rules themselves are pure and live in pki/principal-names.ts; these read the registry for them. */

/** Reads who holds a name in the registry. */
export function namesOf(store: Store, name: string): NameOwners {
  const role = store.certificates.credentialRole(name);
  return {
    device: store.devices.get(name) !== undefined || store.tokens.everIssued(name),
    credential: role === "service" || role === "admin" ? role : undefined,
  };
}

/** Throws FG_NAME_TAKEN when `deviceId` may not be a device id (token creation). */
export function assertDeviceName(store: Store, deviceId: string): void {
  const why = deviceNameRefusal(deviceId, namesOf(store, deviceId));
  if (why) throw new GatewayError("FG_NAME_TAKEN", `${why}; device ids and credential names share one name space`);
}

/** Throws FG_NAME_TAKEN when a credential of `role` may not be issued under `name`. */
export function assertCredentialName(store: Store, name: string, role: Exclude<Role, "device">): void {
  const why = credentialNameRefusal(name, role, namesOf(store, name), store.certificates.credentialNames());
  if (why) throw new GatewayError("FG_NAME_TAKEN", `${why}; device ids and credential names share one name space`);
}
