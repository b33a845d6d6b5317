import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyDecision } from '../../domain/decisions';
import { parsePipeline } from '../../domain/pipeline';
import { Signer } from '../../lib/signing';
import { applyApproval, applyRejection, validateApproveUpdate, type MessageContext } from '../../workflows/release/messages';
import { initialReleaseState, resolveRequester } from '../../workflows/release/state';

const PIPELINE = parsePipeline(
  `name: guarded
stages:
  - env: staging
    approval: { required: 1, approvers: [alice, bob], timeout: 1h, channels: [api, cli, ui] }
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol, ci-actor], selfApproval: false, timeout: 1h, channels: [api] }
`,
  'guarded.yaml',
);
const RUN_START = '2026-12-01T10:00:00.000Z';
const AT = '2026-12-01T10:05:00.000Z';
const RELEASE = 'release-fraud-1.0.0';
const api = Signer.generate();
const attacker = Signer.generate();

function context(): MessageContext {
  const input = { releaseId: RELEASE, model: 'fraud', version: '1.0.0', pipeline: PIPELINE, pipelineHash: 'h', requestedBy: 'ci:github:acme/fraud', requestedAt: RUN_START };
  const state = initialReleaseState(input, RUN_START);
  for (const s of state.stages) s.status = 'awaiting_approval';
  return { state, stages: PIPELINE.stages, pipelineName: PIPELINE.name, requestedBy: input.requestedBy, verification: { keys: api.trusted(), runStartedAt: RUN_START, requesters: ['ci:github:acme/fraud', 'ci-actor'] } };
}
const prod = (ctx: MessageContext) => ctx.state.stages[1]!;
const approve = (signer: Signer, user: string, fields: { stage?: string; releaseId?: string; issuedAt?: string } = {}) => ({
  decision: signer.signDecision({ kind: 'release.approve', releaseId: fields.releaseId ?? RELEASE, stage: fields.stage ?? 'prod', approver: { user, via: 'token' }, issuedAt: fields.issuedAt ?? AT }),
});

