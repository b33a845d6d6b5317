/**
 * Subscriptions to release events on the server: admins add and remove them,
 * viewers list them (URLs redacted) and their deliveries. The logic and the
 * validation are the registry's SubscriptionStore (registry/subscriptions.ts),
 * the same the `slipway subscription` verbs call; the audit actor is the
 * token's user.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from 'mongodb';
import { z } from 'zod';
import type { AuditSigner } from '../registry/audit';
import { SubscriptionStore } from '../registry/subscriptions';

/** SubscriptionRouteDeps are what the subscription routes read from and how they check the caller. */
export interface SubscriptionRouteDeps {
  db: Db;
  /** The API's role check: `admin` to add or remove, `viewer` to read. */
  requireRole: (role: 'viewer' | 'admin') => (req: FastifyRequest) => Promise<void>;
  withTimeout?: <T>(what: string, p: Promise<T>) => Promise<T>;
  /** The rate limit of mutating routes. */
  mutating?: { rateLimit: { max: number; timeWindow: string } };
  /** Signs audit checkpoints of subscription changes (the API's key). */
  signer?: AuditSigner;
}

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  }),
});
const anyObject = z.any().describe('JSON object');

/** registerSubscriptionRoutes adds /subscriptions to the API. */
export async function registerSubscriptionRoutes(app: FastifyInstance, deps: SubscriptionRouteDeps): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const store = new SubscriptionStore(deps.db, undefined, deps.signer);
  const withTimeout = deps.withTimeout ?? (<T>(_what: string, p: Promise<T>) => p);
  const mutating = deps.mutating ? { config: deps.mutating } : {};

  typed.post('/subscriptions', {
    onRequest: deps.requireRole('admin'),
    ...mutating,
    schema: {
      summary: 'Subscribe a receiver to release events: {url, events: [types or globs], format?: cloudevents|slack, secretEnv} (admin)',
      // Checked field by field by the store, so every problem is named at once.
      body: z.record(z.string(), z.unknown()).describe('{ url, events, format?, secretEnv }'),
      response: { 201: anyObject, 400: errorSchema, 403: errorSchema, 409: errorSchema },
    },
  }, async (req, reply) => reply.code(201).send(await withTimeout('registry', store.add(req.body, req.principal!.user))));

  typed.get('/subscriptions', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'Every subscription, URLs redacted', response: { 200: anyObject } },
  }, async () => ({ subscriptions: await withTimeout('registry', store.list()) }));

  typed.delete('/subscriptions/:id', {
    onRequest: deps.requireRole('admin'),
    ...mutating,
    schema: {
      summary: 'Remove a subscription; its deliveries under way stop at their next attempt (admin)',
      params: z.object({ id: z.string().max(64) }),
      response: { 200: anyObject, 400: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (req) => withTimeout('registry', store.remove(req.params.id, req.principal!.user)));

  typed.get('/subscriptions/deliveries', {
    onRequest: deps.requireRole('viewer'),
    schema: {
      summary: 'The most recent deliveries (of one subscription with ?subscription=), each with status, attempts and next retry',
      querystring: z.strictObject({
        subscription: z.string().max(64).optional(),
        limit: z.string().regex(/^[1-9][0-9]{0,2}$/, 'must be a whole number from 1 to 500').optional(),
      }),
      response: { 200: anyObject, 400: errorSchema },
    },
  }, async (req) => ({
    deliveries: await withTimeout('registry', store.listDeliveries({ subscriptionId: req.query.subscription, limit: req.query.limit === undefined ? undefined : Number(req.query.limit) })),
  }));
}
