/**
 * POST /health-reports needs the `reportsHealth` grant for the report's
 * environment: a releaser (who could otherwise vouch for its own release's
 * bake and canary) is refused with a 403 naming the grant, recorded as
 * `api.refused`, and nothing is stored. A granted report records who posted
 * it from the credential, whatever the body says. Real registry database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import type { AuditEvent } from '../../registry/audit';
import { Registry } from '../../registry/registry';
import { ReleaseStore } from '../../registry/releases';
import { waitFor } from '../support/releases';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

const RELEASER = 'releaser-token-0123456789';
const MONITOR = 'monitor-token-0123456789';
const ADMIN = 'admin-token-01234567890';

describe('health reports need the reportsHealth grant', () => {
  let t: TestDb;
  let registry: Registry;
  let store: ReleaseStore;
  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    store = new ReleaseStore(t.db);
    await Promise.all([registry.ensureIndexes(), store.ensureIndexes()]);
  });
  after(async () => {
    await t?.close();
  });

  async function api(tokens: ConstructorParameters<typeof Authenticator>[0]['tokens']) {
    return buildApi({ db: t.db, auth: new Authenticator({ tokens }), requestsPerMinute: 10_000, mutationsPerMinute: 10_000 });
  }
  const report = (model: string, env: string, extra: Record<string, unknown> = {}) => ({ model, env, version: '1', healthy: true, ...extra });
  const stored = (model: string) => store.health.find({ model }).toArray();

  it('refuses a releaser without the grant with a 403 naming reportsHealth, audits it as api.refused, and stores nothing', async () => {
    const model = uniqueName('hr');
    const user = uniqueName('rel').replace(/_/g, '-');
    const app = await api([{ user, token: RELEASER, roles: ['releaser'], approves: ['*'], rollsBack: ['*'] }]);
    try {
      const res = await app.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${RELEASER}` }, payload: report(model, 'prod') });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().error.code, 'forbidden');
      assert.match(res.json().error.message, /may not report health for prod: .*reportsHealth/);
      const [event] = await waitFor(async () => {
        const found = (await registry.audit.events.find({ action: 'api.refused', actor: user }).toArray()) as AuditEvent[];
        return found.length > 0 ? found : undefined;
      });
      assert.equal(event!.details?.route, 'POST /health-reports');
      assert.equal(event!.details?.status, 403);
      assert.match(event!.reason ?? '', /reportsHealth/);
      assert.deepEqual(await stored(model), []);
    } finally {
      await app.close();
    }
  });

  it('accepts a report only for the environments the grant lists, "*" for all, admins always', async () => {
    const users = [
      { user: 'mon', token: MONITOR, roles: ['viewer' as const], approves: [], reportsHealth: ['staging'] },
      { user: 'ops', token: ADMIN, roles: ['admin' as const], approves: [] },
    ];
    const app = await api(users);
    try {
      const post = (token: string, model: string, env: string) => app.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${token}` }, payload: report(model, env) });
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('dev', 'staging', 'prod', 'eu-prod'), async (env) => {
          const model = uniqueName('hr');
          assert.equal((await post(MONITOR, model, env)).statusCode, env === 'staging' ? 202 : 403);
          assert.equal((await post(ADMIN, model, env)).statusCode, 202);
          assert.deepEqual((await stored(model)).map((r) => r.reportedBy?.user).sort(), env === 'staging' ? ['mon', 'ops'] : ['ops']);
        }),
        { numRuns: 8 },
      );
      const anyEnv = await api([{ user: 'mon2', token: MONITOR, roles: ['viewer'], approves: [], reportsHealth: ['*'] }]);
      try {
        const res = await anyEnv.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${MONITOR}` }, payload: report(uniqueName('hr'), 'prod') });
        assert.equal(res.statusCode, 202, res.body);
      } finally {
        await anyEnv.close();
      }
    } finally {
      await app.close();
    }
  });

  it('records who reported from the credential, whatever source the body names, and refuses a reportedBy in the body', async () => {
    const app = await api([{ user: 'mon', token: MONITOR, roles: ['viewer'], approves: [], reportsHealth: ['*'] }]);
    try {
      await fc.assert(
        fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), async (source) => {
          const model = uniqueName('hr');
          const res = await app.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${MONITOR}` }, payload: report(model, 'prod', { source }) });
          assert.equal(res.statusCode, 202, res.body);
          const [saved] = await stored(model);
          assert.equal(saved!.source, source);
          assert.deepEqual(saved!.reportedBy, { user: 'mon', via: 'token' });
        }),
        { numRuns: 10 },
      );
      const model = uniqueName('hr');
      const forged = await app.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${MONITOR}` }, payload: report(model, 'prod', { reportedBy: { user: 'someone-else', via: 'token' } }) });
      assert.equal(forged.statusCode, 400, forged.body);
      assert.match(forged.json().error.message, /reportedBy/);
      assert.deepEqual(await stored(model), []);
    } finally {
      await app.close();
    }
  });
});
