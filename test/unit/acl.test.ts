import { test } from "node:test";
import assert from "node:assert/strict";
import { aclFor } from "../../broker/acl.js";
import { filterWithin, isTopicFilter, isTopicName } from "../../broker/topics.js";
import type { Role } from "../../db/types.js";

const device = aclFor({ role: "device", name: "d1" });
const service = aclFor({ role: "service", name: "svc" });
const admin = aclFor({ role: "admin", name: "ops" });

type Row = [who: string, acl: typeof device, topic: string, allowed: boolean, reason?: string];

const publish: Row[] = [
  ["device: own telemetry", device, "devices/d1/telemetry", true],
  ["device: own deep topic", device, "devices/d1/a/b/c", true],
  ["device: own subtree root (devices/d1/# matches it)", device, "devices/d1", true],
  ["device: own commands", device, "devices/d1/commands", false, "own_commands"],
  ["device: own commands below", device, "devices/d1/commands/reboot", false, "own_commands"],
  ["device: another device", device, "devices/d2/telemetry", false, "outside_own_subtree"],
  ["device: another device's commands", device, "devices/d2/commands/x", false, "outside_own_subtree"],
  ["device: id prefix is not the id", device, "devices/d10/telemetry", false, "outside_own_subtree"],
  ["device: id followed by junk", device, "devices/d1x", false, "outside_own_subtree"],
  ["device: empty level before id", device, "devices//d1/telemetry", false, "outside_own_subtree"],
  ["device: leading slash", device, "/devices/d1/telemetry", false, "outside_own_subtree"],
  ["device: $SYS", device, "$SYS/broker/x", false, "outside_own_subtree"],
  ["device: outside devices/", device, "telemetry/d1", false, "outside_own_subtree"],
  ["device: wildcard in a topic name", device, "devices/d1/+", false, "invalid_topic"],
  ["device: # in a topic name", device, "devices/d1/#", false, "invalid_topic"],
  ["device: NUL in a topic name", device, "devices/d1/a\u0000b", false, "invalid_topic"],
  ["device: empty topic", device, "", false, "invalid_topic"],
  ["service: a command", service, "devices/d1/commands/reboot", true],
  ["service: the commands level itself", service, "devices/d1/commands", true],
  ["service: telemetry (not a command)", service, "devices/d1/telemetry", false, "not_a_command_topic"],
  ["service: commands-like level", service, "devices/d1/commandsX", false, "not_a_command_topic"],
  ["service: invalid device id level", service, "devices//commands/x", false, "not_a_command_topic"],
  ["service: devices root", service, "devices", false, "not_a_command_topic"],
  ["service: $SYS", service, "$SYS/x", false, "not_a_command_topic"],
  ["service: anything else", service, "foo/bar", false, "not_a_command_topic"],
  ["admin: a command", admin, "devices/d9/commands/x", true],
  ["admin: $SYS publish", admin, "$SYS/x", false, "not_a_command_topic"],
  ["admin: telemetry", admin, "devices/d9/telemetry", false, "not_a_command_topic"],
];

