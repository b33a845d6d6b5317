import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ReleaseStatus } from '../../domain/outcome';
import type { StageState } from '../../domain/release';
import { parseRetryRequest } from '../../activities/retry';
import { NAME_PATTERN } from '../../domain/model-version';
import { isRetryRefusal, planRetry, type PreviousRun, type RetryPlan, type RetryTarget } from '../../domain/retry';

const ENVS = ['dev', 'test', 'staging', 'prod'];
const RELEASE = 'release-fraud-1.0.0';

const stage = (env: string, over: Partial<StageState> = {}): StageState => ({
  env, status: 'succeeded', gates: [{ type: 'metrics', name: 'metrics', passed: true, checks: [] }], quorum: null, approvalDeadline: null, rejectedBy: null,
  canaryWeight: null, deployedVersion: '1.0.0', previousVersion: null, healthChecks: [], startedAt: 't', endedAt: 't', error: null, ...over,
});
const previous = (stages: StageState[], over: Partial<PreviousRun> = {}): PreviousRun => ({
  runId: 'run-1', version: '1.0.0', pipeline: 'four', pipelineHash: 'h1', pipelineRevision: 1, status: 'failed', currentStage: 'staging', stages, startedAt: 's', endedAt: 'e', ...over,
});
const target = (over: Partial<RetryTarget> = {}): RetryTarget => ({
  releaseId: RELEASE, version: '1.0.0', pipelineHash: 'h1', pipelineRevision: 1, stages: ENVS,
  live: Object.fromEntries(ENVS.map((env) => [env, { version: '1.0.0', releaseId: RELEASE, health: 'ok' as const }])), ...over,
});
const failedAtStaging = () => [stage('dev'), stage('test'), stage('staging', { status: 'failed', deployedVersion: null, error: 'gate failed' }), stage('prod', { status: 'pending', endedAt: null, deployedVersion: null })];
const plan = (p: RetryPlan | ReturnType<typeof planRetry>): RetryPlan => {
  assert.ok(!isRetryRefusal(p), JSON.stringify(p));
  return p;
};

