import type { FastifyInstance } from "fastify";
import type { HttpsContext } from "../https-server.js";

/** Admin API under /api/v1 (issue 5 fills these in). */
export async function registerAdminApi(_app: FastifyInstance, _ctx: HttpsContext): Promise<void> {
  // Not implemented yet: issue 5.
}
