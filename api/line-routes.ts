/**
 * Stop the line and quarantined versions over HTTP: viewers read what is
 * stopped and quarantined; stopping/resuming needs the `stopsLine` grant and
 * quarantining the `quarantines` grant (admins hold both, api/permissions.ts).
 * The identity recorded is the token's user, never a body field. The logic is
 * client/line-controls.ts, the same the `slipway stop|resume` and `slipway
 * model quarantine|unquarantine` verbs call in direct mode.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scopeOf, type LineControlService } from '../client/line-controls';
import { reasonSchema, stopScopeSchema } from '../domain/line-controls';
import { envNameSchema, modelNameSchema, versionSchema } from '../domain/model-version';
import type { Principal } from './auth';
import { requireQuarantines, requireStopsLine } from './permissions';

/** LineRouteDeps are what the line routes act through and how they check the caller. */
export interface LineRouteDeps {
  /** The service the changes go through (it wakes the releases concerned and publishes events when it can). */
  lines: LineControlService;
  requireRole: (role: 'viewer') => (req: FastifyRequest) => Promise<void>;
  withTimeout: <T>(what: string, p: Promise<T>) => Promise<T>;
  mutating: { rateLimit: { max: number; timeWindow: string } };
}

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), problems: z.array(z.object({ field: z.string(), reason: z.string() })).optional() }) });
const anyObject = z.any().describe('JSON object');

/** registerLineRoutes adds GET/POST /stops, POST /stops/:scope/resume, GET /quarantines and the quarantine routes of a version. */
export function registerLineRoutes(app: FastifyInstance, deps: LineRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { lines } = deps;
  // The grant is checked before the body is read, so a caller without it learns nothing else and writes nothing.
  const withGrant = (check: (p: Principal) => void) => async (req: FastifyRequest) => {
    await deps.requireRole('viewer')(req);
    check(req.principal!);
  };

  api.get('/stops', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'Where the line is stopped (scope "all" or an environment), by whom, since when and why', response: { 200: anyObject } },
  }, async () => ({ stops: (await deps.withTimeout('registry', lines.status())).stops }));

  api.post('/stops', {
    onRequest: withGrant(requireStopsLine),
    config: deps.mutating,
    schema: {
      summary: 'Stop the line for one environment (env) or all of them (all: true): releases wait before their next deploy there',
      body: z.strictObject({ env: envNameSchema.optional(), all: z.boolean().optional(), reason: reasonSchema }),
      response: { 200: anyObject, 201: anyObject, 400: errorSchema, 403: errorSchema },
    },
  }, async (req, reply) => {
    const scope = scopeOf(req.body);
    const result = await deps.withTimeout('registry', lines.stop({ scope, reason: req.body.reason, by: req.principal!.user }));
    return reply.code(result.changed ? 201 : 200).send(result);
  });

  api.post('/stops/:scope/resume', {
    onRequest: withGrant(requireStopsLine),
    config: deps.mutating,
    schema: {
      summary: 'Lift the stop on a scope ("all" or an environment); the releases it held carry on',
      params: z.object({ scope: stopScopeSchema }),
      body: z.strictObject({ reason: reasonSchema.optional() }),
      response: { 200: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req) => deps.withTimeout('registry', lines.resume({ scope: req.params.scope, reason: req.body.reason, by: req.principal!.user })));

  api.get('/quarantines', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'Quarantined versions, newest first', querystring: z.strictObject({ model: modelNameSchema.optional() }), response: { 200: anyObject } },
  }, async (req) => ({ quarantines: (await deps.withTimeout('registry', lines.status(req.query.model))).quarantines }));

  const versionParams = z.object({ model: modelNameSchema, version: versionSchema });
  api.post('/models/:model/versions/:version/quarantine', {
    onRequest: withGrant(requireQuarantines),
    config: deps.mutating,
    schema: {
      summary: 'Quarantine a version: it can no longer be released or rolled back to; its running release stops and compensates',
      params: versionParams,
      body: z.strictObject({ reason: reasonSchema }),
      response: { 200: anyObject, 201: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const result = await deps.withTimeout('registry', lines.quarantine({ ...req.params, reason: req.body.reason, by: req.principal!.user }));
    return reply.code(result.changed ? 201 : 200).send(result);
  });

  api.post('/models/:model/versions/:version/unquarantine', {
    onRequest: withGrant(requireQuarantines),
    config: deps.mutating,
    schema: {
      summary: 'Lift a quarantine: the version may be released again (through its gates)',
      params: versionParams,
      body: z.strictObject({ reason: reasonSchema }),
      response: { 200: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req) => deps.withTimeout('registry', lines.unquarantine({ ...req.params, reason: req.body.reason, by: req.principal!.user })));
}
