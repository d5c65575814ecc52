import type { Repositories } from "../db/store.js";
import type { Role } from "../db/types.js";
import { GatewayError } from "../errors.js";

/**
 * One name space for every principal. A name belongs to exactly one of:
 *  - a device: it has a registry row, or a bootstrap token was ever created for it;
 *  - a service or admin credential: a certificate of that role was issued under it.
 * The name is the MQTT clientId (a credential may also use `<name>-<suffix>`), so two
 * principals sharing a name, or one credential's name lying inside another's
 * `<name>-` range, would let one take over the other's session [MQTT-3.1.4-2].
 * These rules are pure; `namesOf` reads the registry for them.
 */
export interface NameOwners {
  /** A device row exists, or a token was ever created for this id. */
  readonly device: boolean;
  /** The role of the credential issued under this name, if any. */
  readonly credential: Exclude<Role, "device"> | undefined;
}

/** Names held for a credential whatever the registry says: the default admin credential is `admin`. */
export const RESERVED_NAMES: Readonly<Record<string, Exclude<Role, "device">>> = Object.freeze({ admin: "admin" });

const reservedFor = (name: string) => (Object.hasOwn(RESERVED_NAMES, name) ? RESERVED_NAMES[name] : undefined);

/** Why `id` may not become (or stay) a device id, or undefined when it may. */
export function deviceNameRefusal(id: string, owners: NameOwners): string | undefined {
  const reserved = reservedFor(id);
  if (reserved) return `"${id}" is reserved for the ${reserved} credential`;
  if (owners.credential) return `"${id}" is the name of a ${owners.credential} credential`;
  return undefined;
}

/**
 * Why a credential of `role` may not be issued under `name`, or undefined when it
 * may. Re-issuing a credential under its own name and role (rotation) is allowed.
 * `others` are the names of the credentials already issued.
 */
export function credentialNameRefusal(name: string, role: Exclude<Role, "device">, owners: NameOwners, others: readonly { name: string }[]): string | undefined {
  const reserved = reservedFor(name);
  if (reserved && reserved !== role) return `"${name}" is reserved for the ${reserved} credential`;
  if (owners.device) return `"${name}" is a device id`;
  if (owners.credential && owners.credential !== role) return `"${name}" is the name of a ${owners.credential} credential`;
  for (const o of others) {
    if (o.name === name) continue;
    // Each credential may use clientIds `<name>-…`: the two ranges must not nest.
    if (name.startsWith(`${o.name}-`)) return `"${name}" lies inside the clientIds of credential "${o.name}" (${o.name}-…)`;
    if (o.name.startsWith(`${name}-`)) return `credential "${o.name}" lies inside the clientIds "${name}-…" would claim`;
  }
  return undefined;
}

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
