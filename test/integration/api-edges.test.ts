/**
 * The API's edge against hostile callers, over real HTTP on 127.0.0.1 with
 * the real registry database behind it: every request counts against its
 * client address before anything else (so token guessing, forbidden calls,
 * bad input and unknown routes are throttled too), authenticated requests
 * also count against their identity, and /metrics can require a token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi, type ApiDeps } from '../../api/server';
import { SlipwayMetrics } from '../../observability/metrics';
import { openTestDb, type TestDb } from '../support/stack';

const VIEWER = 'viewer-token-0123456789abcdef';
const RELEASER = 'releaser-token-0123456789abcdef';
const BYSTANDER = 'olga-viewer-token-0123456789abcdef';
const METRICS_TOKEN = 'metrics-scrape-token-0123456789';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** send makes one HTTP request from a chosen loopback source address (any 127.x.y.z reaches 127.0.0.1 on Linux). */
function send(base: string, req: { method: string; path: string; token?: string; body?: string; from?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request(`${base}${req.path}`, {
      method: req.method,
      localAddress: req.from ?? '127.0.0.1',
      agent: false,
      headers: { ...(req.token === undefined ? {} : { authorization: `Bearer ${req.token}` }), ...(req.body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

// A refused request of each kind: the status it gets while under the limit.
const refusedRequest = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^\S+$/.test(s) && s !== VIEWER && s !== RELEASER).map((guess) => ({ kind: 'guessed token', expect: 401, req: { method: 'GET', path: '/environments/prod', token: guess } })),
  fc.constant({ kind: 'no token', expect: 401, req: { method: 'GET', path: '/environments/prod' } }),
  fc.constant({ kind: 'forbidden', expect: 403, req: { method: 'POST', path: '/models/fraud/versions', token: VIEWER, body: '{}' } }),
  fc.string({ maxLength: 30 }).map((junk) => ({ kind: 'bad input', expect: 400, req: { method: 'POST', path: '/health-reports', token: RELEASER, body: JSON.stringify({ model: junk, env: 42 }) } })),
  fc.stringMatching(/^[a-z0-9-]{1,20}$/).map((p) => ({ kind: 'unknown route', expect: 404, req: { method: 'GET', path: `/no-such-route/${p}` } })),
);

describe('API edge: rate limits and the metrics token', () => {
  let t: TestDb;
  const auth = new Authenticator({
    tokens: [
      { user: 'vic', token: VIEWER, roles: ['viewer'], approves: [] },
      { user: 'rita', token: RELEASER, roles: ['releaser'], approves: [] },
      { user: 'olga', token: BYSTANDER, roles: ['viewer'], approves: [] },
    ],
  });

  before(async () => {
    t = await openTestDb();
  });
  after(async () => {
    await t?.close();
  });

  async function withApi<T>(deps: Partial<ApiDeps>, use: (base: string, app: FastifyInstance) => Promise<T>): Promise<T> {
    const app = await buildApi({ db: t.db, auth, ...deps });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      return await use(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, app);
    } finally {
      await app.close();
    }
  }

  it('counts refused requests (401, 403, 400, 404) against the client address and answers 429 past the limit, even to a valid token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(refusedRequest, { minLength: 1, maxLength: 6 }), async (refused) => {
        await withApi({ requestsPerMinute: refused.length, mutationsPerMinute: 1000 }, async (base) => {
          for (const r of refused) assert.equal((await send(base, r.req)).status, r.expect, `${r.kind} under the limit`);
          const next = await send(base, { method: 'GET', path: '/environments/prod', token: VIEWER });
          assert.equal(next.status, 429, `after ${refused.map((r) => r.kind).join(', ')} the next request must be throttled`);
          const body = JSON.parse(next.body) as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'rate_limited');
          assert.match(body.error.message, /SLIPWAY_API_REQUESTS_PER_MINUTE/);
          assert.match(String(next.headers['retry-after']), /^\d+$/);
          // Another address still has its own budget (asked by someone else: vic's own budget may be spent by the refusals).
          assert.equal((await send(base, { method: 'GET', path: '/environments/prod', token: BYSTANDER, from: '127.0.0.2' })).status, 200);
        });
      }),
      { numRuns: 12 },
    );
  });

  it('throttles token guessing from one address: guesses past the limit get 429, not another 401', async () => {
    await withApi({ requestsPerMinute: 3 }, async (base) => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await send(base, { method: 'GET', path: '/models/fraud', token: `guess-${i}`, from: '127.0.0.3' })).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    });
  });

  it('counts an authenticated caller across addresses, so one identity cannot spread a flood over many addresses', async () => {
    await withApi({ requestsPerMinute: 3 }, async (base) => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await send(base, { method: 'GET', path: '/environments/prod', token: VIEWER, from: `127.0.1.${i + 1}` })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const body = JSON.parse((await send(base, { method: 'GET', path: '/environments/prod', token: VIEWER, from: '127.0.2.1' })).body) as { error: { message: string } };
      assert.match(body.error.message, /from this identity/);
      // Another identity from a fresh address is unaffected.
      assert.equal((await send(base, { method: 'GET', path: '/environments/prod', token: RELEASER, from: '127.0.2.2' })).status, 200);
    });
  });

  it('refuses /metrics without the configured token, with a wrong one, and serves it with the right one', async () => {
    const metrics = new SlipwayMetrics();
    await withApi({ metrics, metricsToken: METRICS_TOKEN, requestsPerMinute: 10_000 }, async (base) => {
      const missing = await send(base, { method: 'GET', path: '/metrics' });
      assert.equal(missing.status, 401);
      assert.match(missing.body, /SLIPWAY_METRICS_TOKEN/);
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }).filter((s) => /^\S+$/.test(s) && s !== METRICS_TOKEN), async (wrong) => {
          assert.equal((await send(base, { method: 'GET', path: '/metrics', token: wrong })).status, 401);
        }),
        { numRuns: 30 },
      );
      // An API token is not the metrics token.
      assert.equal((await send(base, { method: 'GET', path: '/metrics', token: VIEWER })).status, 401);
      const ok = await send(base, { method: 'GET', path: '/metrics', token: METRICS_TOKEN });
      assert.equal(ok.status, 200);
      assert.match(String(ok.headers['content-type']), /text\/plain/);
    });
  });

  it('serves /metrics without a token when SLIPWAY_METRICS_TOKEN is not set', async () => {
    await withApi({ metrics: new SlipwayMetrics() }, async (base) => {
      assert.equal((await send(base, { method: 'GET', path: '/metrics' })).status, 200);
    });
  });
});
