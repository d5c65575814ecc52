/**
 * Every touch of a library's private internals, in one place. Nothing else in
 * the gateway reads an underscore field, replaces a library method or wraps
 * `broker.publish`. Each item names what it relies on and why, with the upstream
 * issue or the proposed fix in bench/patches/. The versions below are the ones
 * these items were written and tested against: `checkInternals` (run by
 * startBroker before anything is patched) refuses to start on any other, so an
 * upgrade fails loudly at start instead of silently losing a protection.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type { Aedes, Client } from "aedes";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** Package versions (exact) and Node.js majors the items in this file were written for. */
export const WRITTEN_FOR: Readonly<Record<string, string | readonly number[]>> = Object.freeze({
  aedes: "1.2.0",
  mqemitter: "7.1.0",
  "mqtt-packet": "9.0.2",
  "aedes-persistence": "11.0.0",
  node: Object.freeze([20, 21, 22]),
});

export interface InstalledVersions {
  readonly aedes: string;
  readonly mqemitter: string;
  readonly "mqtt-packet": string;
  readonly "aedes-persistence": string;
  /** process.versions.node */
  readonly node: string;
}

/** Pure: the mismatches between what is installed and what this file was written for (empty: all good). */
export function internalsMismatches(installed: InstalledVersions, expected = WRITTEN_FOR): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    const have = installed[name as keyof InstalledVersions];
    if (typeof want === "string") {
      if (have !== want) out.push(`${name} ${have || "(not found)"} is installed, broker/internals.ts was written for ${want}`);
    } else if (!want.includes(Number(String(have).split(".")[0]))) {
      out.push(`${name} ${have} is running, broker/internals.ts was written for major ${want.join(", ")}`);
    }
  }
  return out;
}

/** Throws one error listing every mismatch. */
export function checkInternals(installed: InstalledVersions = installedVersions(), expected = WRITTEN_FOR): void {
  const bad = internalsMismatches(installed, expected);
  if (bad.length > 0) {
    throw new Error(`library internals check failed: ${bad.join("; ")}. Re-check each item in broker/internals.ts against the new version, then update WRITTEN_FOR.`);
  }
}

