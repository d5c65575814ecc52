import type { Repositories } from "../db/store.js";
import { GatewayError } from "../errors.js";
import { type NameOwners, credentialNameRefusal, deviceNameRefusal } from "../pki/principal-names.js";
import type { Role } from "../pki/roles.js";

/* The name-space rules themselves are pure and live in pki/principal-names.ts; these read the registry for them. */

/** Reads who holds a name in the registry. */
export async function namesOf(store: Repositories, name: string): Promise<NameOwners> {
  const role = await store.certificates.credentialRole(name);
  return {
    device: (await store.devices.get(name)) !== undefined || (await store.tokens.everIssued(name)),
    credential: role === "service" || role === "admin" ? role : undefined,
  };
}

/** Throws FG_NAME_TAKEN when `deviceId` may not be a device id (token creation). */
export async function assertDeviceName(store: Repositories, deviceId: string): Promise<void> {
  const why = deviceNameRefusal(deviceId, await namesOf(store, deviceId));
  if (why) throw new GatewayError("FG_NAME_TAKEN", `${why}; device ids and credential names share one name space`);
}

/** Throws FG_NAME_TAKEN when a credential of `role` may not be issued under `name`. */
export async function assertCredentialName(store: Repositories, name: string, role: Exclude<Role, "device">): Promise<void> {
  const why = credentialNameRefusal(name, role, await namesOf(store, name), await store.certificates.credentialNames());
  if (why) throw new GatewayError("FG_NAME_TAKEN", `${why}; device ids and credential names share one name space`);
}
