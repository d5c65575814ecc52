import type { FastifyInstance } from "fastify";
import type { HttpsContext } from "../https-server.js";

/** EST routes under /.well-known/est/ (issue 3 fills these in). */
export async function registerEst(_app: FastifyInstance, _ctx: HttpsContext): Promise<void> {
  // Not implemented yet: issue 3.
}
