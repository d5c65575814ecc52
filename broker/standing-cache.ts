import type { CertStanding } from "../db/types.js";
import type { RevocationNotice } from "./revocation.js";

/**
 * The registry's standing of certificates that were admitted, kept in memory so a
 * CONNECT does not read SQLite (a join on two tables, ~80-150 µs with a cold page
 * cache: the largest single item of the gateway's own per-connect work).
 *
 * Coherence with SQLite: only a revocation makes an admitted certificate
 * inadmissible (certificate status and device status only ever go from valid/active
 * to revoked), and every revocation reaches `forget` through the RevocationFollower
 * BEFORE it closes live sessions:
 *  - in this process (admin API, renewal), through the `revoked` event emitted right
 *    after the commit (with the SQLite registry in the same run of the microtask
 *    queue, so no socket callback runs in between): no CONNECT can be admitted meanwhile;
 *  - from another process (the CLI), within one tick of the revocation log. A CONNECT
 *    admitted from the cache inside that window is registered as a live session, so
 *    the same tick closes it, exactly like the sessions that were already connected.
 * Only admissible standings are cached: refusals and unknown serials are read from
 * SQLite every time (a certificate issued by another process must be found at once).
 * A read that was in flight when a revocation (forget, clear) arrived is answered
 * but not cached: it may predate the revocation.
 * If the revocation log cannot be read, the follower calls `clear` and the cache is
 * bypassed until it can be read again.
 */
export class StandingCache {
  private readonly bySerial = new Map<string, CertStanding>();
  private readonly byDevice = new Map<string, Set<string>>();
  private enabled = true;
  /** Moves on every forget and clear, so a read that overlapped one is not cached. */
  private generation = 0;

  constructor(
    private readonly read: (serial: string) => Promise<CertStanding | undefined>,
    private readonly max = 100_000,
  ) {}

  get size(): number {
    return this.bySerial.size;
  }

  async standing(serial: string): Promise<CertStanding | undefined> {
    const hit = this.bySerial.get(serial);
    if (hit) return hit;
    const generation = this.generation;
    const s = await this.read(serial);
    if (s && this.enabled && generation === this.generation && admissible(s)) this.remember(serial, s);
    return s;
  }

  /** Drops what a revocation touched: the serials, and every certificate of the device. */
  forget(n: Pick<RevocationNotice, "deviceId" | "serials">): void {
    this.generation++;
    for (const serial of n.serials) this.drop(serial);
    if (n.deviceId !== null) for (const serial of [...(this.byDevice.get(n.deviceId) ?? [])]) this.drop(serial);
  }

  /** Empties the cache; with `enabled` false, nothing is cached until enabled again. */
  clear(enabled = true): void {
    this.generation++;
    this.bySerial.clear();
    this.byDevice.clear();
    this.enabled = enabled;
  }

  private remember(serial: string, s: CertStanding): void {
    if (this.bySerial.size >= this.max) this.drop(this.bySerial.keys().next().value!);
    this.bySerial.set(serial, s);
    if (s.deviceId !== null) {
      let set = this.byDevice.get(s.deviceId);
      if (!set) this.byDevice.set(s.deviceId, (set = new Set()));
      set.add(serial);
    }
  }

  private drop(serial: string): void {
    const s = this.bySerial.get(serial);
    if (!s) return;
    this.bySerial.delete(serial);
    if (s.deviceId === null) return;
    const set = this.byDevice.get(s.deviceId);
    set?.delete(serial);
    if (set?.size === 0) this.byDevice.delete(s.deviceId);
  }
}

const admissible = (s: CertStanding) => s.status === "valid" && (s.deviceId === null || s.deviceStatus === "active");
