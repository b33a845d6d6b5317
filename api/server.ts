/**
 * The HTTP API for services and people: what is live where, releases,
 * approvals (identity from the bearer token only), health reports, and the
 * OpenAPI document generated from the same zod schemas that validate requests.
 */
import type { SecretEnvAllow } from '../domain/secret-env';
import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { ReleaseService, Verified } from '../client/releases';
import { REGISTRY_FAILURES } from '../domain/failures';
import { envNameSchema, modelNameSchema, registerVersionInputSchema, versionSchema } from '../domain/model-version';
import { isReleaseStatus, RELEASE_STATUSES } from '../domain/outcome';
import { PipelineError } from '../domain/pipeline';
import { InvalidInputError, RegistryError } from '../registry/errors';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import type { AesGcmCodec } from '../codec/aes-gcm';
import type { Signer } from '../lib/signing';
import type { SlipwayMetrics } from '../observability/metrics';
import { AuthFailure, can, canApprove, type Authenticator, type Principal, type Role } from './auth';
import type { TrustedKeys } from '../domain/decisions';
import { bearerTokenMatches } from '../lib/constant-time';
import { registerAuditRoutes } from './audit-routes';
import { registerBoardRoutes, type BoardSettings } from './board-routes';
import { registerCodecRoutes } from './codec-routes';
import { registerLineRoutes } from './line-routes';
import { LineControlService } from '../client/line-controls';
import { requireReportsHealth, requireRollBack } from './permissions';
import { registerDoraRoutes } from './dora-routes';
import { registerPipelineRoutes } from './pipeline-routes';
import { registerRollbackRoutes } from './rollback-routes';
import { DEFAULT_REQUESTS_PER_MINUTE, installEdgeLimits, RateLimited } from './rate-limits';
import { DEFAULT_REFUSALS_AUDITED_PER_MINUTE, installRefusalAudit } from './refusals';
import { registerSubscriptionRoutes } from './subscription-routes';

