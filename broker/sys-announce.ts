import type { Aedes } from "aedes";

type Done = (err?: Error | null) => void;
interface Publisher { id: string; publish(packet: { topic: string }, client?: unknown, done?: Done): void }

/** aedes' per-client announcements under `$SYS/<broker id>/`. */
const ANNOUNCEMENTS = ["new/clients", "disconnect/clients", "new/subscribes", "new/unsubscribes"];

/**
 * aedes 1.2.0 publishes a `$SYS/<broker id>/...` message on every connect,
 * disconnect, subscribe and unsubscribe. Each goes through the whole publish path
 * (packet copy, router, persistence step): about 80 µs of a CONNECT+DISCONNECT
 * cycle on the bench machine. They exist for two readers: aedes' own
 * `closeSameClients` listener, which acts only on announcements from OTHER broker
 * instances sharing one router (a cluster; the gateway runs one aedes per
 * process, so it never acts), and clients subscribed to `$SYS` (admins only,
 * acl.ts). So they are published while at least one live session was granted a
 * `$SYS` filter, and skipped otherwise. Heartbeat and birth messages are untouched.
 */
export function muteSysAnnouncements(broker: Aedes, watched: () => boolean): void {
  const b = broker as unknown as Publisher;
  const prefix = `$SYS/${b.id}/`;
  const topics = new Set(ANNOUNCEMENTS.map((t) => prefix + t));
  const publish = b.publish;
  b.publish = function publishUnlessUnwatched(this: unknown, packet: { topic: string }, client?: unknown, done?: Done): void {
    // Only the broker's own client-less announcements; a client cannot publish to $SYS (acl.ts).
    if ((typeof client === "function" || !client) && topics.has(packet.topic) && !watched()) {
      const cb = typeof client === "function" ? (client as Done) : done;
      return cb?.(null);
    }
    publish.call(broker, packet, client, done);
  };
}
