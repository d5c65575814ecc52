import type { Aedes } from "aedes";

/**
 * Overload protection around aedes 1.2.0's message router (mqemitter 7).
 *
 * Root cause of `RangeError: Maximum call stack size exceeded` under a QoS0
 * flood (bench/broker-overload-repro.ts, test/unit/broker-overload.test.ts):
 *  1. mqemitter runs at most `concurrency` (100) deliveries at once and queues the
 *     rest in an unbounded array. A wildcard subscriber that reads slower than 50
 *     publishers write keeps its socket over the high-water mark, each delivery
 *     to it waits for 'drain', the slots stay taken, and every publisher's parsed
 *     read chunk (hundreds of packets) lands in the queue: tens of thousands.
 *  2. When a delivery completes, `released()` dequeues the next message and calls
 *     `_do()` synchronously. For a message no listener matches (the subscriber
 *     went away, or its topic has none) or whose listeners are all synchronous
 *     (aedes' own $SYS listeners), fastparallel completes it on the spot and calls
 *     `released()` again on the same stack. Draining the backlog recurses once per
 *     queued message, and the process dies.
 */

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
  on(topic: string, fn: Listener, done?: () => void): unknown;
}
interface RouterInternals {
  mq: Router;
  publish(packet: object, client: unknown, done?: Done): void;
}

/** Dispatches allowed to nest on one stack before the next one is deferred to a fresh stack. */
const MAX_SYNC_DEPTH = 32;

/**
 * Replaces mqemitter's `_do` (3 statements in mqemitter 7.1.0: mark busy, match,
 * count, run the listeners) with the same steps plus two rules:
 *  - a message NO listener matches completes on a later event-loop turn, like
 *    every message with a subscriber already does (aedes delivers with
 *    setImmediate). This is what breaks the recursion, and it keeps a flood
 *    nobody subscribes to from monopolising the event loop (fairness for new
 *    connections and other clients);
 *  - at most MAX_SYNC_DEPTH dispatches nest on one stack (messages whose
 *    listeners are all synchronous, e.g. aedes' own $SYS listeners).
 * Messages with subscribers pay an increment and a decrement. If the router's
 * internals are not the expected ones (another mqemitter version), falls back to
 * a catch-all listener that completes every message on a later turn: the same
 * protection at the cost of a route match and a deferred callback per message.
 */
export function breakSyncRelease(broker: Aedes): "dispatch" | "listener" {
  const mq = (broker as unknown as RouterInternals).mq;
  if (typeof mq._do === "function" && typeof mq._parallel === "function" && typeof mq._matcher?.match === "function" && typeof mq.current === "number") {
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
  let pending: (() => void)[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const due = pending;
    pending = [];
    for (const cb of due) cb();
  };
  mq.on("#", function releaseAsync(_packet, cb) {
    pending.push(cb);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  return "listener";
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