describe('signed decisions on a server-policy release (pure, no server)', () => {
  it('counts API-signed approvals as verified channel api and meets a 2-of-4 api-only quorum', () => {
    const ctx = context();
    assert.equal(applyApproval(ctx, approve(api, 'alice'), 'cli', AT).outcome, 'counted');
    assert.equal(applyApproval(ctx, approve(api, 'bob'), 'cli', AT).outcome, 'counted');
    assert.equal(prod(ctx).quorum?.met, true);
    assert.deepEqual(prod(ctx).quorum?.approvals?.map((a) => [a.approver, a.channel, a.verified]), [['alice', 'api', true], ['bob', 'api', true]]);
  });

  it('refuses one person naming two approvers without a signature: claims arrive as cli and prod takes only api', () => {
    const ctx = context();
    const first = applyApproval(ctx, { stage: 'prod', approver: 'alice' }, 'cli', AT);
    const second = applyApproval(ctx, { stage: 'prod', approver: 'bob' }, 'cli', AT);
    assert.equal(first.outcome, 'refused');
    assert.equal(second.outcome, 'refused');
    assert.match(first.reason ?? '', /accepted only via api; this one came via cli/);
    assert.equal(prod(ctx).quorum?.approvedBy.length, 0);
    assert.equal(ctx.state.ignoredMessages.length, 2);
  });

  it('refuses an unsigned message that claims channel api, and records it instead of counting it', () => {
    const ctx = context();
    const result = applyApproval(ctx, { stage: 'prod', approver: 'alice', channel: 'api' }, 'cli', AT);
    assert.equal(result.outcome, 'refused');
    assert.match(result.reason ?? '', /signed by the Slipway API/);
    assert.equal(prod(ctx).quorum?.approvedBy.length, 0);
    assert.deepEqual(ctx.state.ignoredMessages.map((m) => [m.channel, m.reason]), [['cli', result.reason]]);
    assert.doesNotThrow(() => validateApproveUpdate({ stage: 'prod', approver: 'alice', channel: 'api' }, true), 'server-policy releases take it in to record it');
  });

  it('refuses a decision signed by another key, or changed after signing, and records it as a refused api message', () => {
    const ctx = context();
    assert.match(applyApproval(ctx, approve(attacker, 'alice'), 'cli', AT).reason ?? '', /unknown key/);
    const tampered = approve(api, 'alice');
    tampered.decision.payload = { ...tampered.decision.payload, approver: { user: 'bob', via: 'token' } };
    assert.match(applyApproval(ctx, tampered, 'cli', AT).reason ?? '', /does not verify/);
    assert.deepEqual(ctx.state.ignoredMessages.map((m) => m.channel), ['api', 'api']);
    assert.equal(prod(ctx).quorum?.approvedBy.length, 0);
  });

  it('refuses a signed approval for another release, from before this run, or too old', () => {
    const ctx = context();
    assert.match(applyApproval(ctx, approve(api, 'alice', { releaseId: 'release-fraud-0.9.0' }), 'cli', AT).reason ?? '', /signed for release-fraud-0.9.0/);
    assert.match(applyApproval(ctx, approve(api, 'alice', { issuedAt: '2026-12-01T09:00:00.000Z' }), 'cli', AT).reason ?? '', /before this run started/);
    assert.match(applyApproval(ctx, approve(api, 'alice', { issuedAt: AT }), 'cli', '2026-12-01T11:00:00.000Z').reason ?? '', /too old/);
  });

  it('refuses the verified requester and the change author (actor) as approvers', () => {
    const ctx = context();
    assert.match(applyApproval(ctx, approve(api, 'ci-actor'), 'cli', AT).reason ?? '', /authored the change/);
  });

  it('refuses approvals for a stage whose gates have not passed yet, unless it opts into pre-approval', () => {
    const ctx = context();
    prod(ctx).status = 'gating';
    assert.match(applyApproval(ctx, approve(api, 'alice'), 'cli', AT).reason ?? '', /not awaiting approval \(it is gating\)/);
    const stages = structuredClone(ctx.stages);
    stages[1]!.approval!.preApproval = true;
    assert.equal(applyApproval({ ...ctx, stages }, approve(api, 'alice'), 'cli', AT).outcome, 'counted');
  });

  it('applies the stage channel list to rejections: a Web UI reject of an api-only stage is refused, a signed one counts', () => {
    const ctx = context();
    applyRejection(ctx, { stage: 'prod', approver: 'carol', comment: 'no' }, AT);
    assert.equal(prod(ctx).rejectedBy, null);
    assert.match(ctx.state.ignoredMessages[0]!.reason, /accepted only via api; this one came via ui/);
    applyRejection(ctx, { decision: api.signDecision({ kind: 'release.reject', releaseId: RELEASE, stage: 'prod', approver: { user: 'carol', via: 'oidc', issuer: 'https://idp' }, comment: 'bias', issuedAt: AT }) }, AT);
    assert.deepEqual(prod(ctx).rejectedBy, { approver: 'carol', reason: 'bias', at: AT, channel: 'api', verified: true });
  });

  it('verifies the requester from a signed start decision, and keeps a bad one as an unverified claim with the reason', () => {
    const base = { releaseId: RELEASE, model: 'fraud', version: '1.0.0', requestedBy: 'mallory', requestedAt: RUN_START };
    const signed = api.signDecision({ kind: 'release.start', releaseId: RELEASE, model: 'fraud', version: '1.0.0', requester: { user: 'ci:github:acme/fraud', via: 'oidc', issuer: 'https://token.actions.githubusercontent.com' }, actor: 'ci-actor', issuedAt: RUN_START });
    const ok = resolveRequester({ ...base, startDecision: signed }, api.trusted(), RUN_START);
    assert.deepEqual(ok.requester, { user: 'ci:github:acme/fraud', verified: true, via: 'oidc', issuer: 'https://token.actions.githubusercontent.com', actor: 'ci-actor' });
    const other = resolveRequester({ ...base, version: '2.0.0', startDecision: signed }, api.trusted(), RUN_START);
    assert.equal(other.requester.verified, false);
    assert.match(other.refused ?? '', /signed for fraud@1.0.0/);
    assert.deepEqual(resolveRequester(base, api.trusted(), RUN_START), { requester: { user: 'mallory', verified: false } });
  });

  it('refuses a decision of another kind: a signed start cannot be replayed as an approval', () => {
    const start = api.signDecision({ kind: 'release.start', releaseId: RELEASE, model: 'fraud', version: '1.0.0', requester: { user: 'alice', via: 'token' }, issuedAt: AT });
    const result = verifyDecision(start, 'release.approve', api.trusted(), { now: AT });
    assert.equal(result.ok, false);
  });
});
