import type { TLSSocket } from "node:tls";
import type { Client } from "aedes";
import type { Acl } from "./acl.js";
import type { Identity, PeerCertificate } from "./identity.js";
import type { PublishLimiter } from "./limits.js";

const STATE = Symbol("fleetgate.client-state");
type Tagged = { [STATE]?: ClientState };

/**
 * What the gateway knows about one MQTT connection, from TLS handshake to close.
 * One compact object per connection (a class, fields only; no closures), found
 * from the aedes client or the socket through a symbol-keyed property.
 */
export class ClientState {
  client: Client | undefined = undefined;
  identity: Identity | undefined = undefined;
  acl: Acl | undefined = undefined;
  /** The will topic from CONNECT (preConnect), checked with the publish rules in authenticate. */
  willTopic: string | undefined = undefined;
  /** The CONNECT packet until authenticate decides (it may force a clean session, session-owners.ts). */
  connect: { clean?: boolean } | undefined = undefined;
  /** Created on the first PUBLISH. */
  limiter: PublishLimiter | undefined = undefined;
  /** Granted subscription filters, for the per-client limit (few: an array beats a Set here). */
  subscriptions: string[] | undefined = undefined;
  /** Deliveries queued while the socket was above its high-water mark; reset on 'drain'. */
  backlog = 0;
  /** Set when a revocation kicks this session: nothing more is delivered or accepted. */
  revoked = false;
  /** Indexed as a live authenticated session. */
  registered = false;
  /** Was granted a `$SYS` filter (counted in Sessions.sysWatchers until it closes). */
  watchesSys = false;

  constructor(
    readonly socket: TLSSocket,
    /** performance.now() when the TLS handshake completed (connect latency starts here). */
    readonly tlsAt: number,
    readonly cert: PeerCertificate | undefined,
  ) {
    (socket as Tagged)[STATE] = this;
  }
}

export const stateOfSocket = (socket: TLSSocket): ClientState | undefined => (socket as Tagged)[STATE];

/** One client, or several (rare: a device briefly holding two sessions during a takeover). */
type Entry = Client | Client[];

/**
 * The live sessions of this process, indexed by device id and by certificate
 * serial, so a revocation finds every connection it must close without a scan.
 */
export class Sessions {
  private readonly byDevice = new Map<string, Entry>();
  private readonly bySerial = new Map<string, Entry>();
  private live = 0;
  private sys = 0;

  attach(client: Client, st: ClientState): void {
    (client as unknown as Tagged)[STATE] = st;
    st.client = client;
  }

  get(client: Client | null | undefined): ClientState | undefined {
    return client ? (client as unknown as Tagged)[STATE] : undefined;
  }

  get count(): number {
    return this.live;
  }

  /** Live sessions that were granted a `$SYS` filter (sys-announce.ts). */
  get sysWatchers(): number {
    return this.sys;
  }

  watchSys(st: ClientState): void {
    if (st.watchesSys || !st.registered) return;
    st.watchesSys = true;
    this.sys++;
  }

  register(client: Client, st: ClientState): void {
    const id = st.identity!;
    st.registered = true;
    this.live++;
    add(this.bySerial, id.serial, client);
    if (id.role === "device") add(this.byDevice, id.name, client);
  }

  /** Returns true when this was the last live session of a device in this process. */
  unregister(client: Client, st: ClientState): boolean {
    if (!st.registered) return false;
    st.registered = false;
    this.live--;
    if (st.watchesSys) {
      st.watchesSys = false;
      this.sys--;
    }
    const id = st.identity!;
    remove(this.bySerial, id.serial, client);
    return id.role === "device" && remove(this.byDevice, id.name, client);
  }

  ofDevice(deviceId: string): Client[] {
    return list(this.byDevice.get(deviceId));
  }

  ofSerial(serial: string): Client[] {
    return list(this.bySerial.get(serial));
  }

  hasDevice(deviceId: string): boolean {
    return this.byDevice.has(deviceId);
  }

  devices(): string[] {
    return [...this.byDevice.keys()];
  }
}

const list = (e: Entry | undefined): Client[] => (e === undefined ? [] : Array.isArray(e) ? [...e] : [e]);

function add(m: Map<string, Entry>, k: string, c: Client): void {
  const e = m.get(k);
  if (e === undefined) m.set(k, c);
  else if (Array.isArray(e)) e.push(c);
  else if (e !== c) m.set(k, [e, c]);
}

/** Returns true when the key has no client left. */
function remove(m: Map<string, Entry>, k: string, c: Client): boolean {
  const e = m.get(k);
  if (e === undefined) return false;
  if (Array.isArray(e)) {
    const rest = e.filter((x) => x !== c);
    if (rest.length > 0) {
      m.set(k, rest.length === 1 ? rest[0]! : rest);
      return false;
    }
  } else if (e !== c) return false;
  m.delete(k);
  return true;
}
