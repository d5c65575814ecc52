import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { basic, csrFor, rawEst, token } from "../helpers/est-tools.js";
import { tokenUsable } from "../../enroll/tokens.js";
import { sq } from "../../testkit/registry.js";

/** Slowing down token guessing: --auth-failure-limit failures per minute per address, then 429 (issue 3). */
describe("EST failed-authentication limiter", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ "auth-failure-limit": "3" });
  });
  after(() => t.close());

  test("after the limit, every authenticated request is 429 with Retry-After, and no token is spent", async () => {
    const tok = await token(t, "dev-rl");
    const body = csrFor("dev-rl").der.toString("base64");
    const post = (op: string, authorization?: string) =>
      rawEst(t, "POST", op, { headers: { "content-type": "application/pkcs10", ...(authorization ? { authorization } : {}) }, body });
    // Missing credentials are not failed authentications: they do not count.
    const refusedRows = () => sq(t.gw.deps.store).sync.audit.newest(1000).filter((a) => a.type === "enroll.refused");
    for (let i = 0; i < 5; i++) assert.equal((await post("simpleenroll")).status, 401);
    assert.equal(refusedRows().length, 0, "anonymous refusals are logged, not audited");
    for (let i = 0; i < 3; i++) assert.equal((await post("simpleenroll", basic("dev-rl", `guess-${i}`))).status, 401);
    assert.deepEqual(refusedRows().map((a) => [a.code, a.deviceId]), Array(3).fill(["FG_TOKEN_INVALID", "dev-rl"]));
    const limited = await post("simpleenroll", basic("dev-rl", "guess-4"));
    assert.equal(limited.status, 429);
    const wait = Number(limited.headers["retry-after"]);
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After ${String(limited.headers["retry-after"])}`);
    assert.match(limited.body, /^[^\n]+\n$/);
    // Even the right token is not checked while blocked: guessing right would otherwise show.
    assert.equal((await post("simpleenroll", basic("dev-rl", tok))).status, 429);
    assert.equal((await post("simplereenroll")).status, 429);
    assert.ok(await tokenUsable(t.gw.deps.store, "dev-rl", tok, Date.now()));
    // Requests that need no authentication still work, and the refusal was logged with its code.
    assert.equal((await rawEst(t, "GET", "cacerts")).status, 200);
    assert.ok(t.logs.lines().some((l) => l.code === "FG_RATE_LIMITED"));
  });
});
