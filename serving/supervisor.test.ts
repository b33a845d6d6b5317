/**
 * The model server child gets only the allowlisted environment: a secret in
 * the worker's environment is not in the child's (read from /proc on Linux).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { LocalServingSupervisor, MODEL_SERVER_ENV_ALLOWLIST, modelServerEnv } from './supervisor';

describe('model server environment', () => {
  it('keeps only allowlisted variables and the admin token, whatever the parent holds', () => {
    const allowed = new Set<string>([...MODEL_SERVER_ENV_ALLOWLIST, 'SLIPWAY_MODEL_SERVER_TOKEN']);
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string()), (parent) => {
        const env = modelServerEnv({ ...parent, SLIPWAY_WEBHOOK_SECRET: 'parent-secret' }, 'admin-token');
        assert.equal(env.SLIPWAY_MODEL_SERVER_TOKEN, 'admin-token');
        for (const name of Object.keys(env)) assert.ok(allowed.has(name), `${name} leaked into the child`);
        for (const name of MODEL_SERVER_ENV_ALLOWLIST) if (Object.hasOwn(parent, name)) assert.equal(env[name], parent[name]);
      }),
    );
  });

  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-supervisor-env-'));
  const supervisor = new LocalServingSupervisor({
    runDir,
    parentEnv: { ...process.env, SLIPWAY_WEBHOOK_SECRET: 'whsec-parent-only-0123456789', SLIPWAY_MONGODB_URI: 'mongodb://user:pw@db/slipway' },
  });
  after(async () => {
    await supervisor.stopAll();
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('starts the model server without the worker\'s secrets in its environment', { skip: process.platform !== 'linux' && 'reads /proc/<pid>/environ' }, async () => {
    const server = await supervisor.ensure('envcheck', 'dev');
    const environ = fs.readFileSync(`/proc/${server.process.child.pid}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = environ.map((kv) => kv.slice(0, kv.indexOf('=')));
    assert.ok(!environ.some((kv) => kv.includes('whsec-parent-only')), 'the webhook secret reached the model server');
    assert.ok(!names.includes('SLIPWAY_MONGODB_URI'));
    assert.ok(names.includes('SLIPWAY_MODEL_SERVER_TOKEN'), 'the admin token must still reach the server');
    // And the server still works with what it was given: admin calls with the token answer.
    assert.equal((await server.client.state()).model, 'envcheck');
  });
});
