import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { rawHttps, type RawHttpReply } from "../helpers/raw-https.js";
import { run } from "../helpers/est-tools.js";
import { startHttps } from "../../enroll/https-server.js";
import { ensurePki } from "../../enroll/pki.js";
import { createMetrics } from "../../runtime/metrics.js";
import type { RegisteredRoute } from "../../enroll/http/route-access.js";
import { sq } from "../../testkit/registry.js";

/**
 * Issue 11 point 1: authorization must hold for whatever spelling of a target the
 * router serves. Every spelling is written byte for byte on a TLS socket (curl and
 * node's client normalize most of them away).
 */

let g: TestGateway;
let admin: { cert: string; key: string };
let service: { cert: string; key: string };
let device: { cert: string; key: string };
let port: number;

before(async () => {
  g = await startTestGateway();
  port = g.gw.httpsPort;
  admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
  const s = issueDirect(g.gw.deps, "backend-r", { role: "service" });
  service = { cert: s.certPem, key: s.keyPem };
  const d = issueDirect(g.gw.deps, "dev-route-1");
  device = { cert: d.certPem, key: d.keyPem };
});
after(async () => g.close());

const req = (line: string, as?: { cert: string; key: string }, o: { headers?: string[]; body?: string } = {}) =>
  rawHttps(port, g.caPem, line, { ...o, ...(as ?? {}) });

/** Percent-encodes the character at index i (never the leading "/"). */
const encodeAt = (p: string, i: number) => `${p.slice(0, i)}%${p.charCodeAt(i).toString(16).toUpperCase().padStart(2, "0")}${p.slice(i + 1)}`;

/** Spellings of an /api path that a router or a proxy might read as that path. */
function spellings(p: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < p.length; i++) if (p[i] !== "/") out.push(encodeAt(p, i), encodeAt(p, i).toLowerCase());
  const segs = p.split("/");
  out.push(
    `https://127.0.0.1:${port}${p}`, `http://localhost${p}`, `HTTPS://LOCALHOST:${port}${p}?x=1`,
    `${p}/`, `${p}//`, `/${p}`, p.replace("/v1/", "//v1/"), p.replace("/api/", "/api//"),
    `/x/..${p}`, `/x/%2e%2e${p}`, `/x/%2E%2E${p}`, `/./${p.slice(1)}`, `/api/./${p.slice(5)}`, `/api/v1/../v1/${p.slice(8)}`, `/api/v1/%2e/${p.slice(8)}`,
    `/api/v1/..;/v1/${p.slice(8)}`,
    p.toUpperCase(), `/API${p.slice(4)}`, `/Api${p.slice(4)}`,
    p.replace("/v1/", "%2fv1/"), p.replace("/v1/", "%2Fv1/"), p.replace("/v1/", "%5cv1/"), p.replace("/v1/", "\\v1/"), p.replace("/api/", "/api%00/"),
    `${p};x`, `${p};`, p.replace("/v1/", ";x/v1/"), p.replace("/api/", "/api;a=b/"), `${p}%3bx`,
    `${p}%`, `${p}%zz`, `${p}#frag`, `${p}?`, `${p}?a=%00`,
  );
  if (segs.length > 3) out.push(`/${segs[1]}%2f${segs.slice(2).join("/")}`);
  return out;
}

const API_PATHS = ["/api/v1/devices", "/api/v1/devices/dev-route-1", "/api/v1/devices/dev-route-1/revoke", "/api/v1/tokens", "/api/v1/audit"];

const refused = (r: RawHttpReply, what: string, allowed: number[]) => {
  assert.ok(allowed.includes(r.status), `${what} answered ${r.status}: ${r.body.slice(0, 200)}`);
};

test("no spelling of an admin path reaches a handler without a certificate (401, or 400/404/405), on any method", async () => {
  let reachedRoute = 0;
  for (const p of API_PATHS) {
    for (const s of spellings(p)) {
      for (const m of ["GET", "POST", "DELETE"]) {
        const r = await req(`${m} ${s} HTTP/1.1`, undefined, m === "POST" ? { headers: ["Content-Type: application/json"], body: JSON.stringify({ deviceId: "evil-1" }) } : {});
        refused(r, `${m} ${s} without a certificate`, [400, 401, 404]);
        if (r.status === 401) reachedRoute++;
      }
    }
  }
  // Many spellings are real spellings of the route: the router matched them, and the route refused.
  assert.ok(reachedRoute > 50, `only ${reachedRoute} spellings reached a route`);
  // Nothing was created by any of them.
  assert.equal(sq(g.gw.deps.store).sync.tokens.get("x"), undefined);
  assert.ok(!sq(g.gw.deps.store).sync.audit.newest(1000).some((e) => e.type === "token.created" || e.type === "device.revoked"), "no mutation happened");
});

test("the same spellings with a service or device certificate are 403 (or 400/404), never 2xx", async () => {
  for (const p of API_PATHS) {
    for (const s of spellings(p).filter((_x, i) => i % 3 === 0)) {
      for (const as of [service, device]) {
        const m = p.endsWith("revoke") || p.endsWith("tokens") ? "POST" : "GET";
        const r = await req(`${m} ${s} HTTP/1.1`, as, m === "POST" ? { headers: ["Content-Type: application/json"], body: "{}" } : {});
        refused(r, `${m} ${s} as non-admin`, [400, 403, 404]);
      }
    }
  }
});

