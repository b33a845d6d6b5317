/**
 * GET /dora: the four DORA keys per model and environment over a look-back
 * period, with their DORA 2023 performance bands and the report they cite.
 * Readable by any viewer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from 'mongodb';
import { z } from 'zod';
import { DEFAULT_DORA_SINCE, DORA_SOURCE, doraPeriod } from '../domain/dora';
import { envNameSchema, modelNameSchema } from '../domain/model-version';
import { readDora } from '../registry/dora';

/** DoraRouteDeps are what GET /dora reads from and how it checks the caller. */
export interface DoraRouteDeps {
  db: Db;
  /** The API's role check; GET /dora needs `viewer`. */
  requireRole: (role: 'viewer') => (req: FastifyRequest) => Promise<void>;
  /** The API's per-request budget for the database; absent means no budget. */
  withTimeout?: <T>(what: string, p: Promise<T>) => Promise<T>;
  /** "Now", the end of the period; injectable so tests are exact. */
  clock?: () => Date;
}

const sinceSchema = z
  .string()
  .max(64)
  .default(DEFAULT_DORA_SINCE)
  .superRefine((text, ctx) => {
    try {
      doraPeriod(new Date(), text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** doraQuerySchema is what GET /dora accepts: all optional, since defaults to 30d. */
export const doraQuerySchema = z.strictObject({
  model: modelNameSchema.optional(),
  env: envNameSchema.optional(),
  since: sinceSchema.describe('look-back from now, e.g. 7d, 30d, 90d (at most 3660d)'),
  allEnvs: z.enum(['true', 'false']).default('false').describe("also pool each model over all its environments (env '*')"),
});

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  }),
});

/** registerDoraRoutes adds GET /dora to the API (call it after the OpenAPI plugin is registered, like the other routes). */
export async function registerDoraRoutes(app: FastifyInstance, deps: DoraRouteDeps): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const clock = deps.clock ?? (() => new Date());
  const withTimeout = deps.withTimeout ?? (<T>(_what: string, p: Promise<T>) => p);
  typed.get('/dora', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'DORA metrics per model and environment: deployment frequency, lead time, change failure rate, recovery time, with bands',
      description: `Bands from the ${DORA_SOURCE.report} (${DORA_SOURCE.publisher}); the response carries the source and the exact band boundaries.`,
      querystring: doraQuerySchema,
      response: { 200: z.any().describe('JSON object: period, source, bandRules, metrics[]'), 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => {
    const { model, env, since, allEnvs } = req.query;
    const period = doraPeriod(clock(), since);
    const report = await withTimeout('registry', readDora(deps.db, { model, env, ...period, allEnvironments: allEnvs === 'true' }));
    return { since, ...report };
  });
}
