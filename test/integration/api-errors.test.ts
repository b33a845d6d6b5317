import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { openTestDb, type TestDb } from '../support/stack';

describe('API failures', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
  });
  after(async () => {
    await t?.close();
  });

  it('answers an unexpected failure with 500 and an error id, never the internal text, and logs the error under that id', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const app = await buildApi({ db: t.db, auth: new Authenticator({ tokens: [] }), logger });
    app.get('/boom', async () => {
      throw new Error('connect ECONNREFUSED mongo-internal.corp:27017 (user=svc_slipway)');
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/boom' });
      assert.equal(res.statusCode, 500);
      const body = res.json() as { error: { code: string; message: string; errorId: string } };
      assert.equal(body.error.code, 'internal');
      assert.match(body.error.errorId, /^[0-9a-f-]{36}$/);
      assert.ok(!res.body.includes('mongo-internal') && !res.body.includes('svc_slipway'), `the answer leaks internals: ${res.body}`);
      const logged = lines.map((l) => JSON.parse(l) as { errorId?: string; err?: { message?: string } }).find((l) => l.errorId === body.error.errorId);
      assert.match(logged?.err?.message ?? '', /mongo-internal\.corp/, 'the log keeps the real error under the same id');
    } finally {
      await app.close();
    }
  });
});