describe('planRetry: which stages a retried release keeps', () => {
  it('keeps the stages before the failed one when version, pipeline and live pointers are unchanged', () => {
    const p = plan(planRetry(previous(failedAtStaging()), target()));
    assert.deepEqual(p.carried.map((c) => c.env), ['dev', 'test']);
    assert.equal(p.retryOf.startFrom, 'staging');
    assert.deepEqual(p.retryOf.changes, []);
  });

  it('starts at the first stage whose environment another release or a person moved, saying what it runs now', () => {
    const live = { ...target().live, test: { version: '0.9.0', releaseId: 'release-fraud-0.9.0', health: 'ok' as const } };
    const p = plan(planRetry(previous(failedAtStaging()), target({ live })));
    assert.deepEqual(p.carried.map((c) => c.env), ['dev']);
    assert.match(p.retryOf.changes[0]!, /test now runs 0\.9\.0 \(moved by release-fraud-0\.9\.0\)/);
  });

  it('keeps nothing when the pipeline changed, naming both revisions', () => {
    const p = plan(planRetry(previous(failedAtStaging()), target({ pipelineHash: 'h2', pipelineRevision: 2 })));
    assert.equal(p.carried.length, 0);
    assert.equal(p.retryOf.startFrom, 'dev');
    assert.match(p.retryOf.changes[0]!, /revision 1 → 2/);
  });

  it('never keeps a stage whose approvals were not met or whose gate failed', () => {
    const stages = [stage('dev', { quorum: { required: 1, approvers: ['a'], approvedBy: [], met: false } as never }), ...failedAtStaging().slice(1)];
    assert.equal(plan(planRetry(previous(stages), target())).carried.length, 0);
    const gated = [stage('dev', { gates: [{ type: 'metrics', name: 'acc', passed: false, checks: [] }] }), ...failedAtStaging().slice(1)];
    assert.equal(plan(planRetry(previous(gated), target())).carried.length, 0);
  });

  it('refuses a --from later than the first stage that must run, and an unknown one, naming the field', () => {
    const later = planRetry(previous(failedAtStaging()), target(), 'prod');
    assert.ok(isRetryRefusal(later));
    assert.equal(later.field, 'from');
    assert.match(later.reason, /prod comes after staging/);
    const unknown = planRetry(previous(failedAtStaging()), target(), 'qa');
    assert.ok(isRetryRefusal(unknown) && /no stage "qa"/.test(unknown.reason));
    assert.deepEqual(plan(planRetry(previous(failedAtStaging()), target(), 'test')).carried.map((c) => c.env), ['dev']);
  });

  it('refuses a release that is running or succeeded, naming its status', () => {
    for (const status of ['running', 'awaiting_approval', 'succeeded', 'rolled_back'] as ReleaseStatus[]) {
      const p = planRetry(previous(failedAtStaging(), { status }), target());
      assert.ok(isRetryRefusal(p) && p.field === 'release-id' && p.reason.includes(`is ${status}`), `${status}: ${JSON.stringify(p)}`);
    }
  });

  it('for any earlier run, live pointers and --from: keeps only a prefix of stages that passed and still run the version, never past --from', () => {
    const stageArb = (env: string) =>
      fc.record({
        status: fc.constantFrom('succeeded', 'failed', 'pending', 'rolled_back'),
        gatePassed: fc.boolean(),
        deployed: fc.constantFrom('1.0.0', '0.9.0', null),
        quorumMet: fc.option(fc.boolean()),
      }).map((s) => stage(env, { status: s.status as StageState['status'], gates: [{ type: 'm', name: 'm', passed: s.gatePassed, checks: [] }], deployedVersion: s.deployed, quorum: s.quorumMet === null ? null : ({ met: s.quorumMet, approvedBy: [] } as never) }));
    const liveArb = fc.option(fc.record({ version: fc.constantFrom('1.0.0', '0.9.0'), releaseId: fc.constantFrom(RELEASE, 'other', null), health: fc.constantFrom('ok' as const, 'failed' as const) }));
    fc.assert(
      fc.property(
        fc.tuple(...ENVS.map(stageArb)),
        fc.tuple(...ENVS.map(() => liveArb)),
        fc.option(fc.oneof(fc.constantFrom(...ENVS), fc.string({ maxLength: 12 })), { nil: undefined }),
        fc.constantFrom('h1', 'h2'),
        fc.constantFrom<ReleaseStatus>('failed', 'rejected', 'approval_expired', 'cancelled', 'succeeded', 'running'),
        (stages, lives, from, hash, status) => {
          const live = Object.fromEntries(ENVS.map((env, i) => [env, lives[i]]));
          const p = planRetry(previous(stages, { status }), target({ live, pipelineHash: hash }), from);
          if (isRetryRefusal(p)) {
            assert.ok(p.reason.length > 0);
            return;
          }
          assert.ok(['failed', 'rejected', 'approval_expired', 'cancelled'].includes(status));
          if (hash !== 'h1') assert.equal(p.carried.length, 0);
          p.carried.forEach((c, i) => {
            assert.equal(c.env, ENVS[i], 'a prefix, in order');
            const s = stages[i]!;
            assert.ok(s.status === 'succeeded' && s.gates.every((g) => g.passed) && s.deployedVersion === '1.0.0' && (s.quorum === null || s.quorum.met));
            assert.deepEqual([lives[i]?.version, lives[i]?.releaseId, lives[i]?.health], ['1.0.0', RELEASE, 'ok']);
          });
          assert.equal(p.startIndex, p.carried.length);
          if (from !== undefined) assert.equal(p.retryOf.startFrom, from);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes from a workflow input only a well-formed run id and environment name, whatever else it carries', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ runId: fc.oneof(fc.string(), fc.uuid(), fc.anything()), from: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('dev', '../prod', 'prod\n', '$where'), fc.anything()) }, { requiredKeys: [] })), (raw) => {
        const parsed = parseRetryRequest(raw);
        if (typeof parsed === 'string') return assert.match(parsed, /^retry/);
        assert.match(parsed.runId, /^[A-Za-z0-9-]{1,100}$/);
        if (parsed.from !== undefined) assert.match(parsed.from, NAME_PATTERN);
        assert.deepEqual(Object.keys(parsed).filter((k) => k !== 'runId' && k !== 'from'), [], 'nothing else is carried through');
      }),
      { numRuns: 1000 },
    );
  });
});
