/**
 * Pure helpers over MQTT 3.1.1 topic names and topic filters (§4.7). No I/O.
 *
 * A "prefix" is a list of literal levels P; "within P" means the topic is P
 * itself or lies below it, i.e. exactly the topics the filter `P/#` matches
 * (`#` also matches the parent level, [MQTT-4.7.1-2]).
 */

const SLASH = 47;
const PLUS = 43;
const HASH = 35;

/**
 * A topic name a client may PUBLISH to: at least one character [MQTT-4.7.3-1], no
 * wildcard characters [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2].
 */
export function isTopicName(topic: string): boolean {
  if (topic.length === 0) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH || c === 0) return false;
  }
  return true;
}

/**
 * A topic filter a client may SUBSCRIBE to: non-empty [MQTT-4.7.3-1], `#` only
 * as the whole last level [MQTT-4.7.1-2], `+` only as a whole level [MQTT-4.7.1-3],
 * no U+0000 [MQTT-4.7.3-2].
 */
export function isTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes("#") && (l !== "#" || i !== levels.length - 1)) return false;
    if (l.includes("+") && l !== "+") return false;
  }
  return true;
}

/**
 * True when EVERY topic the (valid) filter can match lies within `prefix`.
 * Wildcards are judged by the whole set of topics they could match: a `+` or `#`
 * at a level where the prefix demands a literal matches other values there, so
 * the filter reaches outside (e.g. `devices/+/commands/#` is not within
 * `devices/d1/commands`, and `devices/d1/#` is not either: it matches `devices/d1`).
 */
export function filterWithin(filter: string, prefix: readonly string[]): boolean {
  if (!isTopicFilter(filter)) return false;
  const levels = filter.split("/");
  // A filter shorter than the prefix without wildcards matches only a topic above it;
  // with wildcards at a prefix level it matches more than the prefix allows.
  if (levels.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (levels[i] !== prefix[i]) return false;
  }
  // Every matched topic shares the prefix levels literally; what follows is free.
  return true;
}

/** True when the topic name is `prefix` itself or below it. `prefix` is the joined literal levels. */
export function topicWithin(topic: string, prefix: string): boolean {
  return topic.length === prefix.length
    ? topic === prefix
    : topic.length > prefix.length && topic.charCodeAt(prefix.length) === SLASH && topic.startsWith(prefix);
}

/** The second level of a topic (`devices/<this>/...`), or undefined when there is none. */
export function secondLevel(topic: string): { value: string; rest: string } | undefined {
  const a = topic.indexOf("/");
  if (a < 0) return undefined;
  const b = topic.indexOf("/", a + 1);
  return b < 0 ? { value: topic.slice(a + 1), rest: "" } : { value: topic.slice(a + 1, b), rest: topic.slice(b + 1) };
}
