import { isIPv4 } from "node:net";
import { TokenBucket } from "../broker/limits.js";

/**
 * Admission at the front door: which new TCP connections a listener takes on
 * before any TLS work is spent on them. Pure state over a caller-supplied clock;
 * front/guard.ts applies it to a node:tls server.
 *
 * A connection is "pending" from TCP accept until it is authenticated (HTTPS:
 * TLS established; MQTT: CONNACK 0) or closed. Pending connections are bounded
 * in total and per source, so stalled handshakes from one host (or a few)
 * cannot take every file descriptor. New connections may also be rate limited
 * per source with a ceiling for the whole listener (MQTT --connect-rate).
 */
export interface AdmissionLimits {
  /** Concurrent pending connections on the listener. */
  readonly maxPending: number;
  /** Concurrent pending connections from one source. */
  readonly maxPendingPerSource: number;
  /** New connections per second: per source, and the ceiling for the listener. Absent: no rate limit. */
  readonly rate?: { readonly perSource: number; readonly global: number };
}

export type AdmissionRefusal = "pending_global" | "pending_source" | "rate_source" | "rate_global";

/** Sources whose rate buckets are kept before idle (full) buckets are pruned. */
const TRACKED_SOURCES = 10_000;

/**
 * The key a connection is limited under: the IPv4 address (IPv4-mapped IPv6
 * unwrapped), or the /64 prefix of an IPv6 address, since one IPv6 host
 * commonly holds a whole /64 and could otherwise pick a fresh source per
 * connection.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return "?";
  const a = address.toLowerCase();
  if (a.startsWith("::ffff:") && isIPv4(a.slice(7))) return a.slice(7);
  if (!a.includes(":")) return a;
  const [head = "", tail] = a.split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((g) => (g.replace(/^0+(?=.)/, "") || "0")).join(":")}::/64`;
}

export class Admission {
  private pendingTotal = 0;
  private readonly pendingBySource = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly globalBucket: TokenBucket | undefined;
  private pruneAt = TRACKED_SOURCES;

  constructor(private readonly limits: AdmissionLimits, now: number) {
    if (limits.rate) this.globalBucket = new TokenBucket(limits.rate.global, limits.rate.global, now);
  }

  get pending(): number {
    return this.pendingTotal;
  }

  pendingFrom(source: string): number {
    return this.pendingBySource.get(source) ?? 0;
  }

  /**
   * Decides on a new connection from `source`. On admission (undefined) the
   * connection counts as pending until `release(source)`. A refused connection
   * takes no place and, when one source is over its own limits, no share of the
   * listener-wide rate: one flooding host cannot spend the budget of the others.
   */
  admit(source: string, now: number): AdmissionRefusal | undefined {
    const mine = this.pendingBySource.get(source) ?? 0;
    if (mine >= this.limits.maxPendingPerSource) return "pending_source";
    if (this.pendingTotal >= this.limits.maxPending) return "pending_global";
    const rate = this.limits.rate;
    if (rate) {
      let b = this.buckets.get(source);
      if (!b) {
        if (this.buckets.size >= this.pruneAt) this.prune(now);
        b = new TokenBucket(rate.perSource, rate.perSource, now);
        this.buckets.set(source, b);
      }
      if (!b.take(now)) return "rate_source";
      if (!this.globalBucket!.take(now)) return "rate_global";
    }
    this.pendingBySource.set(source, mine + 1);
    this.pendingTotal++;
    return undefined;
  }

  /** The connection from `source` authenticated or closed: it no longer counts as pending. */
  release(source: string): void {
    const mine = this.pendingBySource.get(source);
    if (mine === undefined) return;
    if (mine <= 1) this.pendingBySource.delete(source);
    else this.pendingBySource.set(source, mine - 1);
    this.pendingTotal--;
  }

  /** Drops buckets that have refilled (their source is idle): forgetting them changes no decision. */
  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(k);
    // Still many busy sources: forget the oldest (each gets a fresh burst at worst).
    if (this.buckets.size >= TRACKED_SOURCES * 4) {
      let drop = this.buckets.size - TRACKED_SOURCES * 2;
      for (const k of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(k);
      }
    }
    this.pruneAt = Math.max(TRACKED_SOURCES, this.buckets.size * 2);
  }
}
