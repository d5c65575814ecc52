import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseBasicAuth } from "../../enroll/est/auth.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("HTTP Basic parsing (RFC 7617)", () => {
  const table: Array<[string, string | undefined, ReturnType<typeof parseBasicAuth>]> = [
    ["ok/simple", `Basic ${b64("dev-1:tok")}`, { kind: "basic", user: "dev-1", password: "tok" }],
    ["ok/scheme case-insensitive", `bAsIc ${b64("dev-1:tok")}`, { kind: "basic", user: "dev-1", password: "tok" }],
    ["ok/password with colons", `Basic ${b64("dev-1:a:b:c")}`, { kind: "basic", user: "dev-1", password: "a:b:c" }],
    ["ok/empty password", `Basic ${b64("dev-1:")}`, { kind: "basic", user: "dev-1", password: "" }],
    ["none/absent", undefined, { kind: "none" }],
    ["none/blank", "  ", { kind: "none" }],
    ["fail/other scheme", `Bearer ${b64("dev-1:tok")}`, { kind: "malformed" }],
    ["fail/no colon", `Basic ${b64("dev-1")}`, { kind: "malformed" }],
    ["fail/not base64", "Basic %%%", { kind: "malformed" }],
    ["fail/two tokens", `Basic ${b64("a:b")} ${b64("c:d")}`, { kind: "malformed" }],
    ["fail/huge", `Basic ${"A".repeat(5000)}`, { kind: "malformed" }],
  ];
  for (const [name, header, want] of table) {
    test(name, () => assert.deepEqual(parseBasicAuth(header), want));
  }
});
