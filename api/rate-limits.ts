/**
 * Request budgets at the API's edge. Every request counts against its client
 * address before anything else runs, so refused requests (401 for a guessed
 * token, 403, 400, an unknown route's 404) are throttled like accepted ones;
 * once a token names someone, the request also counts against that identity,
 * so one caller cannot spread a flood over many addresses.
 */
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from './auth';

/** DEFAULT_REQUESTS_PER_MINUTE is the per-address and per-identity budget when SLIPWAY_API_REQUESTS_PER_MINUTE is unset. */
export const DEFAULT_REQUESTS_PER_MINUTE = 600;

/** EdgeLimits is the per-identity check; the per-address one is a hook on every request. */
export interface EdgeLimits {
  /** checkIdentity records the authenticated caller on the request and counts the request against it. */
  checkIdentity: (req: FastifyRequest, principal: Principal) => Promise<void>;
}

/** RateLimited is a 429 whose answer says when to retry (server.ts sends it with Retry-After). */
export class RateLimited extends Error {
  readonly statusCode = 429;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** installEdgeLimits adds the per-address budget to every request (unknown routes included) and returns the per-identity check. */
export function installEdgeLimits(app: FastifyInstance, requestsPerMinute: number): EdgeLimits {
  const common = { max: requestsPerMinute, timeWindow: 60_000 };
  const byAddress = app.createRateLimit({ ...common, keyGenerator: (req) => `ip:${normalizeIP(req.ip)}` });
  // The issuer is part of an OIDC identity: the same subject name from two issuers is two callers.
  const byIdentity = app.createRateLimit({ ...common, keyGenerator: (req) => `id:${req.principal?.via}:${req.principal?.issuer ?? ''}:${req.principal?.user}` });
  const enforce = async (limit: typeof byAddress, req: FastifyRequest, who: string) => {
    const result = await limit(req);
    if (result.isAllowed || !result.isExceeded) return;
    throw new RateLimited(`too many requests from this ${who}: at most ${result.max} per minute (SLIPWAY_API_REQUESTS_PER_MINUTE); retry in ${result.ttlInSeconds} s`, result.ttlInSeconds);
  };
  // An instance-level hook: it runs before any route's own hooks (authentication) and for the not-found handler.
  app.addHook('onRequest', async (req) => enforce(byAddress, req, 'address'));
  return {
    checkIdentity: async (req, principal) => {
      req.principal = principal;
      await enforce(byIdentity, req, 'identity');
    },
  };
}
