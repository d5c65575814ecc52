import { test } from "node:test";
import assert from "node:assert/strict";
import { routePolicy, RoutePolicyError } from "../../enroll/http/route-policy.js";
import { checkRequestTarget } from "../../enroll/http/request-target.js";
import { canonicalHeaderName } from "../../enroll/http/header-case.js";

test("routePolicy: /api is admin-only whatever is declared; other routes must declare a policy", () => {
  for (const url of ["/api/v1/devices", "/api/v1/devices/:id", "/api", "/API/v2/x", "/api/"]) {
    assert.equal(routePolicy(url, undefined), "admin", url);
    assert.equal(routePolicy(url, "admin"), "admin", url);
    assert.throws(() => routePolicy(url, "public"), RoutePolicyError, url);
    assert.throws(() => routePolicy(url, "est"), RoutePolicyError, url);
  }
  assert.equal(routePolicy("/console/devices", undefined), "admin");
  assert.equal(routePolicy("/console/", "public"), "public", "the sign-in page says so explicitly");
  assert.equal(routePolicy("/crl", "public"), "public");
  assert.equal(routePolicy("/.well-known/est/simpleenroll", "est"), "est");
  assert.throws(() => routePolicy("/crl", undefined), RoutePolicyError, "deny by default: no silent public route");
  assert.throws(() => routePolicy("/apiary", undefined), RoutePolicyError, "not under /api, so it must declare");
});

test("checkRequestTarget: origin-form and absolute-form pass; ambiguous spellings are refused", () => {
  const ok = ["/", "/api/v1/devices", "/%61pi/v1/devices", "/api/v1/devices?x=../..", "/console/", "/api/v1/devices;x",
    "https://localhost:8443/api/v1/audit", "HTTP://h/x", "https://h", "https://h?x=1", "/a/...", "/a/.b", "/a/%2e%2eb"];
  for (const t of ok) assert.equal(checkRequestTarget(t).ok, true, t);
  const abs = checkRequestTarget("https://localhost:8443/api/v1/audit?limit=1");
  assert.deepEqual(abs, { ok: true, path: "/api/v1/audit" });
  const bad = ["*", "localhost:8443", "ftp://h/x", "api/v1", "", "//api", "/api//v1", "/x/../api", "/x/..", "/./api", "/x/%2e%2e/api",
    "/x/%2E./api", "/x/.%2e/api", "/x/%2e/api", "/x/..;/api", "/api%2fv1", "/api%2Fv1", "/api%5cv1", "/a\\b", "/a%00b", "/a%", "/a%g1", "/a b", "/a\tb",
    "https://h//api", "https://h/x/../api"];
  for (const t of bad) assert.equal(checkRequestTarget(t).ok, false, t);
});

test("canonicalHeaderName: each word capitalized, known acronyms kept", () => {
  assert.equal(canonicalHeaderName("content-type"), "Content-Type");
  assert.equal(canonicalHeaderName("CONTENT-TRANSFER-ENCODING"), "Content-Transfer-Encoding");
  assert.equal(canonicalHeaderName("www-authenticate"), "WWW-Authenticate");
  assert.equal(canonicalHeaderName("retry-after"), "Retry-After");
  assert.equal(canonicalHeaderName("allow"), "Allow");
  assert.equal(canonicalHeaderName("etag"), "ETag");
  assert.equal(canonicalHeaderName("x-request-id"), "X-Request-Id");
});

test("installRouteAccess: an /api route cannot be registered public, an undeclared route not at all, and each /api route runs the admin check", async () => {
  const { default: Fastify } = await import("fastify");
  const { installRouteAccess } = await import("../../enroll/http/route-access.js");
  const { GatewayError } = await import("../../errors.js");
  const app = Fastify();
  let checks = 0;
  const access = installRouteAccess(app, () => {
    checks++;
    throw new GatewayError("FG_ADMIN_CERT_REQUIRED");
  });
  app.setErrorHandler((e: Error & { status?: number; allow?: readonly string[] }, _req, reply) => {
    if (e.allow) void reply.header("allow", e.allow.join(", "));
    return reply.code(e.status ?? 500).send({ message: e.message });
  });
  assert.throws(() => app.get("/api/v1/open", { config: { auth: "public" } }, async () => "leak"), /must be admin-only/);
  assert.throws(() => app.get("/unlabelled", async () => "leak"), /declares no access policy/);
  await app.register(async (scope) => {
    scope.get("/v1/things", async () => "secret");
  }, { prefix: "/api" });
  app.get("/open", { config: { auth: "public" } }, async () => "hello");
  access.refuseOtherMethods();
  await app.ready();
  const r = await app.inject({ method: "GET", url: "/api/v1/things" });
  assert.equal(r.statusCode, 401);
  assert.equal((await app.inject({ method: "GET", url: "/%61pi/v1/things" })).statusCode, 401);
  assert.equal((await app.inject({ method: "DELETE", url: "/api/v1/things" })).statusCode, 401, "the 405 route is admin-checked first");
  assert.ok(checks >= 3);
  const open = await app.inject({ method: "PUT", url: "/open" });
  assert.equal(open.statusCode, 405);
  assert.equal(open.headers.allow, "GET, HEAD", "fastify exposes HEAD for GET here (the gateway turns that off)");
  assert.ok(access.registered.some((x) => x.url === "/api/v1/things" && x.auth === "admin"));
  await app.close();
});
