/**
 * The HTTP API for services: what is live where, release status, approvals.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Db } from 'mongodb';

/** ApiDeps are the parts the API reads from. */
export interface ApiDeps {
  db: Db;
}

/** buildApi creates the Fastify app (not yet listening), so tests can inject requests. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.db.command({ ping: 1 });
      return { status: 'ok', registry: 'ok' };
    } catch (err) {
      return reply.code(503).send({ status: 'degraded', registry: (err as Error).message });
    }
  });
  return app;
}