/** The version in the package.json of `name` as `from` resolves it (walks up from its entry point: aedes exports no ./package.json). */
function versionOf(from: string, name: string): string | undefined {
  let dir: string;
  try {
    dir = path.dirname(createRequire(from).resolve(name));
  } catch {
    return undefined;
  }
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** What is installed: aedes as the gateway resolves it, its dependencies as aedes resolves them (those are the instances patched). */
export function installedVersions(): InstalledVersions {
  const self = import.meta.url;
  let aedesEntry = self;
  try {
    aedesEntry = createRequire(self).resolve("aedes");
  } catch { /* reported as "(not found)" below */ }
  return {
    aedes: versionOf(self, "aedes") ?? "",
    mqemitter: versionOf(aedesEntry, "mqemitter") ?? "",
    "mqtt-packet": versionOf(aedesEntry, "mqtt-packet") ?? "",
    "aedes-persistence": versionOf(aedesEntry, "aedes-persistence") ?? "",
    node: process.versions.node,
  };
}

// ---------------------------------------------------------------------------
// 1. mqemitter 7.1.0 `_do`: the router recursion under a QoS 0 flood.
//    Upstream: https://github.com/mcollina/mqemitter/pull/204 (open; the maintainer
//    asked for exactly this: defer only past a same-stack depth).
//
// `RangeError: Maximum call stack size exceeded` (bench/broker-overload-repro.ts,
// test/unit/broker-overload.test.ts): mqemitter runs at most `concurrency` (100)
// deliveries at once and queues the rest unbounded. A wildcard subscriber slower
// than the publishers keeps its socket over the high-water mark, its deliveries
// wait for 'drain', the slots stay taken and tens of thousands of messages queue.
// When a delivery completes, `released()` dequeues the next one and calls `_do()`
// synchronously; a message no listener matches (or whose listeners are all
// synchronous, aedes' own $SYS ones) completes on the spot and calls `released()`
// again on the same stack: one frame per queued message, and the process dies.
// ---------------------------------------------------------------------------

type Done = (err?: Error | null) => void;
type Listener = (packet: unknown, cb: () => void) => void;
/** The parts of mqemitter 7 that its `_do` (one message's dispatch) uses. */
interface Router {
  length: number;
  current: number;
  _doing: boolean;
  _matcher: { match(topic: string): Listener[] };
  _parallel(that: Router, listeners: Listener[], message: unknown, done: unknown): void;
  _do(message: { topic: string }, done: unknown): Router;
}
interface BrokerInternals {
  id: string;
  mq: Router;
  persistence: unknown;
  clients: Record<string, Client | undefined>;
  publish(packet: object, client: unknown, done?: Done): void;
}
const internals = (broker: Aedes) => broker as unknown as BrokerInternals;

/** Dispatches allowed to nest on one stack before the next one is deferred to a fresh stack. */
const MAX_SYNC_DEPTH = 32;

/**
 * Replaces `_do` (mark busy, match, count, run the listeners) with the same steps
 * plus two rules: a message NO listener matches completes on a later turn (as
 * every message with a subscriber does: aedes delivers with setImmediate), and at
 * most MAX_SYNC_DEPTH dispatches nest on one stack. Messages with subscribers pay
 * an increment and a decrement. Throws if the router is not mqemitter 7's
 * (checkInternals has refused other versions before this runs).
 */
export function breakSyncRelease(broker: Aedes): "dispatch" {
  const mq = internals(broker).mq;
  if (!(typeof mq._do === "function" && typeof mq._parallel === "function" && typeof mq._matcher?.match === "function" && typeof mq.current === "number")) {
    throw new Error("aedes' router is not mqemitter 7: its dispatch (_do) cannot be guarded");
  }
  let depth = 0;
  const run = (router: Router, listeners: Listener[], message: unknown, done: unknown) => {
    depth++;
    try {
      router._parallel(router, listeners, message, done);
    } finally {
      depth--;
    }
  };
  mq._do = function boundedDo(this: Router, message: { topic: string }, done: unknown): Router {
    this._doing = true;
    const listeners = this._matcher.match(message.topic);
    this.current++;
    if (listeners.length === 0 || depth >= MAX_SYNC_DEPTH) setImmediate(run, this, listeners, message, done);
    else run(this, listeners, message, done);
    return this;
  };
  return "dispatch";
}

/** Messages queued in the router (mqemitter's `length`): the backlog QoS 0 shedding watches. */
export const routerBacklog = (broker: Aedes): number => internals(broker).mq.length;

// ---------------------------------------------------------------------------
// 2. `broker.publish` wrappers (aedes 1.2.0 aedes.js Aedes.prototype.publish).
// ---------------------------------------------------------------------------

const DROP = Symbol("fleetgate.drop");

/** Marks a packet the hooks decided to acknowledge but not route (gatePublish drops it). */
export function markDropped(packet: object): void {
  (packet as { [DROP]?: true })[DROP] = true;
}

export interface PublishGateOptions {
  /** Routing backlog (messages queued in the router) above which client QoS0 publishes are shed. */
  readonly maxBacklog: number;
  onShed(): void;
}

/**
 * Acknowledge-and-drop. aedes' authorizePublish can only accept or close the
 * connection; [MQTT-3.3.5-2] also allows a positive ack for an unauthorized
 * PUBLISH. Upstream: https://github.com/moscajs/aedes/issues/210 (closed, no API).
 * A packet marked with markDropped gets its normal acknowledgement and is not
 * routed. Also sheds client QoS0 messages while the router backlog is over its
 * bound (QoS0 is at-most-once; QoS1/2 were acknowledged and are never shed:
 * their publishers are slowed by backpressure instead).
 */
export function gatePublish(broker: Aedes, o: PublishGateOptions): void {
  const b = internals(broker);
  const publish = b.publish;
  b.publish = function gatedPublish(this: unknown, packet: { qos?: number; [DROP]?: true }, client?: unknown, done?: Done): void {
    if (typeof client === "function") {
      done = client as Done;
      client = null;
    }
    if (packet[DROP]) {
      delete packet[DROP];
      return done?.(null);
    }
    if (client && !packet.qos && b.mq.length > o.maxBacklog) {
      o.onShed();
      return done?.(null);
    }
    publish.call(broker, packet, client, done);
  };
}

/** aedes' per-client announcements under `$SYS/<broker id>/`. */
const ANNOUNCEMENTS = ["new/clients", "disconnect/clients", "new/subscribes", "new/unsubscribes"];

/**
 * aedes 1.2.0 publishes a `$SYS/<broker id>/...` message on every connect,
 * disconnect, subscribe and unsubscribe (no option turns them off; no upstream
 * issue filed), each through the whole publish path: about 80 µs of a
 * CONNECT+DISCONNECT cycle on the bench machine. Their readers are aedes' own
 * `closeSameClients` (acts only on announcements from OTHER broker instances on
 * one router: never here) and clients subscribed to `$SYS` (admins, acl.ts). So
 * they are published while `watched()` (a live session holds a `$SYS` filter).
 */
export function muteSysAnnouncements(broker: Aedes, watched: () => boolean): void {
  const b = internals(broker);
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

// ---------------------------------------------------------------------------
// 3. aedes-persistence `addSubscriptions` (aedes 1.2.0 lib/handlers/subscribe.js,
//    storeSubscriptions). No upstream issue filed.
// For clean session 0, aedes stores the WHOLE filter list of a SUBSCRIBE once per
// granted filter, refused ones (SUBACK 0x80, [MQTT-3.9.3]) included; the store
// matches offline messages and is restored on reconnect. Only subscriptions
// marked with markGranted (by authorizeSubscribe) reach the store.
// ---------------------------------------------------------------------------

const GRANTED = Symbol("fleetgate.granted");

export function markGranted(sub: object): void {
  (sub as { [GRANTED]?: true })[GRANTED] = true;
}

interface SubscriptionPersistence {
  addSubscriptions(client: { id: string }, subs: object[]): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
}

export function storeOnlyGranted(broker: Aedes): void {
  const p = internals(broker).persistence as SubscriptionPersistence;
  const add = p.addSubscriptions;
  p.addSubscriptions = function addGranted(this: unknown, client, subs) {
    const keep = subs.filter((s) => (s as { [GRANTED]?: true })[GRANTED]);
    if (keep.length === 0) return Promise.resolve();
    return add.call(p, client, keep);
  };
}

/** The broker's session store (aedes-persistence 11), for session-purge.ts and refused restored filters. */
export const persistenceOf = <P>(broker: Aedes): P => internals(broker).persistence as P;
/** The broker a client belongs to (aedes Client#broker). */
export const brokerOf = (client: Client): Aedes => (client as unknown as { broker: Aedes }).broker;
/** The client registered under `clientId` (aedes Aedes#clients), to refuse a takeover. */
export const clientHolding = (broker: Aedes, clientId: string): Client | undefined => internals(broker).clients[clientId];

// ---------------------------------------------------------------------------
// 4. mqtt-packet 9.0.2 Parser#_parseLength: the packet size cap.
//    Upstream: https://github.com/moscajs/aedes/issues/831 (aedes has no maximum
//    packet size). Related parser fix: bench/patches/mqtt-packet-9.0.2-parser-bufferlist.patch.
// mqtt-packet buffers a packet until its declared remaining length (up to 256 MiB)
// has arrived, so the check must run as soon as the length is parsed.
// ---------------------------------------------------------------------------

/** The subset of mqtt-packet's Parser that the size cap touches. */
export interface SizeCappable {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): unknown;
}

/**
 * Builds one replacement for `_parseLength`, shared by every connection: over
 * `maxBytes` the parser errors and aedes closes the connection (MQTT 3.1.1 has
 * no reason code for it). Install per client with capPacketSize.
 */
export function packetSizeCap(maxBytes: number, onTooLarge: (parser: SizeCappable, length: number) => void): (this: SizeCappable) => boolean {
  let parseLength: (() => boolean) | undefined; // mqtt-packet's own, looked up once
  return function cappedParseLength(this: SizeCappable): boolean {
    parseLength ??= (Object.getPrototypeOf(this) as SizeCappable)._parseLength;
    const ok = parseLength.call(this);
    if (ok && this.packet.length > maxBytes) {
      onTooLarge(this, this.packet.length);
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the ${maxBytes}-byte limit`));
      return false;
    }
    return ok;
  };
}

export function capPacketSize(client: Client, cap: (this: SizeCappable) => boolean): void {
  (client as unknown as { _parser: SizeCappable })._parser._parseLength = cap;
}

/** The aedes client a parser belongs to (aedes sets `parser.client`). */
export const clientOfParser = (parser: SizeCappable): Client | undefined => (parser as unknown as { client?: Client }).client;

// ---------------------------------------------------------------------------
// 5. node:tls TLSSocket#_parent: the raw TCP socket a tls.Server wrapped (Node
//    20-22 lib/_tls_wrap.js). No public API links the two; front/guard.ts needs
//    it to carry a pre-TLS admission ticket over to the TLS socket.
// ---------------------------------------------------------------------------

export const rawSocketOf = (socket: TLSSocket): Socket | undefined => (socket as unknown as { _parent?: Socket })._parent;
