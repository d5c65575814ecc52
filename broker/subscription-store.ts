import type { Aedes } from "aedes";

/** The part of the aedes persistence interface this module wraps. */
interface SubscriptionPersistence {
  addSubscriptions(client: { id: string }, subs: object[]): Promise<void>;
}

/**
 * Only granted filters reach a persistent session's store.
 *
 * aedes 1.2.0 (lib/handlers/subscribe.js, storeSubscriptions) stores, for a
 * client with clean session 0, the WHOLE list of filters of a SUBSCRIBE packet
 * once for every filter that authorizeSubscribe granted, refused ones (SUBACK
 * 0x80, [MQTT-3.9.3]) included. The store is what matches offline messages: a
 * refused filter would then queue every matching QoS 1 message for that client,
 * and be restored on reconnect. authorizeSubscribe marks what it grants in
 * `granted`; this wrapper drops every other filter before the store sees it.
 * Each granted filter is still stored, by its own call.
 */
export function storeOnlyGranted(broker: Aedes, granted: WeakSet<object>): void {
  const p = (broker as unknown as { persistence: SubscriptionPersistence }).persistence;
  const add = p.addSubscriptions;
  p.addSubscriptions = function addGranted(this: unknown, client, subs) {
    const keep = subs.filter((s) => granted.has(s));
    if (keep.length === 0) return Promise.resolve();
    return add.call(p, client, keep);
  };
}