/** ApiDeps are the parts the API reads from and acts through. */
export interface ApiDeps {
  db: Db;
  /** Release operations; absent means the API serves only the registry's read side. */
  releases?: ReleaseService;
  /** The Temporal client behind `releases`, for following rollbacks (GET /rollbacks/:workflowId). */
  temporal?: Client;
  auth: Authenticator;
  /** Mutating requests allowed per caller per minute. */
  mutationsPerMinute?: number;
  /** Requests of any kind, refused ones included, allowed per client address and per identity per minute (SLIPWAY_API_REQUESTS_PER_MINUTE). */
  requestsPerMinute?: number;
  /** SLIPWAY_METRICS_TOKEN: when set, GET /metrics needs it as a bearer token. */
  metricsToken?: string;
  /** How many refusals of one identity the audit chain records per window (default 10 per minute, api/refusals.ts); the rest are counted in the next one recorded. */
  refusalAudit?: { max: number; windowMs: number };
  /** Outbound call budget for Temporal and the database, per request. */
  requestTimeoutMs?: number;
  /** Slipway's Prometheus metrics, served on /metrics with the worker runtime's when runtimeMetricsUrl is set. */
  metrics?: SlipwayMetrics;
  runtimeMetricsUrl?: string;
  /** Time source for period-based answers (DORA); tests pin it. */
  clock?: () => Date;
  /** Structured request logs; none when absent. */
  logger?: Logger;
  /** The API's signing key (SLIPWAY_API_SIGNING_KEY): decisions (through the ReleaseService built with it), audit checkpoints of its appends, evidence bundles. */
  signer?: Signer;
  /** Payload codec for the Web UI's codec endpoint (only when encryption is on). */
  codec?: {
    codec: AesGcmCodec;
    uiOrigins: string[];
    /** Dev only: let loopback callers without a token decode (the local Web UI sends none). */
    anonymousFromLoopback?: boolean;
  };
  /** Keys GET /audit/verify trusts (SLIPWAY_API_PUBLIC_KEYS); the signer's own is added. */
  trustedKeys?: TrustedKeys;
  /** Where the release board links (the Temporal Web UI); the board is served at / either way. */
  board?: BoardSettings;
  /** SLIPWAY_SECRET_ENV_ALLOW: what `PUT /pipelines` lets a pipeline name as a secret variable. */
  secretEnvAllow?: SecretEnvAllow;
}

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
    errorId: z.string().optional().describe('on a 500: the id under which the API logged the failure'),
  }),
});
// Large documents (release state, model) are described in the OpenAPI prose; requests are what we validate strictly.
const anyObject = z.any().describe('JSON object');
const releaseIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+@-]{0,200}$/, 'must look like release-<model>-<version>');

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** buildApi creates the Fastify app (not yet listening), so tests can inject requests or listen on a free port. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const registry = new Registry(deps.db, undefined, { auditSigner: deps.signer });
  const store = new ReleaseStore(deps.db);
  const timeoutMs = deps.requestTimeoutMs ?? 15_000;
  const app = Fastify({ ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }), bodyLimit: 64 * 1024, requestTimeout: timeoutMs + 5_000, connectionTimeout: 30_000 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Slipway API', description: 'Release promotion for AI models: registry, releases, approvals.', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(rateLimit, {
    global: false,
    max: deps.mutationsPerMinute ?? 60,
    timeWindow: '1 minute',
    keyGenerator: (req) => req.principal?.user ?? req.ip,
    errorResponseBuilder: (_req, ctx) => new RateLimited(`too many changes from this caller: at most ${ctx.max} per minute; retry in ${ctx.after}`, Math.ceil(ctx.ttl / 1000)),
  });
  const mutationsPerMinute = deps.mutationsPerMinute ?? 60;
  // Unset, the overall budget is never below the mutation budget (tests and batch callers raise only that one).
  const limits = installEdgeLimits(app, deps.requestsPerMinute ?? Math.max(DEFAULT_REQUESTS_PER_MINUTE, mutationsPerMinute));
  installRefusalAudit(app, { audit: registry.audit, ...(deps.refusalAudit ?? { max: DEFAULT_REFUSALS_AUDITED_PER_MINUTE, windowMs: 60_000 }), logger: deps.logger });

  app.setErrorHandler((err, req, reply) => {
    // An unexpected failure's text can carry internals (hosts, paths, queries): the caller gets an id, the log gets the error.
    const errorId = randomUUID();
    const sent = sendError(reply, err, errorId);
    if (reply.statusCode >= 500) req.log.error({ err, errorId }, 'request failed');
    return sent;
  });
  // Every request log line about a release carries its id.
  app.addHook('onRequest', async (req) => {
    const match = /^\/releases\/([^/?]+)/.exec(req.url);
    if (match) req.log = req.log.child({ releaseId: decodeURIComponent(match[1]!) });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  // Every route but health and the docs needs a token; the role check is per route.
  const requireRole = (role: Role) => async (req: FastifyRequest) => {
    await limits.checkIdentity(req, await deps.auth.authenticate(req.headers.authorization));
    if (!can(req.principal!, role)) throw new AuthFailure(403, `${req.principal!.user} lacks the ${role} role`);
  };
  const mutating = { rateLimit: { max: mutationsPerMinute, timeWindow: '1 minute' } };
  // Whatever service it is handed, the API never applies or binds pipelines by starting a release: that is an admin's act.
  const verifiedReleases = deps.releases?.forVerifiedFrontEnd();
  const releases = (): ReleaseService => {
    if (!verifiedReleases) throw Object.assign(new Error('this API instance has no Temporal connection'), { statusCode: 503 });
    return verifiedReleases;
  };
  const withTimeout = <T>(what: string, p: Promise<T>): Promise<T> =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error(`${what} did not answer within ${timeoutMs} ms`), { statusCode: 504 })), timeoutMs).unref())]);

  if (deps.codec) {
    const { codec, uiOrigins, anonymousFromLoopback } = deps.codec;
    registerCodecRoutes(app, {
      codec,
      uiOrigins,
      authorize: async (req) => {
        if (anonymousFromLoopback && !req.headers.authorization && isLoopback(req.ip)) return;
        await requireRole('viewer')(req);
      },
    });
  }

  app.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await withTimeout('registry database', deps.db.command({ ping: 1 }));
      return { status: 'ok', registry: 'ok' };
    } catch (err) {
      return reply.code(503).send({ status: 'degraded', registry: (err as Error).message });
    }
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (deps.metricsToken !== undefined && !bearerTokenMatches(req.headers.authorization, deps.metricsToken)) {
      throw new AuthFailure(401, 'GET /metrics needs "Authorization: Bearer <token>" with the token set in SLIPWAY_METRICS_TOKEN');
    }
    const parts = [deps.metrics ? await deps.metrics.registry.metrics() : ''];
    if (deps.runtimeMetricsUrl) {
      // The worker runtime serves its own Prometheus text; one scrape gets both.
      const res = await fetch(deps.runtimeMetricsUrl, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      if (res?.ok) parts.push(await res.text());
    }
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(parts.join('\n'));
  });

  app.get('/models/:model', {
    onRequest: requireRole('viewer'),
    schema: { summary: 'A model: versions, what is live per environment, aliases', params: z.object({ model: modelNameSchema }), response: { 200: anyObject, 404: errorSchema } },
  }, async (req) => withTimeout('registry', registry.describeModel(req.params.model)));

  app.post('/models/:model/versions', {
    onRequest: requireRole('releaser'),
    config: mutating,
    schema: {
      summary: 'Register an immutable model version (same content again is a no-op)',
      params: z.object({ model: modelNameSchema }),
      body: registerVersionInputSchema.omit({ model: true }),
      response: { 200: anyObject, 201: anyObject, 400: errorSchema, 409: errorSchema },
    },
  }, async (req, reply) => {
    const result = await withTimeout('registry', registry.registerVersion({ ...req.body, model: req.params.model }, req.principal!.user));
    return reply.code(result.created ? 201 : 200).send(result);
  });

  app.get('/models/:model/deployments', {
    onRequest: requireRole('viewer'),
    schema: {
      summary: 'Deployment history, or what was live at a moment (?at=)',
      params: z.object({ model: modelNameSchema }),
      querystring: z.strictObject({ env: envNameSchema.optional(), at: z.iso.datetime({ offset: true }).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
      response: { 200: anyObject },
    },
  }, async (req) => {
    const { model } = req.params;
    const described = await withTimeout('registry', registry.describeModel(model));
    if (req.query.at) return registry.whatWasLiveAt(model, new Date(req.query.at), req.query.env);
    return { model, live: described.live, history: await registry.deploymentHistory(model, req.query.env, req.query.limit) };
  });

  app.get('/environments/:env', {
    onRequest: requireRole('viewer'),
    schema: { summary: 'What is live for every model in one environment', params: z.object({ env: envNameSchema }), response: { 200: anyObject } },
  }, async (req) => ({ env: req.params.env, live: await withTimeout('registry', registry.liveInEnvironment(req.params.env)) }));

  await registerDoraRoutes(app, { db: deps.db, requireRole, withTimeout, clock: deps.clock });
  await registerPipelineRoutes(app, { db: deps.db, requireRole, withTimeout, mutating, signer: deps.signer, secretEnvAllow: deps.secretEnvAllow });
  // Without Temporal the line still changes in the registry; nothing is woken or published.
  const lines = verifiedReleases ? verifiedReleases.lineControls(deps.signer) : new LineControlService({ db: deps.db, auditSigner: deps.signer });
  registerLineRoutes(app, { lines, requireRole, withTimeout, mutating });
  await registerSubscriptionRoutes(app, { db: deps.db, requireRole, withTimeout, mutating, signer: deps.signer });
  registerAuditRoutes(app, { registry, releases, requireRole, withTimeout, signer: deps.signer, trustedKeys: { ...deps.trustedKeys, ...(deps.signer ? { [deps.signer.keyId]: deps.signer.publicKey } : {}) } });

  app.get('/releases', {
    onRequest: requireRole('viewer'),
    schema: {
      summary: 'Releases, newest first, paginated',
      querystring: z.strictObject({
        model: modelNameSchema.optional(),
        status: z.string().refine(isReleaseStatus, `must be one of ${RELEASE_STATUSES.join(', ')}`).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        offset: z.coerce.number().int().min(0).max(100_000).default(0),
      }),
      response: { 200: anyObject },
    },
  }, async (req) => {
    const { limit, offset, model, status } = req.query;
    const page = await withTimeout('registry', store.list({ model, status, limit: limit + 1, skip: offset }));
    const items = page.slice(0, limit).map(({ _id, ...r }) => ({ releaseId: _id, ...r }));
    return { items, limit, offset, next: page.length > limit ? offset + limit : null };
  });

  app.get('/releases/:id', {
    onRequest: requireRole('viewer'),
    schema: { summary: 'The whole state of a release', params: z.object({ id: releaseIdSchema }), response: { 200: anyObject, 404: errorSchema } },
  }, async (req) => withTimeout('Temporal', releases().status(req.params.id)));

  app.post('/releases', {
    onRequest: requireRole('releaser'),
    config: mutating,
    schema: {
      summary: 'Start a release (a running release of the same version is returned)',
      body: z.strictObject({ model: modelNameSchema, version: versionSchema, pipeline: z.string().max(64).optional(), hotfix: z.boolean().optional().describe('a hotfix may pass a stopped line with a break-glass approval') }),
      response: { 201: anyObject, 200: anyObject, 400: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const started = await withTimeout('Temporal', releases().start({ ...req.body, requestedBy: req.principal!.user, verified: verifiedAs(req.principal!) }));
    return reply.code(started.alreadyRunning ? 200 : 201).send(started);
  });

  app.post('/releases/:id/retry', {
    onRequest: requireRole('releaser'),
    config: mutating,
    schema: {
      summary: 'Start a new run of a release that ended failed, rejected, approval_expired or cancelled, keeping the stages that passed when nothing they depend on changed',
      params: z.object({ id: releaseIdSchema }),
      body: z.strictObject({ from: envNameSchema.optional() }).default({}),
      response: { 201: anyObject, 400: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const started = await withTimeout('Temporal', releases().retry({ releaseId: req.params.id, from: req.body.from, requestedBy: req.principal!.user, verified: verifiedAs(req.principal!) }));
    return reply.code(201).send(started);
  });

  app.post('/releases/:id/approvals', {
    onRequest: requireRole('viewer'),
    config: mutating,
    schema: {
      summary: 'Approve or reject a stage as the caller (identity from the token, never the body)',
      params: z.object({ id: releaseIdSchema }),
      body: z.strictObject({ stage: envNameSchema, decision: z.enum(['approve', 'reject']).default('approve'), comment: z.string().max(2000).optional(), breakGlass: z.boolean().optional().describe("lets a hotfix pass a stopped line at this stage; only the pipeline's breakGlass approvers count") }),
      response: { 200: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const principal = req.principal!;
    // Break-glass approvers are the pipeline's own list, which the release checks; they need no approves grant.
    if (req.body.breakGlass === true && req.body.decision === 'approve') {
      const result = await withTimeout('Temporal', releases().approve({ releaseId: req.params.id, stage: req.body.stage, approver: principal.user, comment: req.body.comment, verified: verifiedAs(principal), breakGlass: true }));
      return reply.code(result.outcome === 'refused' ? 403 : 200).send(result.outcome === 'refused' ? { error: { code: 'forbidden', message: result.reason ?? 'refused' } } : result);
    }
    if (!canApprove(principal, req.body.stage)) throw new AuthFailure(403, `${principal.user} may not approve ${req.body.stage}`);
    if (req.body.decision === 'reject') {
      if (!req.body.comment) throw new InvalidInputError([{ field: 'comment', reason: 'a rejection needs a reason in comment' }]);
      await withTimeout('Temporal', releases().reject({ releaseId: req.params.id, stage: req.body.stage, approver: principal.user, reason: req.body.comment, verified: verifiedAs(principal) }));
      return { releaseId: req.params.id, stage: req.body.stage, decision: 'reject', by: principal.user };
    }
    const result = await withTimeout('Temporal', releases().approve({ releaseId: req.params.id, stage: req.body.stage, approver: principal.user, comment: req.body.comment, verified: verifiedAs(principal) }));
    return reply.code(result.outcome === 'refused' ? 403 : 200).send(result.outcome === 'refused' ? { error: { code: 'forbidden', message: result.reason ?? 'refused' } } : result);
  });

  app.post('/rollbacks', {
    // Rolling back is its own permission, per environment (api/permissions.ts), checked once the body names the env.
    onRequest: requireRole('viewer'),
    config: mutating,
    schema: {
      summary: 'Roll one environment back to its last known good version, or to toVersion if it was live there before and not marked failed',
      body: z.strictObject({ model: modelNameSchema, env: envNameSchema, toVersion: versionSchema.optional(), reason: z.string().max(2000).optional() }),
      response: { 202: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    requireRollBack(req.principal!, req.body.env);
    // Answer at once; the caller follows the rollback by its workflow id.
    const { workflowId } = await withTimeout('Temporal', releases().rollback({ ...req.body, requestedBy: req.principal!.user, verified: verifiedAs(req.principal!) }));
    return reply.code(202).send({ workflowId });
  });

  registerRollbackRoutes(app, { temporal: deps.temporal, requireRole, withTimeout });
  await registerBoardRoutes(app, { db: deps.db, requireRole, withTimeout, lines, settings: deps.board, clock: deps.clock });

  app.post('/health-reports', {
    // Any role; the reportsHealth grant (checked per environment below) decides.
    onRequest: requireRole('viewer'),
    config: mutating,
    schema: {
      summary: 'Report how a deployed version is doing; bakes and canary analysis read these',
      body: z.strictObject({
        model: modelNameSchema,
        env: envNameSchema,
        version: versionSchema,
        healthy: z.boolean(),
        errorRate: z.number().min(0).max(1).optional(),
        latencyP99Ms: z.number().min(0).max(3_600_000).optional(),
        source: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
      }),
      response: { 202: anyObject, 400: errorSchema, 403: errorSchema },
    },
  }, async (req, reply) => {
    const principal = req.principal!;
    requireReportsHealth(principal, req.body.env);
    // Who reported comes from the credential, never the body (`source` is only a label).
    await withTimeout('registry', store.reportHealth({ ...req.body, source: req.body.source ?? principal.user, reportedBy: { ...verifiedAs(principal).identity, ...(principal.actor ? { actor: principal.actor } : {}) } }));
    return reply.code(202).send({ accepted: true });
  });

  return app;
}

function sendError(reply: FastifyReply, err: unknown, errorId: string): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const problems = err.validation.map((v) => ({
      field: [err.validationContext, ...(v.instancePath ? v.instancePath.split('/').filter(Boolean) : []), ...extraKey(v.params)].filter(Boolean).join('.'),
      reason: v.message ?? 'invalid',
    }));
    return reply.code(400).send({ error: { code: 'bad_request', message: problems.map((p) => `${p.field}: ${p.reason}`).join('; '), problems } });
  }
  if (err instanceof AuthFailure) return reply.code(err.status).send({ error: { code: err.status === 401 ? 'unauthorized' : 'forbidden', message: err.message } });
  if (err instanceof RegistryError) {
    const { httpStatus, apiCode } = REGISTRY_FAILURES[err.code];
    return reply.code(httpStatus).send({ error: { code: apiCode, message: err.message, ...(err instanceof InvalidInputError ? { problems: err.problems } : {}) } });
  }
  if (err instanceof PipelineError) return reply.code(400).send({ error: { code: 'bad_request', message: err.message, problems: err.issues.map((i) => ({ field: `${i.file}:${i.path}`, reason: i.reason })) } });
  const e = err as { statusCode?: number; message?: string; code?: string };
  if (err instanceof RateLimited) reply.header('retry-after', String(err.retryAfterSeconds));
  if (e.statusCode === 429) return reply.code(429).send({ error: { code: 'rate_limited', message: e.message ?? 'too many requests' } });
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return reply.code(e.statusCode).send({ error: { code: e.statusCode === 413 ? 'payload_too_large' : 'bad_request', message: e.message ?? 'bad request' } });
  }
  const status = e.statusCode === 503 || e.statusCode === 504 ? e.statusCode : 500;
  if (status !== 500) return reply.code(status).send({ error: { code: 'unavailable', message: e.message ?? 'unavailable' } });
  return reply.code(500).send({ error: { code: 'internal', message: `internal error; give the operator this error id to find it in the API's log: ${errorId}`, errorId } });
}

// What the API vouches for when it signs a caller's decision: the token's user, how it was verified, and the person behind a CI identity.
function verifiedAs(p: Principal): Verified {
  return { identity: { user: p.user, via: p.via, ...(p.issuer ? { issuer: p.issuer } : {}) }, ...(p.actor ? { actor: p.actor } : {}) };
}

function isLoopback(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

function extraKey(params: unknown): string[] {
  const p = params as { keys?: string[]; key?: string } | undefined;
  if (p?.keys?.length) return [p.keys.join(',')];
  return [];
}
