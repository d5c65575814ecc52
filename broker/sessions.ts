import type { TLSSocket } from "node:tls";
import type { Client } from "aedes";
import type { Acl } from "./acl.js";
import type { Identity, PeerCertificate } from "./identity.js";
import type { PublishLimiter } from "./limits.js";

/** What the gateway knows about one MQTT connection, from TLS handshake to close. */
export interface ClientState {
  readonly socket: TLSSocket;
  /** performance.now() when the TLS handshake completed (connect latency starts here). */
  readonly tlsAt: number;
  readonly cert: PeerCertificate | undefined;
  identity: Identity | undefined;
  acl: Acl | undefined;
  /** The will topic from CONNECT (preConnect), checked with the publish rules in authenticate. */
  willTopic: string | undefined;
  limiter: PublishLimiter | undefined;
  /** Granted subscription filters, for the per-client limit. */
  readonly subscriptions: Set<string>;
  /** Deliveries queued while the socket was above its high-water mark; reset on 'drain'. */
  backlog: number;
  /** Set when a revocation kicks this session: nothing more is delivered or accepted. */
  revoked: boolean;
  /** Indexed as a live authenticated session. */
  registered: boolean;
}

export function newClientState(socket: TLSSocket, tlsAt: number, cert: PeerCertificate | undefined): ClientState {
  return {
    socket, tlsAt, cert,
    identity: undefined, acl: undefined, willTopic: undefined, limiter: undefined,
    subscriptions: new Set(), backlog: 0, revoked: false, registered: false,
  };
}

/**
 * The live sessions of this process, indexed by device id and by certificate
 * serial, so a revocation finds every connection it must close without a scan.
 */
export class Sessions {
  private readonly states = new WeakMap<Client, ClientState>();
  private readonly byDevice = new Map<string, Set<Client>>();
  private readonly bySerial = new Map<string, Set<Client>>();
  private live = 0;

  attach(client: Client, st: ClientState): void {
    this.states.set(client, st);
  }

  get(client: Client | null | undefined): ClientState | undefined {
    return client ? this.states.get(client) : undefined;
  }

  get count(): number {
    return this.live;
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
    const id = st.identity!;
    remove(this.bySerial, id.serial, client);
    return id.role === "device" && remove(this.byDevice, id.name, client);
  }

  ofDevice(deviceId: string): Client[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  ofSerial(serial: string): Client[] {
    return [...(this.bySerial.get(serial) ?? [])];
  }

  hasDevice(deviceId: string): boolean {
    return this.byDevice.has(deviceId);
  }

  devices(): string[] {
    return [...this.byDevice.keys()];
  }
}

function add(m: Map<string, Set<Client>>, k: string, c: Client): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(c);
}

/** Returns true when the key's set became empty. */
function remove(m: Map<string, Set<Client>>, k: string, c: Client): boolean {
  const s = m.get(k);
  if (!s) return false;
  s.delete(c);
  if (s.size > 0) return false;
  m.delete(k);
  return true;
}
