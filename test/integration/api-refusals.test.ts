/**
 * Refusals at the API's edge land in the audit chain as `api.refused` with
 * actor, route and reason: 403 for an authenticated caller lacking a role or
 * grant, 400 for a refused decision. A flood is recorded only up to a budget
 * per identity, and the chain still verifies. Real registry database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi, type ApiDeps } from '../../api/server';
import type { AuditEvent } from '../../registry/audit';
import { Registry } from '../../registry/registry';
import { waitFor } from '../support/releases';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

describe('API refusals in the audit chain', () => {
  let t: TestDb;
  let registry: Registry;
  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
  });
  after(async () => {
    await t?.close();
  });

  /** withUser builds an API whose one token belongs to a fresh viewer, so each test reads only its own refusals. */
  async function withUser<T>(deps: Partial<ApiDeps>, use: (app: FastifyInstance, user: string, token: string) => Promise<T>): Promise<T> {
    const user = uniqueName('refused').replace(/_/g, '-');
    const token = `${user}-token-0123456789`;
    const app = await buildApi({ db: t.db, auth: new Authenticator({ tokens: [{ user, token, roles: ['viewer'], approves: ['dev'] }] }), requestsPerMinute: 10_000, mutationsPerMinute: 10_000, ...deps });
    try {
      return await use(app, user, token);
    } finally {
      await app.close();
    }
  }
  const refusalsOf = (actor: string) => registry.audit.events.find({ action: 'api.refused', actor }).sort({ seq: 1 }).toArray() as Promise<AuditEvent[]>;

  it('records a caller refused for lacking a role or an approval grant (403) with actor, route and reason', async () => {
    await withUser({}, async (app, user, token) => {
      const auth = { authorization: `Bearer ${token}` };
      const role = await app.inject({ method: 'POST', url: '/models/fraud/versions', headers: auth, payload: { version: '2', artifact: { uri: 's3://x', sha256: 'd'.repeat(64) } } });
      assert.equal(role.statusCode, 403);
      const grant = await app.inject({ method: 'POST', url: '/releases/release-fraud-1/approvals', headers: auth, payload: { stage: 'prod' } });
      assert.equal(grant.statusCode, 403);
      const events = await waitFor(async () => {
        const found = await refusalsOf(user);
        return found.length >= 2 ? found : undefined;
      });
      assert.deepEqual(events.map((e) => e.details?.route), ['POST /models/:model/versions', 'POST /releases/:id/approvals']);
      assert.match(events[0]!.reason ?? '', new RegExp(`${user} lacks the releaser role`));
      assert.match(events[1]!.reason ?? '', new RegExp(`${user} may not approve prod`));
      assert.deepEqual(events.map((e) => [e.details?.status, e.details?.via]), [[403, 'token'], [403, 'token']]);
    });
  });

  it('records a hostile pipeline refused at apply (400 on PUT /pipelines), naming the admin who sent it', async () => {
    const user = uniqueName('admin').replace(/_/g, '-');
    const token = `${user}-token-0123456789`;
    const app = await buildApi({ db: t.db, auth: new Authenticator({ tokens: [{ user, token, roles: ['admin'], approves: [] }] }), requestsPerMinute: 10_000, mutationsPerMinute: 10_000 });
    try {
      const source = 'name: hostile\nstages:\n  - env: dev\n    gates:\n      - type: webhook\n        url: https://hooks.example.com/x\n        secretEnv: SLIPWAY_API_SIGNING_KEY\n';
      const res = await app.inject({ method: 'PUT', url: '/pipelines', headers: { authorization: `Bearer ${token}` }, payload: { source } });
      assert.equal(res.statusCode, 400, res.body);
      const [event] = await waitFor(async () => {
        const found = await refusalsOf(user);
        return found.length >= 1 ? found : undefined;
      });
      assert.equal(event!.details?.route, 'PUT /pipelines');
      assert.match(event!.reason ?? '', /SLIPWAY_API_SIGNING_KEY/);
    } finally {
      await app.close();
    }
  });

  it('records a refused decision (400 on a deciding route) but not bad input on a read, nor an anonymous 401', async () => {
    await withUser({}, async (app, user, token) => {
      const auth = { authorization: `Bearer ${token}` };
      assert.equal((await app.inject({ method: 'GET', url: '/releases?status=exploded', headers: auth })).statusCode, 400);
      assert.equal((await app.inject({ method: 'POST', url: '/health-reports', payload: {} })).statusCode, 401);
      const reject = await app.inject({ method: 'POST', url: '/releases/release-fraud-1/approvals', headers: auth, payload: { stage: 'dev', decision: 'reject' } });
      assert.equal(reject.statusCode, 400);
      const [event, ...rest] = await waitFor(async () => {
        const found = await refusalsOf(user);
        return found.length >= 1 ? found : undefined;
      });
      assert.equal(rest.length, 0, 'only the refused decision is recorded');
      assert.equal(event!.details?.route, 'POST /releases/:id/approvals');
      assert.equal(event!.details?.status, 400);
      assert.match(event!.reason ?? '', /a rejection needs a reason in comment/);
    });
  });

  it('records at most its budget of a flood of refusals per identity, says how many it left out, and the chain still verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 12 }), async (budget, extra) => {
        await withUser({ refusalAudit: { max: budget, windowMs: 3_000 } }, async (app, user, token) => {
          const forbidden = () => app.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${token}` }, payload: { model: 'fraud', env: 'prod', version: '1', healthy: true } });
          for (let i = 0; i < budget + extra; i++) assert.equal((await forbidden()).statusCode, 403);
          const recorded = await waitFor(async () => {
            const found = await refusalsOf(user);
            return found.length >= budget ? found : undefined;
          });
          assert.equal(recorded.length, budget, `a flood of ${budget + extra} refusals is recorded ${budget} times within one window`);
          // Once the window has passed, the next refusal is recorded and counts those left out.
          const next = await waitFor(async () => {
            await forbidden();
            const found = await refusalsOf(user);
            return found.length > budget ? found[budget] : undefined;
          });
          assert.ok(Number(next.details?.refusalsNotRecorded) >= extra, `expected at least ${extra} left out, got ${String(next.details?.refusalsNotRecorded)}`);
        });
      }),
      { numRuns: 3 },
    );
    assert.equal((await registry.audit.verify()).ok, true);
  });
});
