import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../registry/registry';
import { ConcurrentUpdateError, InvalidInputError, NotFoundError, ProtectedAliasError, VersionConflictError } from '../../registry/errors';
import { DEFAULT_PIPELINE } from '../../domain/pipeline';
import { openTestDb, type TestDb } from '../support/stack';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function version(model: string, v: string, extra: Record<string, unknown> = {}) {
  return {
    model,
    version: v,
    artifact: { uri: `s3://models/${model}/${v}.onnx`, sha256: SHA_A, sizeBytes: 1234, format: 'onnx' },
    codeCommit: 'abc123',
    metrics: { accuracy: 0.93, latency_p99_ms: 120 },
    tags: { team: 'risk' },
    ...extra,
  };
}

describe('model registry on the real MongoDB-wire server', () => {
  let t: TestDb;
  let registry: Registry;
  // A controllable clock so history intervals are exact.
  let now = new Date('2026-11-20T08:00:00Z');
  const tick = (minutes: number) => (now = new Date(now.getTime() + minutes * 60_000));

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db, () => now);
    await registry.ensureIndexes();
  });
  after(async () => t?.close());

  it('creates its indexes idempotently at every start', async () => {
    await registry.ensureIndexes();
    await registry.ensureIndexes();
    const names = (await registry.versions.indexes()).map((i) => i.name);
    assert.ok(names.includes('model_version_unique'));
  });

  it('registers a version once and returns the same version when the same content is registered again', async () => {
    const first = await registry.registerVersion(version('fraud', '1.0.0'), 'ci');
    assert.equal(first.created, true);
    const again = await registry.registerVersion(version('fraud', '1.0.0'), 'someone-else');
    assert.equal(again.created, false);
    assert.equal(again.version.registeredBy, 'ci');
    assert.equal(await registry.versions.countDocuments({ model: 'fraud', version: '1.0.0' }), 1);
  });

  it('refuses different content under an existing version and names the differing fields', async () => {
    await assert.rejects(
      registry.registerVersion(version('fraud', '1.0.0', { metrics: { accuracy: 0.5 }, artifact: { uri: 's3://x', sha256: SHA_B } }), 'ci'),
      (err: unknown) => {
        assert.ok(err instanceof VersionConflictError);
        assert.deepEqual(err.differingFields.sort(), ['artifact', 'metrics']);
        assert.match(err.message, /fraud@1\.0\.0/);
        return true;
      },
    );
    const stored = await registry.getVersion('fraud', '1.0.0');
    assert.equal(stored.artifact.sha256, SHA_A, 'the stored version must be unchanged');
  });

  it('rejects malformed input naming the field, and writes nothing', async () => {
    const before = await registry.versions.countDocuments({});
    const auditBefore = await registry.audit.events.countDocuments({});
    const cases: [unknown, RegExp][] = [
      [version('fraud', '2.0.0', { artifact: { uri: 's3://x', sha256: 'not-a-digest' } }), /artifact\.sha256/],
      [version('fraud', '2.0.0', { artifact: { uri: 's3://x', sha256: SHA_A.toUpperCase() } }), /artifact\.sha256.*lowercase/],
      [{ ...version('x', '1'), model: { $gt: '' } }, /^model:/],
      [version('$where', '1'), /^model:/],
      [version('fraud.prod', '1'), /^model:/],
      [version('fraud', { $ne: null } as unknown as string), /^version:/],
      [version('fraud', '$gt'), /^version:/],
      [version('fraud', '2.0.0', { metrics: { 'a.b': 1 } }), /metrics\.a\.b/],
      [version('fraud', '2.0.0', { metrics: { $where: 1 } }), /metrics\.\$where/],
      [version('fraud', '2.0.0', { metrics: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`m${i}`, i])) }), /at most 100/],
      [version('fraud', '2.0.0', { metrics: { accuracy: 'high' } }), /metrics\.accuracy/],
      [version('fraud', '2.0.0', { unexpected: true }), /unexpected/],
    ];
    for (const [input, field] of cases) {
      await assert.rejects(registry.registerVersion(input, 'ci'), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, `expected InvalidInputError for ${JSON.stringify(input)}, got ${String(err)}`);
        assert.match(err.message, field);
        return true;
      });
    }
    assert.equal(await registry.versions.countDocuments({}), before);
    assert.equal(await registry.audit.events.countDocuments({}), auditBefore);
  });

  it('reports an unknown model and an unknown version as not found', async () => {
    await assert.rejects(registry.getVersion('nosuchmodel', '1'), (e: unknown) => e instanceof NotFoundError && e.kind === 'model');
    await assert.rejects(registry.getVersion('fraud', '9.9.9'), (e: unknown) => e instanceof NotFoundError && e.kind === 'version');
    await assert.rejects(
      registry.moveLivePointer({ model: 'nosuchmodel', env: 'prod', version: '1', opKey: 'k-unknown', by: 'x', reason: 'r' }),
      NotFoundError,
    );
  });

  it('answers what was live at any moment and the last known good version', async () => {
    await registry.registerVersion(version('history', 'v1'), 'ci');
    await registry.registerVersion(version('history', 'v2'), 'ci');
    await registry.registerVersion(version('history', 'v3'), 'ci');
    now = new Date('2026-11-20T09:00:00Z');
    await registry.moveLivePointer({ model: 'history', env: 'prod', version: 'v1', opKey: 'h-1', by: 'ci', reason: 'first' });
    tick(60); // 10:00
    await registry.moveLivePointer({ model: 'history', env: 'prod', version: 'v2', opKey: 'h-2', by: 'ci', reason: 'second' });
    tick(60); // 11:00
    await registry.moveLivePointer({ model: 'history', env: 'prod', version: 'v3', opKey: 'h-3', by: 'ci', reason: 'third' });
    await registry.markDeploymentFailed('h-3', 'slipway', 'bake failed');

    assert.equal((await registry.liveAt('history', 'prod', new Date('2026-11-20T08:59:59Z'))), null);
    assert.equal((await registry.liveAt('history', 'prod', new Date('2026-11-20T09:30:00Z')))?.version, 'v1');
    assert.equal((await registry.liveAt('history', 'prod', new Date('2026-11-20T10:00:00Z')))?.version, 'v2');
    assert.equal((await registry.liveAt('history', 'prod', new Date('2026-11-21T00:00:00Z')))?.version, 'v3');

    const lkg = await registry.lastKnownGood('history', 'prod', { excludingVersion: 'v3' });
    assert.equal(lkg?.version, 'v2');
    // Before the move to v2 (revision 2) only v1 had been live.
    assert.equal((await registry.lastKnownGood('history', 'prod', { beforeRevision: 2 }))?.version, 'v1');
    const live = await registry.getLive('history', 'prod');
    assert.equal(live?.version, 'v3');
    assert.equal(live?.previousVersion, 'v2');
    const history = await registry.deploymentHistory('history', 'prod');
    assert.deepEqual(history.map((d) => [d.version, d.endedAt?.toISOString() ?? null]), [
      ['v3', null],
      ['v2', '2026-11-20T11:00:00.000Z'],
      ['v1', '2026-11-20T10:00:00.000Z'],
    ]);
  });

  it('answers what was live at a moment in every environment the model was deployed to, or in the one asked for', async () => {
    await registry.registerVersion(version('then', 'v1'), 'ci');
    await registry.registerVersion(version('then', 'v2'), 'ci');
    now = new Date('2026-12-01T09:00:00Z');
    await registry.moveLivePointer({ model: 'then', env: 'staging', version: 'v1', opKey: 't-1', by: 'ci', reason: 'first' });
    tick(60); // 10:00
    await registry.moveLivePointer({ model: 'then', env: 'dev', version: 'v1', opKey: 't-2', by: 'ci', reason: 'first' });
    tick(60); // 11:00
    await registry.moveLivePointer({ model: 'then', env: 'dev', version: 'v2', opKey: 't-3', by: 'ci', reason: 'second' });

    assert.deepEqual(await registry.whatWasLiveAt('then', new Date('2026-12-01T10:30:00Z')), {
      model: 'then',
      at: '2026-12-01T10:30:00.000Z',
      environments: [
        { env: 'dev', version: 'v1', since: new Date('2026-12-01T10:00:00Z') },
        { env: 'staging', version: 'v1', since: new Date('2026-12-01T09:00:00Z') },
      ],
    });
    assert.deepEqual((await registry.whatWasLiveAt('then', new Date('2026-12-01T09:30:00Z'), 'dev')).environments, [{ env: 'dev', version: null, since: null }]);
    await assert.rejects(registry.whatWasLiveAt('then', new Date('not a date')), InvalidInputError);
    await assert.rejects(registry.whatWasLiveAt('then', new Date('2026-12-01T09:30:00Z'), '$where'), InvalidInputError);
  });

  it('moves a live pointer only once when the same move is retried', async () => {
    await registry.registerVersion(version('retry', 'r1'), 'ci');
    const first = await registry.moveLivePointer({ model: 'retry', env: 'dev', version: 'r1', opKey: 'rel-1:dev:deploy', by: 'ci', reason: 'r' });
    const second = await registry.moveLivePointer({ model: 'retry', env: 'dev', version: 'r1', opKey: 'rel-1:dev:deploy', by: 'ci', reason: 'r' });
    assert.equal(first.applied, true);
    assert.equal(second.applied, false);
    assert.equal(second.pointer.revision, first.pointer.revision);
    assert.equal(await registry.deployments.countDocuments({ model: 'retry', env: 'dev' }), 1);
    // Many concurrent retries of one move still make it exactly once.
    await registry.registerVersion(version('retry', 'r2'), 'ci');
    const retries = await Promise.all(
      Array.from({ length: 8 }, () => registry.moveLivePointer({ model: 'retry', env: 'dev', version: 'r2', opKey: 'rel-2:dev:deploy', by: 'ci', reason: 'r' })),
    );
    assert.equal(retries.filter((r) => r.applied).length, 1);
    assert.equal(await registry.deployments.countDocuments({ model: 'retry', env: 'dev' }), 2);
    assert.equal(await registry.audit.events.countDocuments({ 'subject.model': 'retry', action: 'live.moved' }), 2, 'one audit event per move, none for retries');
  });

  it('lets one of two racing writers move a live pointer and gives the other a conflict, losing nothing', async () => {
    await registry.registerVersion(version('race', 'a'), 'ci');
    await registry.registerVersion(version('race', 'b'), 'ci');
    await registry.registerVersion(version('race', 'c'), 'ci');
    await registry.moveLivePointer({ model: 'race', env: 'prod', version: 'a', opKey: 'race-0', by: 'ci', reason: 'seed' });
    const revision = (await registry.getLive('race', 'prod'))!.revision;
    const results = await Promise.allSettled([
      registry.moveLivePointer({ model: 'race', env: 'prod', version: 'b', opKey: 'race-b', by: 'alice', reason: 'r', expectedRevision: revision }),
      registry.moveLivePointer({ model: 'race', env: 'prod', version: 'c', opKey: 'race-c', by: 'bob', reason: 'r', expectedRevision: revision }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConcurrentUpdateError);
    const live = await registry.getLive('race', 'prod');
    const winner = (won[0] as PromiseFulfilledResult<{ pointer: { version: string } }>).value.pointer.version;
    assert.equal(live?.version, winner);
    assert.equal(live?.revision, revision + 1);
    // The loser's request is nowhere: not live, not in history.
    // History has exactly the seed and the winner, with no gap or overlap.
    const history = await registry.deploymentHistory('race', 'prod');
    assert.deepEqual(history.map((d) => d.version), [winner, 'a']);
    assert.equal(history.filter((d) => d.endedAt === null).length, 1);
  });

  it('moves a protected alias only through a release', async () => {
    await registry.registerVersion(version('aliased', '1'), 'ci');
    await registry.registerVersion(version('aliased', '2'), 'ci');
    await registry.setAlias({ model: 'aliased', alias: 'champion', version: '1', by: 'admin', protect: true });
    await assert.rejects(registry.setAlias({ model: 'aliased', alias: 'champion', version: '2', by: 'mallory' }), ProtectedAliasError);
    const moved = await registry.setAlias({ model: 'aliased', alias: 'champion', version: '2', by: 'slipway', releaseId: 'release-aliased-2' });
    assert.equal(moved.version, '2');
    assert.equal(moved.protected, true);
  });

  it('stores each distinct pipeline once, by content hash', async () => {
    const h1 = await registry.storePipeline(DEFAULT_PIPELINE, 'source-a');
    const h2 = await registry.storePipeline(structuredClone(DEFAULT_PIPELINE), 'source-a');
    assert.equal(h1, h2);
    assert.equal(await registry.pipelines.countDocuments({ _id: h1 }), 1);
    const changed = { ...DEFAULT_PIPELINE, onFailure: DEFAULT_PIPELINE.onFailure === 'halt' ? 'rollback' : 'halt' } as typeof DEFAULT_PIPELINE;
    assert.notEqual(await registry.storePipeline(changed, 'source-b'), h1);
    assert.equal((await registry.getPipeline(h1))?.name, DEFAULT_PIPELINE.name);
  });

  it('takes racing first writes of the same pipeline and the same new model without an error', async () => {
    const hashes = await Promise.all(Array.from({ length: 8 }, () => registry.storePipeline({ ...DEFAULT_PIPELINE, name: 'racing' }, 'same')));
    assert.equal(new Set(hashes).size, 1);
    const results = await Promise.all(['1', '2', '3', '4', '5', '6'].map((v) => registry.registerVersion(version('brandnew', v), 'ci')));
    assert.ok(results.every((r) => r.created));
    assert.equal(await registry.models.countDocuments({ _id: 'brandnew' }), 1);
  });

  it('keeps an audit chain that verifies, and detects an edited or deleted event', async () => {
    const ok = await registry.audit.verify();
    assert.equal(ok.ok, true, JSON.stringify(ok.brokenAt));
    assert.ok(ok.checked >= 10);

    const victim = await registry.audit.events.findOne({ action: 'live.moved', 'subject.model': 'history' });
    assert.ok(victim);
    await registry.audit.events.updateOne({ _id: victim._id }, { $set: { actor: 'mallory' } });
    const edited = await registry.audit.verify();
    assert.equal(edited.ok, false);
    assert.equal(edited.brokenAt?.seq, victim.seq);
    assert.match(edited.brokenAt?.reason ?? '', /edited/);

    await registry.audit.events.updateOne({ _id: victim._id }, { $set: { actor: victim.actor } });
    assert.equal((await registry.audit.verify()).ok, true);
    await registry.audit.events.deleteOne({ _id: victim._id });
    const deleted = await registry.audit.verify();
    assert.equal(deleted.ok, false);
    assert.equal(deleted.brokenAt?.seq, victim.seq);
  });
});
