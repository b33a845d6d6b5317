import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseStore } from '../../registry/releases';
import type { ReleaseState } from '../../workflows/release/api';
import { openTestDb, type TestDb } from '../support/stack';

// One run: every snapshot of it carries the same startedAt (a later startedAt is a new run of the release id).
const RUN_STARTED_AT = new Date().toISOString();

function snapshot(releaseId: string, summary: string): ReleaseState {
  const at = RUN_STARTED_AT;
  return {
    releaseId,
    model: 'fraud',
    version: 'v1',
    pipeline: 'p',
    pipelineHash: 'h',
    requestedBy: 'ci',
    status: 'running',
    currentStage: null,
    summary,
    stages: [],
    ignoredMessages: [],
    compensations: [],
    startedAt: at,
    updatedAt: at,
    endedAt: null,
    outcome: null,
  };
}

describe('release snapshots in the real registry database', () => {
  let t: TestDb;
  let store: ReleaseStore;

  before(async () => {
    t = await openTestDb();
    store = new ReleaseStore(t.db);
  });
  after(async () => t?.close());

  it('stores the first snapshot and each newer revision', async () => {
    assert.equal(await store.record(snapshot('r1', 'one'), 1), 'stored');
    assert.equal(await store.record(snapshot('r1', 'two'), 2), 'stored');
    const got = await store.get('r1');
    assert.equal(got?.revision, 2);
    assert.equal(got?.summary, 'two');
  });

  it('refuses a repeated or older revision as stale and keeps the newer one', async () => {
    assert.equal(await store.record(snapshot('r2', 'three'), 3), 'stored');
    assert.equal(await store.record(snapshot('r2', 'three again'), 3), 'stale', 'a retried write of the same revision');
    assert.equal(await store.record(snapshot('r2', 'late'), 2), 'stale', 'a late write of an older revision');
    const got = await store.get('r2');
    assert.equal(got?.revision, 3);
    assert.equal(got?.summary, 'three');
  });
});
