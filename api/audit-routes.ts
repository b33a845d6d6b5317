/**
 * GET /audit/verify: walks the audit chains and checks them against the
 * signed checkpoints. GET /releases/:id/evidence: the release's signed
 * evidence bundle (docs/evidence.md). Readable by any viewer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ReleaseService } from '../client/releases';
import type { TrustedKeys } from '../domain/decisions';
import { modelNameSchema } from '../domain/model-version';
import type { AuditSigner } from '../registry/audit';
import { buildEvidence } from '../registry/evidence';
import type { Registry } from '../registry/registry';

/** AuditRouteDeps are what the audit routes read from and how they check the caller. */
export interface AuditRouteDeps {
  registry: Registry;
  /** The release service; its status answers running releases and stored ones alike. */
  releases: () => ReleaseService;
  requireRole: (role: 'viewer') => (req: FastifyRequest) => Promise<void>;
  withTimeout: <T>(what: string, p: Promise<T>) => Promise<T>;
  /** The API's signing key (SLIPWAY_API_SIGNING_KEY); evidence is unsigned without it. */
  signer?: AuditSigner;
  /** Keys whose audit checkpoints are trusted (SLIPWAY_API_PUBLIC_KEYS and the API's own). */
  trustedKeys: TrustedKeys;
}

const releaseIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+@-]{0,200}$/, 'must look like release-<model>-<version>');

/** registerAuditRoutes adds GET /audit/verify and GET /releases/:id/evidence. */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get('/audit/verify', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'Verify the audit chains (one model with ?model=) against their signed checkpoints',
      querystring: z.strictObject({ model: modelNameSchema.optional() }),
      response: { 200: z.any().describe('JSON object: ok, checked, brokenAt?, checkpoints') },
    },
  }, async (req) => {
    const { ok, checked, brokenAt, checkpoints, checkpointsChecked } = await deps.withTimeout('registry', deps.registry.audit.verifyAudit({ model: req.query.model, trustedKeys: deps.trustedKeys }));
    return { ok, checked, ...(brokenAt ? { brokenAt } : {}), checkpoints, checkpointsChecked };
  });

  typed.get('/releases/:id/evidence', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'The signed evidence bundle of a release (schema slipway.evidence/v1, see docs/evidence.md)',
      params: z.object({ id: releaseIdSchema }),
      response: { 200: z.any().describe('JSON object: body, signature, publicKey') },
    },
  }, async (req) => {
    const release = await deps.withTimeout('Temporal', deps.releases().status(req.params.id));
    return deps.withTimeout('registry', buildEvidence(deps.registry, release, { signer: deps.signer }));
  });
}
