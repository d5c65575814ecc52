import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { decodeBase64, decodeEstBody, encodeBase64, mediaType } from "../../enroll/est/body.js";
import { isGatewayError } from "../../errors.js";

const malformed = (f: () => unknown) => assert.throws(f, (e: unknown) => isGatewayError(e) && e.code === "FG_BODY_MALFORMED");

describe("EST body encoding (RFC 8951)", () => {
  const der = crypto.randomBytes(300);
  const b64 = der.toString("base64");

  test("ok: base64 with no line breaks, LF, CRLF, spaces and tabs", () => {
    for (const text of [b64, b64.replace(/(.{64})/g, "$1\n"), b64.replace(/(.{76})/g, "$1\r\n") + "\r\n", ` ${b64.slice(0, 10)}\t${b64.slice(10)} `]) {
      assert.deepEqual(decodeBase64(text), der);
    }
  });

  test("ok: padding present or missing", () => {
    assert.deepEqual(decodeBase64("QQ=="), Buffer.from("A"));
    assert.deepEqual(decodeBase64("QQ"), Buffer.from("A"));
    assert.deepEqual(decodeBase64("QUI="), Buffer.from("AB"));
    assert.deepEqual(decodeBase64("QUI"), Buffer.from("AB"));
  });

  test("fail: characters outside the alphabet, misplaced padding, impossible lengths, empty", () => {
    for (const bad of ["", "   \n", "QQ=A", "Q===", "QQ=", "Q", "QUJD\u00e9", "QU-_", "QUJD!", "-----BEGIN X-----", "=QQQ", "QUJDRA==QUJD"]) {
      malformed(() => decodeBase64(bad));
    }
  });

  test("fail: bytes that are not ASCII are not silently skipped", () => {
    malformed(() => decodeEstBody(Buffer.concat([Buffer.from(b64.slice(0, 8)), Buffer.from([0xff, 0xfe]), Buffer.from(b64.slice(8))])));
    malformed(() => decodeEstBody(undefined));
    malformed(() => decodeEstBody(Buffer.alloc(0)));
  });

  test("encodeBase64 wraps at 64 characters and round-trips", () => {
    const text = encodeBase64(der);
    assert.ok(text.split("\n").every((l) => l.length <= 64));
    assert.ok(text.endsWith("\n"));
    assert.deepEqual(decodeBase64(text), der);
  });

  test("mediaType drops parameters and case", () => {
    assert.equal(mediaType("application/pkcs10"), "application/pkcs10");
    assert.equal(mediaType("Application/PKCS10 ; charset=utf-8"), "application/pkcs10");
    assert.equal(mediaType(undefined), undefined);
    assert.equal(mediaType(" ;x=y"), undefined);
  });
});
