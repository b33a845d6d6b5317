/**
 * Refusals at the API's edge go into the audit chain as `api.refused`: an
 * authenticated caller refused for lacking a role or a grant (403), and a
 * decision refused as bad input (400 on the routes that decide: starting or
 * retrying a release, approving or rejecting, rolling back, applying a
 * pipeline or binding a model to one). Each records who, which
 * route and why. A flood of refusals cannot grow the log without bound: per
 * identity at most `max` per window are recorded, and the next recorded one
 * says how many were left out. Unauthenticated refusals (401) name no one;
 * the per-address rate limit is what bounds those.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditLog } from '../registry/audit';

/** DEFAULT_REFUSALS_AUDITED_PER_MINUTE is how many refusals per identity per minute reach the audit chain. */
export const DEFAULT_REFUSALS_AUDITED_PER_MINUTE = 10;

// Bad input on these routes is a refused decision, not a typo in a read.
const DECISION_ROUTES = new Set([
  'POST /releases',
  'POST /releases/:id/retry',
  'POST /releases/:id/approvals',
  'POST /rollbacks',
  // Policy: a hostile pipeline refused at apply is an attempt worth a record.
  'PUT /pipelines',
  'PUT /models/:model/binding',
]);

/** installRefusalAudit records refusals of authenticated callers once their answer is sent. */
export function installRefusalAudit(app: FastifyInstance, options: { audit: AuditLog; max: number; windowMs: number; logger?: Logger }): void {
  const budget = app.createRateLimit({ max: options.max, timeWindow: options.windowMs, keyGenerator: (req) => `refusal:${identityKey(req)}` });
  const leftOut = new Map<string, number>();
  app.addHook('onSend', async (req, reply, payload) => {
    const route = `${req.method} ${req.routeOptions.url ?? ''}`;
    const status = reply.statusCode;
    if (!req.principal || !(status === 403 || (status === 400 && DECISION_ROUTES.has(route)))) return payload;
    req.refusal = { route, status, reason: errorMessage(payload) };
    return payload;
  });
  app.addHook('onResponse', async (req) => {
    const refusal = req.refusal;
    const principal = req.principal;
    if (!refusal || !principal) return;
    const key = identityKey(req);
    try {
      const allowed = await budget(req);
      if (!allowed.isAllowed && allowed.isExceeded) {
        leftOut.set(key, (leftOut.get(key) ?? 0) + 1);
        return;
      }
      const suppressed = leftOut.get(key) ?? 0;
      leftOut.delete(key);
      await options.audit.append(
        {
          key: `api.refused:${randomUUID()}`,
          actor: principal.user,
          action: 'api.refused',
          subject: {},
          reason: refusal.reason,
          details: {
            route: refusal.route,
            status: refusal.status,
            via: principal.via,
            ...(principal.issuer ? { issuer: principal.issuer } : {}),
            ...(suppressed > 0 ? { refusalsNotRecorded: suppressed } : {}),
          },
        },
        { fresh: true },
      );
    } catch (err) {
      // The caller already has its answer; a lost audit entry is logged, never turned into a failure.
      (options.logger ?? req.log).error({ err, refusal }, 'could not record an API refusal in the audit chain');
    }
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    refusal?: { route: string; status: number; reason: string };
  }
}

function identityKey(req: FastifyRequest): string {
  return `${req.principal?.via}:${req.principal?.issuer ?? ''}:${req.principal?.user}`;
}

function errorMessage(payload: unknown): string {
  try {
    const body = JSON.parse(typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '') as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return body.error.message.slice(0, 500);
  } catch {
    // not JSON: fall through
  }
  return 'refused';
}
