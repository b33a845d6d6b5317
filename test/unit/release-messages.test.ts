import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePipeline } from '../../domain/pipeline';
import { MAX_IGNORED, applyApproval, applyRejection, validateApproveUpdate, type MessageContext } from '../../workflows/release/messages';
import { initialReleaseState } from '../../workflows/release/state';

const PIPELINE = parsePipeline(
  `name: guarded
stages:
  - env: staging
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol], selfApproval: false, timeout: 1h, channels: [api, cli] }
`,
  'guarded.yaml',
);
const AT = '2026-12-01T10:00:00.000Z';

function context(): MessageContext {
  const input = { releaseId: 'release-fraud-1.0.0', model: 'fraud', version: '1.0.0', pipeline: PIPELINE, pipelineHash: 'h', requestedBy: 'dave', requestedAt: AT };
  return { state: initialReleaseState(input, AT), stages: PIPELINE.stages, pipelineName: PIPELINE.name, requestedBy: 'dave' };
}

const prod = (ctx: MessageContext) => ctx.state.stages[1]!;

describe('release message handling (pure, no server)', () => {
  it('counts two distinct approvers and meets the prod quorum', () => {
    const ctx = context();
    assert.equal(applyApproval(ctx, { stage: 'prod', approver: 'alice' }, 'api', AT).outcome, 'counted');
    const second = applyApproval(ctx, { stage: 'prod', approver: 'bob', comment: 'ok' }, 'cli', '2026-12-01T10:05:00.000Z');
    assert.equal(second.outcome, 'counted');
    assert.deepEqual(prod(ctx).quorum?.approvedBy, ['alice', 'bob']);
    assert.equal(prod(ctx).quorum?.met, true);
    assert.equal(ctx.state.updatedAt, '2026-12-01T10:05:00.000Z');
    assert.deepEqual(ctx.state.ignoredMessages, []);
  });

  it('refuses the requester approving their own release and records why', () => {
    const ctx = context();
    const result = applyApproval(ctx, { stage: 'prod', approver: 'dave' }, 'api', AT);
    assert.equal(result.outcome, 'refused');
    assert.equal(prod(ctx).quorum?.approvedBy.length, 0);
    assert.equal(ctx.state.ignoredMessages.length, 1);
    assert.match(ctx.state.ignoredMessages[0]!.reason, /dave/);
  });

  it('refuses a Web UI approval on a stage that allows only api and cli', () => {
    const ctx = context();
    const result = applyApproval(ctx, { stage: 'prod', approver: 'alice' }, 'ui', AT);
    assert.equal(result.outcome, 'refused');
    assert.equal(ctx.state.ignoredMessages[0]!.channel, 'ui');
  });

  it('refuses approvals for a stage that needs none, an unknown stage, or an ended stage', () => {
    const ctx = context();
    assert.match(applyApproval(ctx, { stage: 'staging', approver: 'alice' }, 'api', AT).reason ?? '', /needs no approval/);
    assert.match(applyApproval(ctx, { stage: 'qa', approver: 'alice' }, 'api', AT).reason ?? '', /not in pipeline guarded/);
    prod(ctx).endedAt = AT;
    assert.match(applyApproval(ctx, { stage: 'prod', approver: 'alice' }, 'api', AT).reason ?? '', /already ended/);
    assert.equal(ctx.state.ignoredMessages.length, 3);
  });

  it('records a malformed approval instead of throwing', () => {
    const ctx = context();
    assert.equal(applyApproval(ctx, 'approve please', 'ui', AT).outcome, 'refused');
    assert.equal(ctx.state.ignoredMessages[0]!.input, '"approve please"');
  });

  it('keeps only the newest ignored messages', () => {
    const ctx = context();
    for (let i = 0; i < MAX_IGNORED + 5; i++) applyApproval(ctx, { stage: 'nowhere', approver: `u${i}` }, 'ui', AT);
    assert.equal(ctx.state.ignoredMessages.length, MAX_IGNORED);
    assert.match(ctx.state.ignoredMessages.at(-1)!.input, new RegExp(`u${MAX_IGNORED + 4}`));
  });

  it('marks the stage rejected when one of its approvers rejects', () => {
    const ctx = context();
    applyRejection(ctx, { stage: 'prod', approver: 'carol', comment: 'bias numbers' }, AT);
    assert.deepEqual(prod(ctx).rejectedBy, { approver: 'carol', reason: 'bias numbers', at: AT });
  });

  it('ignores a rejection from someone who is not an approver of the stage', () => {
    const ctx = context();
    applyRejection(ctx, { stage: 'prod', approver: 'mallory' }, AT);
    assert.equal(prod(ctx).rejectedBy, null);
    assert.match(ctx.state.ignoredMessages[0]!.reason, /mallory is not an approver/);
  });

  it('validates the approve Update argument before it reaches history', () => {
    assert.throws(() => validateApproveUpdate(null), /approve expects/);
    assert.throws(() => validateApproveUpdate({ stage: 'prod', approver: 'alice', channel: 'ui' }), /channel: leave it out/);
    assert.throws(() => validateApproveUpdate({ stage: 'prod', approver: 'alice', channel: 'api' }), /signed by the Slipway API/);
    assert.throws(() => validateApproveUpdate({ stage: 'prod' }), /approver/);
    assert.doesNotThrow(() => validateApproveUpdate({ stage: 'prod', approver: 'alice', channel: 'cli' }));
  });
});
