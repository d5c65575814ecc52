/**
 * Which principal the session state kept under a clientId belongs to, for the
 * clientIds a credential uses besides its own name (`<name>-<suffix>`).
 *
 * aedes keeps a persistent session (subscriptions, queued QoS 1 messages) under
 * the clientId alone, in this process's memory. A clientId can change hands: a
 * service `s` used `s-b` while nothing was called `s-b`, then a device `s-b` was
 * created and now owns that clientId. The new owner must start from a clean
 * session [MQTT-3.1.2-6] rather than inherit the other principal's subscriptions
 * and queue. Only persistent sessions under a clientId other than the principal's
 * own name are remembered (a name has one owner for good, see enroll/names.ts),
 * so this stays as small as the session state it guards.
 */
export class SessionOwners {
  private readonly byClientId = new Map<string, string>();

  /**
   * Records that `principal` now holds `clientId`. Returns true when the state kept
   * under that clientId belonged to another principal: the caller must make the
   * session clean so it is discarded.
   */
  claim(clientId: string, principal: string, ownName: boolean, clean: boolean): boolean {
    const prev = this.byClientId.get(clientId);
    const foreign = prev !== undefined && prev !== principal;
    if (clean || foreign || ownName) this.byClientId.delete(clientId);
    if (!clean && !foreign && !ownName) this.byClientId.set(clientId, principal);
    return foreign;
  }

  get size(): number {
    return this.byClientId.size;
  }
}
