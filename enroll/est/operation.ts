import type { FastifyReply, FastifyRequest } from "fastify";
import { toGatewayError } from "../../errors.js";
import { auditRefusal, checkCredentialOrReplay, enrollOrReplay, type Authorization, type EnrollOperation } from "../enrollment.js";
import type { HttpsContext } from "../https-server.js";
import { decodeEstBody, encodeBase64 } from "./body.js";
import type { Attempt } from "./identity.js";
import { certsOnly } from "./pkcs7.js";
import type { FailureLimiter } from "./rate-limit.js";

/** RFC 7030 §4.2.3: the issued certificate in a certs-only PKCS#7, base64 (RFC 8951). */
export const CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";

export interface EstOperationContext {
  readonly ctx: HttpsContext;
  readonly limiter: FailureLimiter;
}

/**
 * The steps both enrollment routes share: authenticate (before the body is
 * even decoded, so a bad credential is 401 whatever it sends), decode, run the
 * domain operation, answer. A refusal is counted for the limiter when it was a
 * wrong credential, audited when a credential was presented, and rethrown for
 * the error handler to log and map.
 * The checks that matter under concurrency (token unspent, device active, key and
 * rate bounds) are made again inside the registry transaction that records the
 * certificate, so requests interleaving at the awaits (in this or another
 * process) cannot both pass them.
 */
export async function runEnrollment(
  o: EstOperationContext, op: EnrollOperation, req: FastifyRequest, reply: FastifyReply,
  authorize: (attempt: Attempt) => Authorization,
): Promise<FastifyReply> {
  const { ctx } = o;
  const attempt: Attempt = { presented: false };
  try {
    const auth = authorize(attempt);
    req.fgDeviceId = attempt.deviceId;
    const check = await checkCredentialOrReplay(ctx.store, auth, ctx.clock());
    const der = decodeEstBody(req.body as Buffer | undefined);
    const done = await enrollOrReplay(ctx, auth, check, der);
    if (done.redelivered) req.log.info({ deviceId: done.deviceId, serial: done.certificate.serial, op, method: auth.kind }, "retry answered with the certificate already issued");
    else req.log.info({ deviceId: done.deviceId, serial: done.certificate.serial, op, method: auth.kind }, "enrolled");
    return reply.code(200).type(CERTS_ONLY).header("Content-Transfer-Encoding", "base64").send(encodeBase64(certsOnly([done.certificate.der])));
  } catch (e) {
    const ge = toGatewayError(e);
    req.fgDeviceId = attempt.deviceId;
    if (ge.status === 401 && attempt.presented) o.limiter.fail(req.ip);
    if (ge.code === "FG_TOKEN_INVALID") ctx.metrics.tokenFailures.inc();
    // Audited when an identity was claimed; anonymous refusals are only logged, so an
    // unauthenticated flood cannot grow the append-only audit trail.
    if (attempt.presented) await auditRefusal(ctx, { operation: op, code: ge.code, deviceId: attempt.deviceId, address: req.ip });
    throw e;
  }
}
