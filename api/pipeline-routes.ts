/**
 * Pipelines and model bindings on the server: admins apply pipelines and bind
 * models to them; viewers read both. The logic is the registry's PolicyStore
 * (registry/policy.ts), the same the `slipway pipeline` and `slipway model
 * bind` verbs call; the audit actor is the token's user.
 */
import type { SecretEnvAllow } from '../domain/secret-env';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from 'mongodb';
import type { AuditSigner } from '../registry/audit';
import { z } from 'zod';
import { modelNameSchema } from '../domain/model-version';
import { MAX_PIPELINE_SOURCE_LENGTH, pipelineNameSchema } from '../domain/pipeline';
import { NotFoundError } from '../registry/errors';
import { PolicyStore } from '../registry/policy';

/** PipelineRouteDeps are what the pipeline routes read from and how they check the caller. */
export interface PipelineRouteDeps {
  db: Db;
  /** The API's role check: `admin` to change policy, `viewer` to read it. */
  requireRole: (role: 'viewer' | 'admin') => (req: FastifyRequest) => Promise<void>;
  /** The API's per-request budget for the database; absent means no budget. */
  withTimeout?: <T>(what: string, p: Promise<T>) => Promise<T>;
  /** The rate limit of mutating routes. */
  mutating?: { rateLimit: { max: number; timeWindow: string } };
  /** Signs audit checkpoints of policy changes (the API's key). */
  signer?: AuditSigner;
  /** SLIPWAY_SECRET_ENV_ALLOW: the secret variables an applied pipeline may name (the workers check again). */
  secretEnvAllow?: SecretEnvAllow;
}

// Reported as the file in a pipeline's problems when the caller names none.
const API_FILE = '<api>';

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  }),
});
const anyObject = z.any().describe('JSON object');

/** applyPipelineBodySchema is the body of PUT /pipelines: the YAML text, and what to call it in error messages. */
export const applyPipelineBodySchema = z.strictObject({
  source: z.string().min(1).max(MAX_PIPELINE_SOURCE_LENGTH).describe('the pipeline YAML, as in a pipeline file'),
  file: z.string().min(1).max(256).optional().describe('the file name to report problems against (default <api>)'),
});

/** registerPipelineRoutes adds /pipelines and /models/:model/binding to the API. */
export async function registerPipelineRoutes(app: FastifyInstance, deps: PipelineRouteDeps): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const policy = new PolicyStore(deps.db, { auditSigner: deps.signer, secretEnvAllow: deps.secretEnvAllow });
  const withTimeout = deps.withTimeout ?? (<T>(_what: string, p: Promise<T>) => p);
  const mutating = deps.mutating ? { config: deps.mutating } : {};

  typed.put('/pipelines', {
    onRequest: deps.requireRole('admin'),
    ...mutating,
    schema: {
      summary: 'Apply a pipeline: its next revision, or nothing when the content is already the current one (admin)',
      body: applyPipelineBodySchema,
      response: { 200: anyObject, 201: anyObject, 400: errorSchema, 403: errorSchema },
    },
  }, async (req, reply) => {
    const applied = await withTimeout('registry', policy.applyPipeline(req.body.source, req.body.file ?? API_FILE, req.principal!.user));
    return reply.code(applied.changed ? 201 : 200).send(applied);
  });

  typed.get('/pipelines', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'Every pipeline on the server with its current revision', response: { 200: anyObject } },
  }, async () => ({ pipelines: await withTimeout('registry', policy.listPipelines()) }));

  typed.get('/pipelines/:name', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'A pipeline: its current revision (or ?revision=N), text, hash, and who applied it when',
      params: z.object({ name: pipelineNameSchema }),
      querystring: z.strictObject({ revision: z.string().regex(/^[1-9][0-9]{0,8}$/, 'must be a whole number >= 1').optional() }),
      response: { 200: anyObject, 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => withTimeout('registry', policy.showPipeline(req.params.name, req.query.revision === undefined ? undefined : Number(req.query.revision))));

  typed.put('/models/:model/binding', {
    onRequest: deps.requireRole('admin'),
    ...mutating,
    schema: {
      summary: "Bind a model to a pipeline: its releases follow that pipeline's current revision (admin)",
      params: z.object({ model: modelNameSchema }),
      body: z.strictObject({ pipeline: pipelineNameSchema }),
      response: { 200: anyObject, 400: errorSchema, 403: errorSchema },
    },
  }, async (req) => withTimeout('registry', policy.bindModel(req.params.model, req.body.pipeline, req.principal!.user)));

  typed.get('/models/:model/binding', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'The pipeline a model is bound to',
      params: z.object({ model: modelNameSchema }),
      response: { 200: anyObject, 404: errorSchema },
    },
  }, async (req) => {
    const binding = await withTimeout('registry', policy.binding(req.params.model));
    if (!binding) throw new NotFoundError('binding', `of ${req.params.model}`, `an admin binds it with \`slipway model bind ${req.params.model} --pipeline <name>\``);
    return binding;
  });
}
