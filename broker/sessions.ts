import type { Client } from "aedes";
import type { Connection } from "./connection.js";

/** One client, or several (rare: a device briefly holding two sessions during a takeover). */
type Entry = Client | Client[];

/**
 * The live sessions of this process, indexed by device id and by certificate
 * serial, so a revocation finds every connection it must close without a scan.
 */
export class Sessions {
  private readonly byDevice = new Map<string, Entry>();
  private readonly bySerial = new Map<string, Entry>();
  private sys = 0;

  /** Live sessions that were granted a `$SYS` filter (internals.ts muteSysAnnouncements). */
  get sysWatchers(): number {
    return this.sys;
  }

  watchSys(st: Connection): void {
    if (st.watchesSys || !st.registered) return;
    st.watchesSys = true;
    this.sys++;
  }

  register(client: Client, st: Connection): void {
    const id = st.identity!;
    st.registered = true;
    add(this.bySerial, id.serial, client);
    if (id.role === "device") add(this.byDevice, id.name, client);
  }

  /** Returns true when this was the last live session of a device in this process. */
  unregister(client: Client, st: Connection): boolean {
    if (!st.registered) return false;
    st.registered = false;
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
