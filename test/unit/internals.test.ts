import { test } from "node:test";
import assert from "node:assert/strict";
import { checkInternals, installedVersions, internalsMismatches, WRITTEN_FOR, type InstalledVersions } from "../../broker/internals.js";

const good: InstalledVersions = { aedes: "1.2.0", mqemitter: "7.1.0", "mqtt-packet": "9.0.2", "aedes-persistence": "11.0.0", node: "20.20.2" };

test("the installed aedes, mqemitter, mqtt-packet, aedes-persistence and Node.js are the ones broker/internals.ts was written for", () => {
  const v = installedVersions();
  for (const name of ["aedes", "mqemitter", "mqtt-packet", "aedes-persistence"] as const) assert.match(v[name], /^\d+\.\d+\.\d+/, `${name} version found`);
  assert.deepEqual(internalsMismatches(v), []);
  assert.doesNotThrow(() => checkInternals());
});

test("a different version of any patched package fails the check, naming it", () => {
  assert.deepEqual(internalsMismatches(good), []);
  for (const [name, version] of [["aedes", "1.2.1"], ["mqemitter", "7.2.0"], ["mqtt-packet", "9.0.3"], ["aedes-persistence", "10.0.0"]] as const) {
    const v = { ...good, [name]: version };
    const bad = internalsMismatches(v);
    assert.equal(bad.length, 1);
    assert.match(bad[0]!, new RegExp(`^${name} ${version.replace(/\./g, "\\.")} is installed.*written for ${String(WRITTEN_FOR[name]).replace(/\./g, "\\.")}`));
    assert.throws(() => checkInternals(v), (e: Error) => e.message.includes(`${name} ${version}`) && e.message.includes("broker/internals.ts"));
  }
});

test("a package that cannot be found, or a Node.js major it was not written for, fails the check", () => {
  assert.match(internalsMismatches({ ...good, mqemitter: "" })[0]!, /^mqemitter .* is installed/);
  assert.deepEqual(internalsMismatches({ ...good, node: "22.11.0" }), []);
  const bad = internalsMismatches({ ...good, node: "23.1.0" });
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^node 23\.1\.0 is running/);
  assert.throws(() => checkInternals({ ...good, node: "18.20.0" }), /node 18\.20\.0/);
});
