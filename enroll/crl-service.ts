import type { Store } from "../db/store.js";
import type { CertificateAuthority } from "./ca.js";

/** Serves the current CRL: rebuilt when the revocation log moves, and at least hourly so nextUpdate stays ahead. */
export class CrlService {
  private cached: { der: Buffer; head: number; at: number } | undefined;
  /** A build in progress, shared by the requests that find the same log head, so each change costs one CRL number. */
  private building: { head: number; der: Promise<Buffer> } | undefined;

  constructor(private readonly d: { store: Store; ca: Pick<CertificateAuthority, "signCrl">; clock: () => number }) {}

  async current(): Promise<Buffer> {
    const now = this.d.clock();
    const head = await this.d.store.revocations.head();
    const c = this.cached;
    if (c && c.head === head && now - c.at < 3600_000) return c.der;
    if (this.building?.head !== head) {
      const der = this.build(head, now);
      const b = { head, der };
      this.building = b;
      void der.finally(() => { if (this.building === b) this.building = undefined; }).catch(() => undefined);
    }
    return this.building!.der;
  }

  private async build(head: number, now: number): Promise<Buffer> {
    const entries = (await this.d.store.certificates.revokedUnexpired(now)).map((r) => ({ serial: r.serial, revokedAt: r.revokedAt ?? now, reason: r.revocationReason }));
    const der = this.d.ca.signCrl(entries, await this.d.store.revocations.nextCrlNumber(), now);
    this.cached = { der, head, at: now };
    return der;
  }
}
