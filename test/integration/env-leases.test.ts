import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnvLeases } from '../../locks/leases';
import { openTestDb, type TestDb } from '../support/stack';

describe('environment leases on the real registry database', () => {
  let t: TestDb;
  let leases: EnvLeases;

  before(async () => {
    t = await openTestDb();
    leases = new EnvLeases(t.db);
  });
  after(async () => t?.close());

  it('grants a free lease to exactly one of many concurrent takers', async () => {
    const takers = Array.from({ length: 12 }, (_, i) => `release-${i}`);
    const attempts = await Promise.all(takers.map((holder) => leases.take('racy', 'prod', holder)));
    const winners = takers.filter((_, i) => attempts[i]!.granted);
    assert.equal(winners.length, 1, `exactly one winner, got ${winners.join(', ')}`);
    for (const attempt of attempts) if (!attempt.granted) assert.equal(attempt.holder, winners[0], 'losers are told who holds it');
    assert.equal(await leases.holderOf('racy', 'prod'), winners[0]);
  });

  it('grants a lease again to its holder (a retried activity) and keeps envs and models apart', async () => {
    assert.deepEqual(await leases.take('m', 'prod', 'a'), { granted: true });
    assert.deepEqual(await leases.take('m', 'prod', 'a'), { granted: true });
    assert.deepEqual(await leases.take('m', 'staging', 'b'), { granted: true });
    assert.deepEqual(await leases.take('other', 'prod', 'c'), { granted: true });
    assert.deepEqual(await leases.take('m', 'prod', 'b'), { granted: false, holder: 'a' });
  });

  it('lets only the holder give a lease back', async () => {
    await leases.take('g', 'prod', 'owner');
    assert.equal(await leases.giveBack('g', 'prod', 'intruder'), false);
    assert.equal(await leases.holderOf('g', 'prod'), 'owner');
    assert.equal(await leases.giveBack('g', 'prod', 'owner'), true);
    assert.equal(await leases.holderOf('g', 'prod'), null);
    assert.deepEqual(await leases.take('g', 'prod', 'next'), { granted: true });
  });

  it('makes a fast-path taker give the lease back while others are queued, so it cannot overtake them', async () => {
    await leases.markWaiting('w', 'prod');
    assert.deepEqual(await leases.takeIfNoneWaiting('w', 'prod', 'newcomer'), { granted: false, holder: null });
    assert.equal(await leases.holderOf('w', 'prod'), null, 'the newcomer left nothing behind');
    await leases.clearWaiting('w', 'prod');
    assert.deepEqual(await leases.takeIfNoneWaiting('w', 'prod', 'newcomer'), { granted: true });
  });
});
