import type { Aedes } from "aedes";

/**
 * Overload protection around aedes 1.2.0's message router (mqemitter 7).
 *
 * Root cause of `RangeError: Maximum call stack size exceeded` under a QoS0
 * flood (reproduced with plain aedes): mqemitter runs at most `concurrency`
 * deliveries at once and queues the rest in an unbounded array. When a delivery
 * completes, `released()` synchronously dequeues the next message and calls
 * `_do()`; for a message whose listeners all complete synchronously (no
 * subscriber left, e.g. the wildcard subscriber went away, or only synchronous
 * $SYS listeners), fastparallel calls back and `released()` again within the same
 * stack. A backlog of tens of thousands of such messages recurses that deep.
 */

type Done = (err?: Error | null) => void;
interface RouterInternals {
  mq: { length: number; on(topic: string, fn: (packet: unknown, cb: () => void) => void, done?: () => void): unknown };
  publish(packet: object, client: unknown, done?: Done): void;
}

/**
 * Registers a catch-all listener that completes every routed message
 * asynchronously, batched in one setImmediate per event-loop turn, so no message
 * can finish synchronously and the dequeue chain above can never recurse.
 * Costs one array push per message.
 */
export function breakSyncRelease(broker: Aedes): void {
  let pending: (() => void)[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const due = pending;
    pending = [];
    for (const cb of due) cb();
  };
  (broker as unknown as RouterInternals).mq.on("#", function releaseAsync(_packet, cb) {
    pending.push(cb);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

export interface PublishGateOptions {
  /** Packets the hooks decided to drop (ACL, rate limit, revoked) while acknowledging them. */
  readonly drops: WeakSet<object>;
  /** Routing backlog (messages queued in the router) above which client QoS0 publishes are shed. */
  readonly maxBacklog: number;
  onShed(): void;
}

/**
 * Wraps broker.publish so the hooks can DROP a publish while the client still
 * gets its normal acknowledgement ([MQTT-3.3.5-2] allows a positive ack for an
 * unauthorized PUBLISH; aedes' authorizePublish can only accept or close the
 * connection), and sheds client QoS0 messages while the router backlog is over
 * its bound (QoS0 is at-most-once; QoS1/2 were already acknowledged and are never
 * shed: their publishers are slowed by backpressure instead).
 */
export function gatePublish(broker: Aedes, o: PublishGateOptions): void {
  const b = broker as unknown as RouterInternals;
  const publish = b.publish;
  b.publish = function gatedPublish(this: unknown, packet: { qos?: number }, client?: unknown, done?: Done): void {
    if (typeof client === "function") {
      done = client as Done;
      client = null;
    }
    if (o.drops.has(packet)) {
      o.drops.delete(packet);
      return done?.(null);
    }
    if (client && !packet.qos && b.mq.length > o.maxBacklog) {
      o.onShed();
      return done?.(null);
    }
    publish.call(broker, packet, client, done);
  };
}