test("spellings the router serves are routed and authorized identically: the admin gets the same answer", async () => {
  const plain = await req("GET /api/v1/devices HTTP/1.1", admin);
  assert.equal(plain.status, 200);
  for (const s of ["/%61pi/v1/devices", "/api/v1/%64evices", `https://127.0.0.1:${port}/api/v1/devices`, "/api/v1/devic%65s"]) {
    const r = await req(`GET ${s} HTTP/1.1`, admin);
    assert.equal(r.status, 200, s);
    assert.equal(r.header("content-type"), "application/json; charset=utf-8");
    assert.deepEqual(JSON.parse(r.body), JSON.parse(plain.body), s);
  }
  const audit = await req(`GET https://localhost:${port}/api/v1/audit?limit=1 HTTP/1.1`);
  assert.equal(audit.status, 401, "absolute-form audit without a certificate");
  assert.equal(JSON.parse(audit.body).code, "FG_ADMIN_CERT_REQUIRED");
});

test("write routes refuse encoded spellings with 401, not 500, and create nothing", async () => {
  for (const [line, body] of [
    ["POST /%61pi/v1/tokens HTTP/1.1", { deviceId: "evil-2" }],
    ["POST /api/v1/%74okens HTTP/1.1", { deviceId: "evil-2" }],
    [`POST https://127.0.0.1:${port}/api/v1/tokens HTTP/1.1`, { deviceId: "evil-2" }],
    ["POST /%61pi/v1/devices/dev-route-1/revoke HTTP/1.1", { reason: "keyCompromise" }],
    ["POST /api/v1/devices/dev-route-1/%72evoke HTTP/1.1", {}],
  ] as const) {
    const r = await req(line, undefined, { headers: ["Content-Type: application/json"], body: JSON.stringify(body) });
    assert.equal(r.status, 401, `${line}: ${r.body}`);
    assert.equal(JSON.parse(r.body).code, "FG_ADMIN_CERT_REQUIRED");
  }
  assert.equal(sq(g.gw.deps.store).sync.devices.get("dev-route-1")?.status, "active");
});

test("ambiguous targets are 400 with a one-line reason, whatever the path", async () => {
  for (const s of ["/x/../api/v1/devices", "/x/%2e%2e/api/v1/devices", "/api%2fv1/devices", "//api/v1/devices", "/api/v1/devices/%2e%2e", "/.well-known/est/../est/cacerts", "/crl/.", "*", "localhost:8443", "/a\\b"]) {
    const r = await req(`GET ${s} HTTP/1.1`);
    assert.equal(r.status, 400, `${s}: ${r.status} ${r.body}`);
    assert.ok(r.body.trim().length > 0 && !r.body.trim().includes("\n"), `${s}: one line`);
  }
  const logged = g.logs.lines().filter((l) => l.code === "FG_TARGET_INVALID");
  assert.ok(logged.length >= 10, "each refusal is logged with its code");
});

test("curl: dot segments (--path-as-is), case and encoded spellings", async () => {
  const dir = tmpDir();
  const curl = async (p: string, extra: string[] = []) => {
    const r = await run("curl", ["-sS", "-o", `${dir}/body`, "-w", "%{http_code}", "--cacert", g.paths.rootCert, ...extra, `${g.estUrl}${p}`]);
    assert.equal(r.code, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  assert.equal(await curl("/%61pi/v1/devices"), 401);
  assert.equal(await curl("/x/../api/v1/devices", ["--path-as-is"]), 400);
  assert.equal(await curl("/x/%2e%2e/api/v1/devices", ["--path-as-is"]), 400);
  assert.equal(await curl("/API/v1/devices"), 404);
  assert.equal(await curl("/api/v1/devices;x"), 404);
  assert.equal(await curl("/api/v1/tokens", ["-X", "POST", "-H", "content-type: application/json", "-d", '{"deviceId":"evil-3"}', "--cert", g.paths.adminCert, "--key", g.paths.adminKey]), 201);
});

/** A value that fits each path parameter's pattern. */
const fill = (url: string) => url.replace(/:[A-Za-z]+/g, "dev-route-1");

test("every registered route: none under /api answers without an admin certificate, none answers 5xx", async () => {
  // A second HTTPS listener over the same registry, to read the routes it registered.
  const pki = ensurePki({ dataDir: g.dataDir, hostnames: g.config.hostnames, curve: g.config.caCurve, clock: Date.now, log: g.gw.deps.log });
  const h = await startHttps({ ...g.gw.deps, metrics: createMetrics(), pki });
  try {
    const routes: readonly RegisteredRoute[] = h.routes;
    const apiRoutes = routes.filter((r) => r.url.startsWith("/api"));
    assert.ok(apiRoutes.length >= 6, `found ${apiRoutes.length} /api routes`);
    for (const r of apiRoutes) assert.equal(r.auth, "admin", `${r.method} ${r.url}`);
    const methods = [...new Set(routes.map((r) => r.method))];
    assert.ok(methods.includes("PATCH") && methods.includes("OPTIONS"), "the 405 answers are registered routes too");
    for (const r of routes) {
      const target = fill(r.url);
      const hasBody = !["GET", "HEAD", "OPTIONS", "TRACE"].includes(r.method);
      const o = hasBody ? { headers: ["Content-Type: application/json"], body: "{}" } : {};
      const none = await rawHttps(h.port, g.caPem, `${r.method} ${target} HTTP/1.1`, o);
      assert.ok(none.status < 500, `${r.method} ${target}: ${none.status}`);
      const asService = await rawHttps(h.port, g.caPem, `${r.method} ${target} HTTP/1.1`, { ...o, cert: service.cert, key: service.key });
      assert.ok(asService.status < 500, `${r.method} ${target} as service: ${asService.status}`);
      if (r.auth === "admin") {
        assert.equal(none.status, 401, `${r.method} ${target} without a certificate`);
        assert.equal(asService.status, 403, `${r.method} ${target} as service`);
      }
    }
  } finally {
    await h.close();
  }
});
