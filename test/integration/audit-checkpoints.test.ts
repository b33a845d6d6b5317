/**
 * Signed audit checkpoints on the real registry database: the hash chain
 * alone cannot see its newest events deleted, or every hash recomputed after
 * an edit; a checkpoint of the chain's head signed with an Ed25519 key can.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog, CHECKPOINT_CONTEXT, eventHash, GENESIS_HASH, type AuditCheckpoint, type AuditEvent } from '../../registry/audit';
import { Signer } from '../../lib/signing';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

describe('signed audit checkpoints', () => {
  let t: TestDb;
  const signer = Signer.generate();
  const trustedKeys = signer.trusted();
  let log: AuditLog;

  before(async () => {
    t = await openTestDb();
    log = new AuditLog(t.db, () => new Date(), signer);
  });
  after(async () => {
    await t?.close();
  });

  /** chainOfFive appends five events to a fresh model's chain and returns the model. */
  async function chainOfFive(): Promise<string> {
    const model = uniqueName('m');
    for (let i = 1; i <= 5; i++) {
      await log.append({ key: `${model}:${i}`, actor: 'ci', action: 'version.registered', subject: { model, version: `v${i}` } });
    }
    return model;
  }

  it('verifies an intact chain against its newest signed checkpoint', async () => {
    const model = await chainOfFive();
    const result = await log.verifyAudit({ model, trustedKeys });
    assert.equal(result.ok, true, JSON.stringify(result.brokenAt));
    assert.equal(result.checked, 5);
    assert.equal(result.checkpointsChecked, true);
    assert.deepEqual(result.checkpoints.map((c) => [c.chain, c.verified, c.newest?.seq, c.newest?.keyId]), [[model, 5, 5, signer.keyId]]);
  });

  it('detects the newest events deleted, which the hash chain alone does not', async () => {
    const model = await chainOfFive();
    await log.events.deleteOne({ _id: `${model}:5` });
    await log.events.deleteOne({ _id: `${model}:4` });
    assert.equal((await log.verifyAudit({ model })).ok, true, 'without trusted keys the truncated chain still links up: that is the gap');
    const result = await log.verifyAudit({ model, trustedKeys });
    assert.equal(result.ok, false);
    assert.equal(result.brokenAt?.chain, model);
    assert.equal(result.brokenAt?.seq, 4, 'the first missing event');
    assert.match(result.brokenAt?.reason ?? '', /events 4\.\.4 .* missing.*newest events were deleted/);
  });

  it('detects an edited event whose hash and every later hash were recomputed, at the edited event', async () => {
    const model = await chainOfFive();
    const events = await log.events.find({ chain: model }).sort({ seq: 1 }).toArray();
    let prevHash = GENESIS_HASH;
    for (const event of events) {
      const { _id, hash: _h, prevHash: _p, ...rest } = event;
      if (event.seq === 3) rest.actor = 'mallory';
      const hash = eventHash(prevHash, rest);
      await log.events.replaceOne({ _id }, { ...rest, _id, prevHash, hash } as AuditEvent);
      prevHash = hash;
    }
    assert.equal((await log.verifyAudit({ model })).ok, true, 'the recomputed chain is consistent in itself');
    const result = await log.verifyAudit({ model, trustedKeys });
    assert.equal(result.ok, false);
    assert.equal(result.brokenAt?.seq, 3);
    assert.match(result.brokenAt?.reason ?? '', /differs from the checkpoint.*recomputed/);
  });

  it('detects a forged checkpoint signed by a key it does not trust', async () => {
    const model = await chainOfFive();
    const forger = Signer.generate();
    const head = (await log.events.findOne({ _id: `${model}:5` }))!;
    const body = { chain: model, seq: 5, hash: head.hash, at: new Date().toISOString() };
    // The forger replaces the real newest checkpoint with its own, as after rewriting the chain.
    await log.checkpoints.deleteOne({ _id: `${model}:5` });
    await log.checkpoints.insertOne({ _id: `${model}:5`, ...body, ...forger.signDocument(CHECKPOINT_CONTEXT, body) } satisfies AuditCheckpoint);
    const result = await log.verifyAudit({ model, trustedKeys });
    assert.equal(result.ok, false);
    assert.equal(result.brokenAt?.seq, 5);
    assert.match(result.brokenAt?.reason ?? '', new RegExp(`not signed by a trusted key \\(key ${forger.keyId}\\)`));
    assert.equal((await log.verifyAudit({ model, trustedKeys: { ...trustedKeys, ...forger.trusted() } })).ok, true, 'trusting the forger accepts it: the trust list is the root');
  });

  it('signs the current head on demand and writes nothing twice for the same head', async () => {
    const model = await chainOfFive();
    const [again] = await log.checkpoint(model);
    assert.equal(again?.seq, 5);
    assert.equal(await log.checkpoints.countDocuments({ chain: model }), 5);
    await assert.rejects(new AuditLog(t.db, () => new Date()).checkpoint(model), /SLIPWAY_AUDIT_SIGNING_KEY/);
  });
});
