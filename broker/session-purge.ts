import type { Readable } from "node:stream";
import type { Store } from "../db/store.js";
import type { Logger } from "../log.js";
import type { RevocationNotice } from "./revocation.js";

/** The parts of the aedes persistence interface (aedes-persistence 10) a purge uses. */
export interface SessionPersistence {
  createRetainedStreamCombi(patterns: string[]): Readable;
  storeRetained(packet: { cmd: "publish"; topic: string; payload: Buffer; qos: 0; retain: true; dup: false }): Promise<void>;
  subscriptionsByClient(client: { id: string }): Promise<{ topic: string }[]>;
  cleanSubscriptions(client: { id: string }): Promise<void>;
  outgoingStream(client: { id: string }): Readable;
  outgoingClearMessageId(client: { id: string }, packet: object): Promise<unknown>;
  cleanIncoming?(client: { id: string }): Promise<void>;
  delWill(client: { id: string }): Promise<unknown>;
}

/** What one purge removed. */
export interface Purged {
  retained: number;
  subscriptions: number;
  queued: number;
  will: number;
}

const ZERO: Purged = Object.freeze({ retained: 0, subscriptions: 0, queued: 0, will: 0 });
const sum = (a: Purged, b: Purged): Purged => ({
  retained: a.retained + b.retained, subscriptions: a.subscriptions + b.subscriptions, queued: a.queued + b.queued, will: a.will + b.will,
});

/**
 * Removes what a device leaves in the broker's store: its retained messages
 * (every topic under `devices/<id>/`, `devices/<id>` itself included) and its
 * persistent session, keyed by its clientId, which is its device id: stored
 * subscriptions, queued outgoing messages, QoS 2 state and will. An empty
 * retained payload deletes a retained message ([MQTT-3.3.1-10]).
 */
export async function purgeDevice(p: SessionPersistence, deviceId: string): Promise<Purged> {
  const client = { id: deviceId };
  const topics: string[] = [];
  for await (const packet of p.createRetainedStreamCombi([`devices/${deviceId}/#`])) topics.push((packet as { topic: string }).topic);
  for (const topic of topics) await p.storeRetained({ cmd: "publish", topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
  // Subscriptions first: nothing new is queued for the session after this.
  const subscriptions = (await p.subscriptionsByClient(client)).length;
  await p.cleanSubscriptions(client);
  let queued = 0;
  for await (const packet of p.outgoingStream(client)) {
    await p.outgoingClearMessageId(client, packet as object);
    queued++;
  }
  await p.cleanIncoming?.(client);
  const will = (await p.delWill(client)) ? 1 : 0;
  return { retained: topics.length, subscriptions, queued, will };
}

/**
 * Purges the MQTT state of every device revocation this process learns of
 * (revocation.ts), whatever the reason: a revoked device id must not leave
 * retained messages that new subscribers still receive, nor a session that
 * keeps queueing commands. Only when the registry says the device is revoked
 * (a notice for single certificates, such as a renewal's superseded one, leaves
 * the device's session alone). The same revocation arrives twice in the
 * revoking process (event, then log); each purges, and the log's notice writes
 * one `mqtt.session_purged` audit event per process with the totals.
 */
export class SessionPurger {
  private readonly pending = new Map<string, Promise<Purged>>();

  constructor(
    private readonly d: { store: Store; log: Logger; clock: () => number },
    private readonly persistence: () => SessionPersistence,
  ) {}

  /** `closed` resolves once the device's live sessions in this process are closed. */
  onRevoked(n: RevocationNotice, closed: Promise<unknown>): void {
    const deviceId = n.deviceId;
    if (!deviceId) return;
    this.d.store.devices.get(deviceId).then(
      (dev) => {
        if (dev?.status === "revoked") this.purge(deviceId, n, closed);
      },
      (err: unknown) => this.d.log.error({ err, code: "FG_INTERNAL", deviceId }, "cannot read a revoked device's status; its MQTT state is not purged"),
    );
  }

  private purge(deviceId: string, n: RevocationNotice, closed: Promise<unknown>): void {
    const before = this.pending.get(deviceId) ?? Promise.resolve(ZERO);
    const next = Promise.all([before, closed]).then(([acc]) =>
      purgeDevice(this.persistence(), deviceId).then((p) => sum(acc, p), (err: unknown) => {
        this.d.log.error({ err, code: "FG_INTERNAL", deviceId }, "cannot purge a revoked device's MQTT state");
        return acc;
      }));
    this.pending.set(deviceId, next);
    if (n.source !== "log") return;
    void next.then((total) => {
      if (this.pending.get(deviceId) === next) this.pending.delete(deviceId);
      this.d.log.info({ code: "FG_DEVICE_REVOKED", deviceId, ...total }, "revoked device's retained messages and MQTT session purged");
      this.d.store.audit.append({ at: this.d.clock(), type: "mqtt.session_purged", actor: "system", deviceId, detail: { retainedTopics: `devices/${deviceId}/#`, ...total } })
        .catch((err: unknown) => this.d.log.error({ err, code: "FG_INTERNAL", deviceId }, "cannot record the purge in the audit trail"));
    });
  }
}
