import type { Identity } from "./identity.js";
import { isValidName } from "../pki/roles.js";
import { filterWithin, isTopicFilter, isTopicName, secondLevel, topicWithin } from "./topics.js";

/**
 * README "MQTT" as a pure policy: identity + action + topic/filter -> decision.
 * Deny by default: every rule below either allows or falls through to a denial.
 * The identity comes from the certificate only (identity.ts), never from the
 * clientId or username. Built once per connection (a device's costs two strings)
 * so the per-message checks are a few string comparisons and allocate nothing.
 */
export type Decision = { readonly allow: true } | { readonly allow: false; readonly reason: DenyReason };

export type DenyReason =
  | "invalid_topic"
  | "invalid_filter"
  | "outside_own_subtree"
  | "own_commands"
  | "not_a_command_topic"
  | "outside_devices"
  | "not_permitted";

const ALLOW: Decision = Object.freeze({ allow: true });
const DENY: Readonly<Record<DenyReason, Decision>> = Object.freeze({
  invalid_topic: Object.freeze({ allow: false, reason: "invalid_topic" }),
  invalid_filter: Object.freeze({ allow: false, reason: "invalid_filter" }),
  outside_own_subtree: Object.freeze({ allow: false, reason: "outside_own_subtree" }),
  own_commands: Object.freeze({ allow: false, reason: "own_commands" }),
  not_a_command_topic: Object.freeze({ allow: false, reason: "not_a_command_topic" }),
  outside_devices: Object.freeze({ allow: false, reason: "outside_devices" }),
  not_permitted: Object.freeze({ allow: false, reason: "not_permitted" }),
} as const);

export interface Acl {
  /** May this identity PUBLISH to the topic (also: its will, its retained messages)? */
  publish(topic: string): Decision;
  /** May this identity SUBSCRIBE with the filter (judged by every topic the filter can match)? */
  subscribe(filter: string): Decision;
  /** May a message on this topic be delivered to this identity (authorizeForward, retained delivery)? */
  receive(topic: string): boolean;
}

const DEVICES = "devices";

/** `devices/<valid id>/commands[/...]`: what services and admins may publish. */
function isCommandTopic(topic: string): boolean {
  if (!topic.startsWith("devices/")) return false;
  const s = secondLevel(topic);
  if (!s || !isValidName(s.value)) return false;
  return s.rest === "commands" || s.rest.startsWith("commands/");
}

/** A device's rules; two strings per connection, methods on the prototype. */
class DeviceAcl implements Acl {
  private readonly own: string;
  private readonly commands: string;

  constructor(private readonly id: string) {
    this.own = `${DEVICES}/${id}`;
    this.commands = `${this.own}/commands`;
  }

  publish(topic: string): Decision {
    if (!isTopicName(topic)) return DENY.invalid_topic;
    if (!topicWithin(topic, this.own)) return DENY.outside_own_subtree;
    // Commands flow only from services to the device, never the other way.
    if (topicWithin(topic, this.commands)) return DENY.own_commands;
    return ALLOW;
  }

  subscribe(filter: string): Decision {
    if (!isTopicFilter(filter)) return DENY.invalid_filter;
    return filterWithin(filter, [DEVICES, this.id, "commands"]) ? ALLOW : DENY.outside_own_subtree;
  }

  receive(topic: string): boolean {
    return topicWithin(topic, this.commands);
  }
}

/** Services and admins: one shared instance per role. */
class ServiceAcl implements Acl {
  constructor(private readonly admin: boolean) {}

  publish(topic: string): Decision {
    if (!isTopicName(topic)) return DENY.invalid_topic;
    return isCommandTopic(topic) ? ALLOW : DENY.not_a_command_topic;
  }

  subscribe(filter: string): Decision {
    if (!isTopicFilter(filter)) return DENY.invalid_filter;
    if (filterWithin(filter, [DEVICES])) return ALLOW;
    // [MQTT-4.7.2-1]: `#`/`+` never match $SYS topics, so only a literal $SYS first level reaches them.
    if (this.admin && filterWithin(filter, ["$SYS"])) return ALLOW;
    return DENY.outside_devices;
  }

  receive(topic: string): boolean {
    return topicWithin(topic, DEVICES) || (this.admin && topicWithin(topic, "$SYS"));
  }
}

const SERVICE: Acl = Object.freeze(new ServiceAcl(false));
const ADMIN: Acl = Object.freeze(new ServiceAcl(true));

const NOTHING: Acl = Object.freeze({
  publish: () => DENY.not_permitted,
  subscribe: () => DENY.not_permitted,
  receive: () => false,
});

export function aclFor(identity: Pick<Identity, "role" | "name">): Acl {
  switch (identity.role) {
    case "device": return isValidName(identity.name) ? new DeviceAcl(identity.name) : NOTHING;
    case "service": return SERVICE;
    case "admin": return ADMIN;
    default: return NOTHING;
  }
}
