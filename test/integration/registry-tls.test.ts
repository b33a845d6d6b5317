/**
 * The registry database over TLS: the test's FerretDB behind a TLS endpoint
 * this test starts (our FerretDB launcher has no TLS listener flags), with a
 * server certificate from a CA made here. Proves the URI's tls=true with
 * SLIPWAY_MONGODB_CA_FILE works, that the wrong CA or none is refused, that a
 * bad CA file setting is named at start, and that errors never carry the
 * URI's password.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectRegistryDb, RegistrySettingsError } from '../../registry/db';
import { freePort } from '../../devstack/processes';
import { testEnv, uniqueName } from '../support/stack';
import { createTestCa, startTlsPipe, writePemFiles } from '../support/tls';

describe('registry database over TLS with a CA file', () => {
  let pipe: Awaited<ReturnType<typeof startTlsPipe>>;
  let files: Record<'ca' | 'otherCa' | 'garbage', string>;
  let dir: string;
  let tlsUri: string;

  before(async () => {
    const ca = await createTestCa();
    const otherCa = await createTestCa('Some Other CA');
    ({ dir, paths: files } = await writePemFiles({ ca: ca.cert, otherCa: otherCa.cert, garbage: 'not a certificate' }));
    const ferret = new URL(testEnv().mongodbUri);
    pipe = await startTlsPipe({ server: await ca.issue('server', 'localhost'), upstreamPort: Number(ferret.port) });
    tlsUri = `mongodb://127.0.0.1:${pipe.port}/${uniqueName('tls')}?tls=true`;
  });
  after(async () => {
    await pipe?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes and reads the registry over TLS when SLIPWAY_MONGODB_CA_FILE names the CA that signed the server', async () => {
    const registry = await connectRegistryDb(tlsUri, { caFile: files.ca });
    try {
      await registry.db.collection<{ _id: string; over: string }>('tls_check').insertOne({ _id: 'x', over: 'tls' });
      assert.deepEqual(await registry.db.collection('tls_check').findOne({ _id: 'x' as never }), { _id: 'x', over: 'tls' });
    } finally {
      await registry.db.dropDatabase().catch(() => undefined);
      await registry.close();
    }
  });

  it('refuses a server certificate that the given CA, or the system CAs, did not sign', async () => {
    await assert.rejects(connectRegistryDb(tlsUri, { caFile: files.otherCa }), /cannot reach the registry database at .* \(SLIPWAY_MONGODB_URI\): .*certificate/);
    await assert.rejects(connectRegistryDb(tlsUri), /cannot reach the registry database at .*certificate/);
  });

  it('names SLIPWAY_MONGODB_CA_FILE when it is missing or not a certificate, before connecting', async () => {
    await assert.rejects(connectRegistryDb(tlsUri, { caFile: path.join(dir, 'nope.pem') }), (err: Error) => err instanceof RegistrySettingsError && /^SLIPWAY_MONGODB_CA_FILE: cannot read .*nope\.pem \(ENOENT\)/.test(err.message));
    await assert.rejects(connectRegistryDb(tlsUri, { caFile: files.garbage }), (err: Error) => err instanceof RegistrySettingsError && /^SLIPWAY_MONGODB_CA_FILE: .* is not a PEM certificate/.test(err.message));
  });

  it('never puts the URI password in a connection error, written or decoded', async () => {
    const closed = await freePort();
    const password = 'p@ss/w:rd-Secret-42';
    const uri = `mongodb://slipway:${encodeURIComponent(password)}@127.0.0.1:${closed}/slipway?authSource=admin&serverSelectionTimeoutMS=500`;
    const err = await connectRegistryDb(uri).then(() => assert.fail('connected to a closed port'), (e: Error) => e);
    assert.match(err.message, new RegExp(`mongodb://slipway:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/slipway`));
    assert.ok(!err.message.includes(password) && !err.message.includes(encodeURIComponent(password)), err.message);
    assert.ok(!String(err.stack).includes(encodeURIComponent(password)));
  });
});
