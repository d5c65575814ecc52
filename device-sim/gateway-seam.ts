/**
 * The simulator's one door into the gateway's enrollment code. Everything else
 * in device-sim/ talks to a gateway over the wire (EST, MQTT, the admin API),
 * as a real device would, and stands only on pki/ and db/. Only `sim --data`
 * (running next to a gateway, on its data directory) needs the gateway's own
 * operations, and it must use exactly the code the gateway uses rather than a
 * copy that could drift:
 *  - createTokenIn: mint bootstrap tokens (in one registry transaction) (what `gateway token create` does);
 *  - issueCredential + openCa: issue the `service` credential for the telemetry
 *    subscriber (what `gateway cert issue` does); openCa reads the issuing key
 *    into the CA object, so the simulator never holds the key itself;
 * test/unit/import-rules.test.ts keeps every other device-sim file away from enroll/.
 */
export { createTokenIn } from "../enroll/tokens.js";
export { issueCredential } from "../enroll/credentials.js";
export { openCa } from "../enroll/pki.js";
