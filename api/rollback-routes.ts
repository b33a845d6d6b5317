/**
 * GET /rollbacks/:workflowId: how a rollback started by POST /rollbacks is
 * doing, so callers (`slipway rollback --wait` through the API) can follow
 * it by polling. Readable by any viewer; only rollback workflows are shown.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RollbackResult } from '../domain/release';

/** RollbackRouteDeps are the Temporal client the route reads from and the API's role check and time budget. */
export interface RollbackRouteDeps {
  /** Absent when the API has no Temporal connection: the route then answers 503. */
  temporal?: Client;
  requireRole: (role: 'viewer') => (req: FastifyRequest) => Promise<void>;
  withTimeout: <T>(what: string, p: Promise<T>) => Promise<T>;
}

/** RollbackProgressBody is the route's answer; `result` when completed, `error` when it failed. */
export interface RollbackProgressBody {
  workflowId: string;
  state: 'running' | 'completed' | 'failed';
  result?: RollbackResult;
  error?: string;
}

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** registerRollbackRoutes adds GET /rollbacks/:workflowId. */
export function registerRollbackRoutes(app: FastifyInstance, deps: RollbackRouteDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get('/rollbacks/:workflowId', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'Where a rollback stands: running, completed (with what is live now) or failed (with why)',
      params: z.object({ workflowId: z.string().regex(/^rollback-[A-Za-z0-9._+@-]{1,250}$/, 'must be a rollback workflow id as POST /rollbacks answered (rollback-<model>-<env>-<key>)') }),
      response: { 200: z.any().describe('JSON object: workflowId, state, result or error'), 404: errorSchema, 503: errorSchema },
    },
  }, async (req, reply) => {
    const { workflowId } = req.params;
    if (!deps.temporal) return reply.code(503).send({ error: { code: 'unavailable', message: 'this API instance has no Temporal connection' } });
    const handle = deps.temporal.workflow.getHandle(workflowId);
    const notFound = () => reply.code(404).send({ error: { code: 'not_found', message: `no rollback ${workflowId}` } });
    let description;
    try {
      description = await deps.withTimeout('Temporal', handle.describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return notFound();
      throw err;
    }
    // The id pattern alone does not make it a rollback: never show another workflow's result here.
    if (description.type !== 'rollbackWorkflow') return notFound();
    if (description.status.name === 'RUNNING') return { workflowId, state: 'running' } satisfies RollbackProgressBody;
    try {
      const result = (await deps.withTimeout('Temporal', handle.result())) as RollbackResult;
      return { workflowId, state: 'completed', result } satisfies RollbackProgressBody;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const error = err.cause?.message ?? err.message;
      return { workflowId, state: 'failed', error } satisfies RollbackProgressBody;
    }
  });
}
