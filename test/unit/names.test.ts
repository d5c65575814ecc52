import { test } from "node:test";
import assert from "node:assert/strict";
import { credentialNameRefusal, deviceNameRefusal, type NameOwners } from "../../pki/principal-names.js";
import { clientIdRefusal, takeoverRefusal, type Identity, type NameRegistry } from "../../broker/identity.js";
import { SessionOwners } from "../../broker/session-owners.js";
import type { Role } from "../../db/types.js";

const none: NameOwners = { device: false, credential: undefined };

test("a device id may not be a credential's name, nor the reserved admin name", () => {
  assert.equal(deviceNameRefusal("dev-1", none), undefined);
  assert.equal(deviceNameRefusal("dev-1", { device: true, credential: undefined }), undefined);
  assert.match(deviceNameRefusal("backend", { device: false, credential: "service" })!, /service credential/);
  assert.match(deviceNameRefusal("admin", none)!, /reserved/);
  assert.equal(deviceNameRefusal("Admin", none), undefined, "clientIds are case-sensitive, so is the name space");
});

test("a credential name may not be a device id, another role's name, or nest with another credential's name", () => {
  const others = [{ name: "s" }, { name: "admin" }, { name: "x-y" }];
  assert.equal(credentialNameRefusal("backend", "service", none, others), undefined);
  assert.equal(credentialNameRefusal("s", "service", { device: false, credential: "service" }, others), undefined, "rotation under the same name and role");
  assert.match(credentialNameRefusal("s", "admin", { device: false, credential: "service" }, others)!, /service credential/);
  assert.match(credentialNameRefusal("dev-1", "service", { device: true, credential: undefined }, others)!, /device id/);
  assert.match(credentialNameRefusal("admin", "service", none, others)!, /reserved/);
  assert.equal(credentialNameRefusal("admin", "admin", { device: false, credential: "admin" }, others), undefined);
  assert.match(credentialNameRefusal("s-b", "service", none, others)!, /inside the clientIds of credential "s"/);
  assert.match(credentialNameRefusal("s-b-c", "service", none, others)!, /credential "s"/);
  assert.match(credentialNameRefusal("x", "service", none, others)!, /credential "x-y"/);
  assert.match(credentialNameRefusal("admin-tool", "service", none, others)!, /credential "admin"/);
  assert.equal(credentialNameRefusal("sb", "service", none, others), undefined, "no '-': no nesting");
  assert.equal(credentialNameRefusal("s_b", "service", none, others), undefined);
});

function registry(devices: string[], creds: Record<string, Role>): NameRegistry {
  return { isDevice: async (n) => devices.includes(n), credentialRole: async (n) => (Object.hasOwn(creds, n) ? creds[n] : undefined) };
}
const id = (role: Role, name: string): Identity => ({ role, name, serial: "01", fingerprint: "ab" });

test("clientId rule: a clientId belongs to exactly one principal", async () => {
  const r = registry(["d1", "s-dev", "backend"], { s: "service", "s-b": "service", admin: "admin", backend: "service" });
  const code = async (i: Identity, c: string) => (await clientIdRefusal(i, c, r))?.code;
  // Devices: their id only, and never a credential's name.
  assert.equal(await code(id("device", "d1"), "d1"), undefined);
  assert.equal(await code(id("device", "d1"), "d1-x"), "FG_MQTT_CLIENTID_MISMATCH");
  assert.equal(await code(id("device", "backend"), "backend"), "FG_DEVICE_ID_TAKEN", "a device named like a service never takes its clientId");
  assert.equal(await code(id("device", "admin"), "admin"), "FG_DEVICE_ID_TAKEN");
  // Credentials: their name, or <name>-<suffix> not owned by anyone else.
  assert.equal(await code(id("service", "s"), "s"), undefined);
  assert.equal(await code(id("service", "s"), "s-worker"), undefined);
  assert.equal(await code(id("service", "s"), "sX"), "FG_MQTT_CLIENTID_MISMATCH");
  assert.equal(await code(id("service", "s"), "s-b"), "FG_MQTT_CLIENTID_TAKEN", "another service's exact name");
  assert.equal(await code(id("service", "s"), "s-b-1"), "FG_MQTT_CLIENTID_TAKEN", "the longer prefix s-b owns it");
  assert.equal(await code(id("service", "s"), "s-b-c-d"), "FG_MQTT_CLIENTID_TAKEN");
  assert.equal(await code(id("service", "s-b"), "s-b-1"), undefined);
  assert.equal(await code(id("service", "s"), "s-dev"), "FG_MQTT_CLIENTID_TAKEN", "a device id");
  assert.equal(await code(id("service", "backend"), "backend"), undefined, "a name held by both (old registry): the credential keeps it, the device is refused");
  assert.equal(await code(id("admin", "admin"), "admin-console"), undefined);
  assert.equal(await code(id("service", "s"), `s-${"x".repeat(100)}`), undefined, "long clientIds are no registered names");
  assert.equal(await code(id("service", "s"), "s-b/évil"), undefined, "not a name: nobody else owns it");
});

test("a live session is taken over only by the same principal", () => {
  assert.equal(takeoverRefusal(id("device", "d1"), undefined, "d1"), undefined);
  assert.equal(takeoverRefusal(id("device", "d1"), { role: "device", name: "d1", serial: "02", fingerprint: "cd" }, "d1"), undefined, "renewed certificate, same device");
  assert.equal(takeoverRefusal(id("device", "s-x"), id("service", "s"), "s-x")?.code, "FG_MQTT_CLIENTID_TAKEN");
  assert.equal(takeoverRefusal(id("admin", "x"), id("service", "x"), "x")?.code, "FG_MQTT_CLIENTID_TAKEN");
});

test("session state left under a clientId by another principal is discarded", () => {
  const o = new SessionOwners();
  assert.equal(o.claim("s-x", "service:s", false, false), false);
  assert.equal(o.claim("s-x", "service:s", false, false), false, "same principal keeps its session");
  assert.equal(o.claim("s-x", "device:s-x", true, false), true, "the new owner starts clean");
  assert.equal(o.size, 0, "a principal's own name needs no entry");
  assert.equal(o.claim("t-1", "service:t", false, true), false);
  assert.equal(o.size, 0, "a clean session leaves nothing behind");
  o.claim("u-1", "service:u", false, false);
  assert.equal(o.claim("u-1", "service:u-1", false, false), true);
  assert.equal(o.claim("u-1", "service:u-1", false, false), false);
});
