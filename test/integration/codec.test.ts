import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { AesGcmCodec, ENCODING, parseCodecKeys } from '../../codec/aes-gcm';
import { stackCheckWorkflow } from '../../workflows';
import { openTestDb, startTestWorker, testEnv, type TestDb, type TestTemporal } from '../support/stack';

const OLD = `k1:${randomBytes(32).toString('base64')}`;
const NEW = `k2:${randomBytes(32).toString('base64')}`;

describe('payload encryption (AES-256-GCM codec)', () => {
  it('round-trips payloads and decrypts old payloads after a key rotation', async () => {
    const before = new AesGcmCodec(parseCodecKeys(OLD));
    const rotated = new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`));
    const plain = defaultPayloadConverter.toPayload({ model: 'fraud', approver: 'alice' });
    const [sealed] = await before.encode([plain]);
    assert.equal(Buffer.from(sealed!.metadata!.encoding!).toString(), ENCODING);
    assert.ok(!Buffer.from(sealed!.data!).toString('latin1').includes('alice'), 'ciphertext must not carry the plaintext');
    const [opened] = await rotated.decode([sealed!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), { model: 'fraud', approver: 'alice' });
    const [resealed] = await rotated.encode([plain]);
    assert.equal(Buffer.from(resealed!.metadata!['encryption-key-id']!).toString(), 'k2', 'new payloads use the first (current) key');
    await assert.rejects(before.decode([resealed!]), /encrypted with key "k2"/);
  });

  it('refuses a tampered payload and malformed key specs', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(OLD));
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 0xff;
    await assert.rejects(codec.decode([{ ...sealed!, data }]), /unable to authenticate|auth/i);
    assert.throws(() => parseCodecKeys('nokey'), /keyId:base64key/);
    assert.throws(() => parseCodecKeys(`k1:${Buffer.alloc(16).toString('base64')}`), /32 bytes/);
    assert.throws(() => parseCodecKeys(`${OLD},${OLD}`), /twice/);
  });

  describe('on the real stack', () => {
    let t: TestDb;
    let temporal: TestTemporal;
    before(async () => {
      t = await openTestDb();
      temporal = await startTestWorker(t.db, { codecKeys: `${NEW},${OLD}` });
    });
    after(async () => {
      await temporal?.close();
      await t?.close();
    });

    it('stores payloads encrypted in Temporal, unreadable without the key, and decodes them through the codec endpoint', async () => {
      const secret = `check-${randomUUID()}`;
      const workflowId = `codec-${secret}`;
      const result = await temporal.client.workflow.execute(stackCheckWorkflow, { taskQueue: temporal.taskQueue, workflowId, args: [secret] });
      assert.equal(result.checkId, secret, 'client and worker with the key read each other');

      // A client without the key sees only ciphertext in the history.
      const connection = await Connection.connect({ address: testEnv().temporalAddress });
      try {
        const keyless = new Client({ connection });
        const history = await keyless.workflow.getHandle(workflowId).fetchHistory();
        const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        assert.ok(input);
        assert.equal(Buffer.from(input.metadata!.encoding!).toString(), ENCODING);
        assert.ok(!Buffer.from(input.data!).toString('latin1').includes(secret));
        await assert.rejects(keyless.workflow.getHandle(workflowId).result(), /binary\/encrypted|Unknown encoding/i);

        const api = await buildApi({
          db: t.db,
          auth: new Authenticator({ tokens: [{ user: 'vic', token: 'viewer-token-0123456789', roles: ['viewer'], approves: [] }] }),
          codec: { codec: new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`)), uiOrigins: ['http://127.0.0.1:8233'] },
        });
        try {
          const body = { payloads: [payloadToJSON(input)] };
          const anonymous = await api.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { origin: 'http://127.0.0.1:8233' } });
          assert.equal(anonymous.statusCode, 401, 'decoding needs a viewer token');
          const res = await api.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { authorization: 'Bearer viewer-token-0123456789', origin: 'http://127.0.0.1:8233' } });
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.headers['access-control-allow-origin'], 'http://127.0.0.1:8233');
          const decoded = Buffer.from(res.json<{ payloads: { data: string }[] }>().payloads[0]!.data, 'base64').toString();
          assert.equal(JSON.parse(decoded), secret);
        } finally {
          await api.close();
        }
      } finally {
        await connection.close();
      }
    });
  });
});