const subscribe: Row[] = [
  ["device: own commands #", device, "devices/d1/commands/#", true],
  ["device: own commands exact", device, "devices/d1/commands", true],
  ["device: own commands +", device, "devices/d1/commands/+", true],
  ["device: own commands deep +", device, "devices/d1/commands/+/x/#", true],
  ["device: #", device, "#", false, "outside_own_subtree"],
  ["device: +/#", device, "+/#", false, "outside_own_subtree"],
  ["device: every device's commands", device, "devices/+/commands/#", false, "outside_own_subtree"],
  ["device: another device's commands", device, "devices/d2/commands/#", false, "outside_own_subtree"],
  ["device: own subtree # (matches telemetry too)", device, "devices/d1/#", false, "outside_own_subtree"],
  ["device: own telemetry", device, "devices/d1/telemetry", false, "outside_own_subtree"],
  ["device: + in the commands level", device, "devices/d1/+/x", false, "outside_own_subtree"],
  ["device: devices/#", device, "devices/#", false, "outside_own_subtree"],
  ["device: $SYS/#", device, "$SYS/#", false, "outside_own_subtree"],
  ["device: malformed # not last", device, "devices/d1/commands/#/x", false, "invalid_filter"],
  ["device: malformed partial wildcard", device, "devices/d1/commands/a+", false, "invalid_filter"],
  ["device: empty filter", device, "", false, "invalid_filter"],
  ["service: devices/#", service, "devices/#", true],
  ["service: devices/+/telemetry", service, "devices/+/telemetry", true],
  ["service: devices/+/commands/#", service, "devices/+/commands/#", true],
  ["service: one device", service, "devices/d1/telemetry", true],
  ["service: #", service, "#", false, "outside_devices"],
  ["service: +/telemetry", service, "+/telemetry", false, "outside_devices"],
  ["service: +/#", service, "+/#", false, "outside_devices"],
  ["service: $SYS/#", service, "$SYS/#", false, "outside_devices"],
  ["service: devicesX/#", service, "devicesX/#", false, "outside_devices"],
  ["service: other tree", service, "foo/#", false, "outside_devices"],
  ["admin: devices/#", admin, "devices/#", true],
  ["admin: $SYS/#", admin, "$SYS/#", true],
  ["admin: $SYS/+/new/clients", admin, "$SYS/+/new/clients", true],
  ["admin: #", admin, "#", false, "outside_devices"],
  ["admin: +/x", admin, "+/x", false, "outside_devices"],
];

const receive: [string, typeof device, string, boolean][] = [
  ["device: own command", device, "devices/d1/commands/x", true],
  ["device: own telemetry", device, "devices/d1/telemetry", false],
  ["device: other device's command", device, "devices/d2/commands/x", false],
  ["service: any device topic", service, "devices/d2/telemetry", true],
  ["service: $SYS", service, "$SYS/broker/heartbeat", false],
  ["admin: $SYS", admin, "$SYS/broker/heartbeat", true],
  ["admin: outside devices", admin, "foo", false],
];

for (const [name, acl, topic, allowed, reason] of publish) {
  test(`acl publish ${allowed ? "ok" : "fail"}/${name}`, () => {
    const d = acl.publish(topic);
    assert.equal(d.allow, allowed);
    if (!d.allow) assert.equal(d.reason, reason);
  });
}

for (const [name, acl, filter, allowed, reason] of subscribe) {
  test(`acl subscribe ${allowed ? "ok" : "fail"}/${name}`, () => {
    const d = acl.subscribe(filter);
    assert.equal(d.allow, allowed);
    if (!d.allow) assert.equal(d.reason, reason);
  });
}

for (const [name, acl, topic, allowed] of receive) {
  test(`acl receive ${allowed ? "ok" : "fail"}/${name}`, () => assert.equal(acl.receive(topic), allowed));
}

test("acl fail/unknown role or invalid device name denies everything", () => {
  for (const acl of [aclFor({ role: "robot" as Role, name: "x" }), aclFor({ role: "device", name: "+" }), aclFor({ role: "device", name: "" })]) {
    assert.equal(acl.publish("devices/x/telemetry").allow, false);
    assert.equal(acl.subscribe("devices/x/commands/#").allow, false);
    assert.equal(acl.subscribe("#").allow, false);
    assert.equal(acl.receive("devices/x/commands/a"), false);
  }
});

test("topics: names and filters follow MQTT 3.1.1 §4.7", () => {
  for (const t of ["a", "a/b", "/", "a//b", "$SYS/x"]) assert.equal(isTopicName(t), true, t);
  for (const t of ["", "a/+", "#", "a\u0000"]) assert.equal(isTopicName(t), false, t);
  for (const f of ["#", "+", "a/#", "+/+/#", "a/+/b", "/"]) assert.equal(isTopicFilter(f), true, f);
  for (const f of ["", "a#", "a/#/b", "a/b#", "a+/b", "+a", "a/\u0000"]) assert.equal(isTopicFilter(f), false, f);
  assert.equal(filterWithin("a/b/#", ["a", "b"]), true);
  assert.equal(filterWithin("a/#", ["a", "b"]), false, "# at a prefix level matches a/c too");
  assert.equal(filterWithin("a", ["a", "b"]), false, "shorter filter matches only a topic above the prefix");
});
