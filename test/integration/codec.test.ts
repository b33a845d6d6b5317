import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { AesGcmCodec, ENCODING, FORMAT_HEADER, parseCodecKeys } from '../../codec/aes-gcm';
import { stackCheckWorkflow } from '../../workflows';
import { openTestDb, startTestWorker, testEnv, type TestDb, type TestTemporal } from '../support/stack';

const OLD = `k1:${randomBytes(32).toString('base64')}`;
const NEW = `k2:${randomBytes(32).toString('base64')}`;

// Written by the codec before payloads were bound to key id and namespace (format 1, no associated data), key k1 = 32 bytes of 7.
const FORMAT_1_KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const FORMAT_1_PAYLOAD: Payload = {
  metadata: { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from('k1') },
  data: Buffer.from('bVx2AkgefxN5UCizgtAEKt/glJIvKY9tWv/X2cCYsdnyZX6Nrwi1J75XyMClHZDfpzGdQPL+Ipc5BhSJFTv26q44aUYyAyTM1gUMfU7SiqCVIShUKpMre+xr', 'base64'),
};

const namespaceName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/);
const jsonValue = fc.jsonValue().filter((v) => v !== null);

describe('payload encryption (AES-256-GCM codec)', () => {
  it('round-trips payloads and decrypts old payloads after a key rotation', async () => {
    const before = new AesGcmCodec(parseCodecKeys(OLD), 'default');
    const rotated = new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`), 'default');
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
    const codec = new AesGcmCodec(parseCodecKeys(OLD), 'default');
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 0xff;
    await assert.rejects(codec.decode([{ ...sealed!, data }]), /unable to authenticate|auth/i);
    assert.throws(() => parseCodecKeys('nokey'), /keyId:base64key/);
    assert.throws(() => parseCodecKeys(`k1:${Buffer.alloc(16).toString('base64')}`), /32 bytes/);
    assert.throws(() => parseCodecKeys(`${OLD},${OLD}`), /twice/);
  });

  it('binds each new payload to its namespace: a ciphertext copied into another namespace does not decrypt', async () => {
    await fc.assert(
      fc.asyncProperty(namespaceName, namespaceName, jsonValue, async (home, elsewhere, value) => {
        fc.pre(home !== elsewhere);
        const [sealed] = await new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`), home).encode([defaultPayloadConverter.toPayload(value)]);
        assert.equal(Buffer.from(sealed!.metadata![FORMAT_HEADER]!).toString(), '2');
        const [opened] = await new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`), home).decode([sealed!]);
        assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), value);
        await assert.rejects(new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`), elsewhere).decode([sealed!]), new RegExp(`does not authenticate under key "k2" in namespace "${elsewhere.replace(/\./g, '\\.')}"`));
      }),
      { numRuns: 40 },
    );
  });

  it('binds each new payload to its key id: relabelled with another id, even one naming the same key bytes, it does not decrypt', async () => {
    const bytes = randomBytes(32).toString('base64');
    const codec = new AesGcmCodec(parseCodecKeys(`a:${bytes},b:${bytes},${OLD}`), 'default');
    await fc.assert(
      fc.asyncProperty(jsonValue, fc.constantFrom('b', 'k1'), async (value, relabel) => {
        const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
        const moved = { ...sealed!, metadata: { ...sealed!.metadata, 'encryption-key-id': Buffer.from(relabel) } };
        await assert.rejects(codec.decode([moved]), /does not authenticate/);
      }),
      { numRuns: 20 },
    );
  });

  it('still decrypts payloads written before the binding (format 1), and refuses a new payload stripped down to look like one', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`${NEW},${FORMAT_1_KEY}`), 'any-namespace');
    const [opened] = await codec.decode([FORMAT_1_PAYLOAD]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), { model: 'fraud', approver: 'alice' });
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('secret')]);
    const { [FORMAT_HEADER]: _dropped, ...downgraded } = sealed!.metadata!;
    await assert.rejects(codec.decode([{ ...sealed!, metadata: downgraded }]), /does not authenticate/);
    await assert.rejects(codec.decode([{ ...sealed!, metadata: { ...sealed!.metadata, [FORMAT_HEADER]: Buffer.from('9') } }]), /format "9", which this version of Slipway does not know/);
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
          codec: { codec: new AesGcmCodec(parseCodecKeys(`${NEW},${OLD}`), 'default'), uiOrigins: ['http://127.0.0.1:8233'] },
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
          // The Web UI names the namespace it shows: this one decodes, another is refused with the reason.
          const viewer = { authorization: 'Bearer viewer-token-0123456789', origin: 'http://127.0.0.1:8233' };
          const named = await api.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { ...viewer, 'x-namespace': 'default' } });
          assert.equal(named.statusCode, 200, named.body);
          const other = await api.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { ...viewer, 'x-namespace': 'staging' } });
          assert.equal(other.statusCode, 400);
          assert.match(other.json<{ error: { message: string } }>().error.message, /namespace "default" \(TEMPORAL_NAMESPACE\) only/);
          // What the Web UI encodes (e.g. a signal input) comes back bound to the namespace and decodes again.
          const encoded = await api.inject({ method: 'POST', url: '/codec/encode', payload: { payloads: [payloadToJSON(defaultPayloadConverter.toPayload('from-ui'))] }, headers: { ...viewer, 'x-namespace': 'default' } });
          assert.equal(encoded.statusCode, 200, encoded.body);
          const roundTrip = await api.inject({ method: 'POST', url: '/codec/decode', payload: encoded.json(), headers: { ...viewer, 'x-namespace': 'default' } });
          assert.equal(JSON.parse(Buffer.from(roundTrip.json<{ payloads: { data: string }[] }>().payloads[0]!.data, 'base64').toString()), 'from-ui');
        } finally {
          await api.close();
        }
      } finally {
        await connection.close();
      }
    });
  });
});
