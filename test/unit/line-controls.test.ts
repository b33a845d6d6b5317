/**
 * The pure part of stop the line and quarantine: scopes, reasons, which stop
 * holds an environment, and break-glass approvals as the release counts them
 * (only signed by the API, only from the pipeline's list, only for a hotfix).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { scopeOf } from '../../client/line-controls';
import { loadConfig } from '../../config';
import { ALL_SCOPE, reasonSchema, stopFor, stopScopeSchema, type LineStop } from '../../domain/line-controls';
import { NAME_PATTERN } from '../../domain/model-version';
import { parsePipeline } from '../../domain/pipeline';
import { Signer } from '../../lib/signing';
import { InvalidInputError } from '../../registry/errors';
import { applyApproval, type MessageContext } from '../../workflows/release/messages';
import { initialReleaseState, resolveRequester } from '../../workflows/release/state';

const AT = '2026-12-01T10:00:00.000Z';
const API = Signer.generate();
const PIPELINE = parsePipeline(
  `name: hot
breakGlass: { approvers: [bob, carol] }
stages:
  - env: staging
  - env: prod
`,
  'hot.yaml',
);

function context(hotfix: boolean): MessageContext {
  const input = { releaseId: 'release-fraud-1.0.0', model: 'fraud', version: '1.0.0', pipeline: PIPELINE, pipelineHash: 'h', requestedBy: 'dave', requestedAt: AT };
  const state = initialReleaseState(input, AT);
  if (hotfix) state.hotfix = true;
  return { state, stages: PIPELINE.stages, pipelineName: PIPELINE.name, requestedBy: 'dave', verification: { keys: API.trusted(), runStartedAt: AT, requesters: ['dave'] }, breakGlassApprovers: PIPELINE.breakGlass!.approvers };
}

const breakGlass = (approver: string, signer = API, stage = 'prod') => ({
  decision: signer.signDecision({ kind: 'release.approve', releaseId: 'release-fraud-1.0.0', stage, approver: { user: approver, via: 'token' }, breakGlass: true, issuedAt: AT }),
});

describe('stop scopes and reasons', () => {
  it('accepts exactly "all" or an environment name as a scope', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (scope) => {
        assert.equal(stopScopeSchema.safeParse(scope).success, scope === ALL_SCOPE || NAME_PATTERN.test(scope));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a reason that is empty once trimmed or longer than 1000 characters, naming the fix', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1200 }), (reason) => {
        const parsed = reasonSchema.safeParse(reason);
        const trimmed = reason.trim();
        assert.equal(parsed.success, trimmed.length > 0 && trimmed.length <= 1000);
        if (!parsed.success) assert.match(parsed.error.issues[0]!.message, /reason must/);
      }),
    );
  });

  it('takes --env or --all, never both or neither, and never "all" as an environment', () => {
    assert.equal(scopeOf({ env: 'prod' }), 'prod');
    assert.equal(scopeOf({ all: true }), ALL_SCOPE);
    for (const bad of [{}, { env: 'prod', all: true }, { env: 'all' }]) {
      assert.throws(() => scopeOf(bad), (err: unknown) => err instanceof InvalidInputError && err.problems[0]!.field === 'env');
    }
  });

  it('reads SLIPWAY_LINE_RECHECK_INTERVAL as a duration from 1s to 1h, refusing anything else by name', () => {
    assert.equal(loadConfig({ SLIPWAY_LINE_RECHECK_INTERVAL: '5s' }).lineRecheckMs, 5_000);
    assert.equal(loadConfig({}).lineRecheckMs, undefined);
    for (const bad of ['soon', '0s', '2h', '-1s']) {
      assert.throws(() => loadConfig({ SLIPWAY_LINE_RECHECK_INTERVAL: bad }), /SLIPWAY_LINE_RECHECK_INTERVAL must be a duration from 1s to 1h/);
    }
  });

  it("holds an environment by its own stop first, else by a stop of all, else not at all", () => {
    const stop = (scope: string): LineStop => ({ scope, reason: scope, by: 'ada', since: AT });
    assert.equal(stopFor([stop('all'), stop('prod')], 'prod')?.scope, 'prod');
    assert.equal(stopFor([stop('all'), stop('prod')], 'staging')?.scope, 'all');
    assert.equal(stopFor([stop('qa')], 'prod'), null);
  });
});

describe('hotfix and break-glass approvals (pure, no server)', () => {
  it('makes a release a hotfix only through the start decision the API signed', () => {
    const input = { releaseId: 'release-fraud-1.0.0', model: 'fraud', version: '1.0.0', requestedBy: 'dave', requestedAt: AT };
    const signed = (signer: Signer) => signer.signDecision({ kind: 'release.start', releaseId: input.releaseId, model: 'fraud', version: '1.0.0', requester: { user: 'dave', via: 'token' }, hotfix: true, issuedAt: AT });
    assert.equal(resolveRequester({ ...input, startDecision: signed(API) }, API.trusted(), AT).hotfix, true);
    assert.equal(resolveRequester({ ...input, hotfix: true }, API.trusted(), AT).hotfix, undefined);
    assert.equal(resolveRequester({ ...input, hotfix: true, startDecision: signed(Signer.generate()) }, API.trusted(), AT).hotfix, undefined);
  });

  it('counts a signed break-glass approval from a listed approver for a hotfix, once per stage', () => {
    const ctx = context(true);
    assert.equal(applyApproval(ctx, breakGlass('bob'), 'cli', AT).outcome, 'counted');
    assert.equal(applyApproval(ctx, breakGlass('carol'), 'cli', AT).outcome, 'duplicate');
    assert.deepEqual(ctx.state.breakGlass?.map((b) => [b.stage, b.approver]), [['prod', 'bob']]);
    assert.deepEqual(ctx.state.ignoredMessages, []);
  });

  it('refuses and records a break-glass approval for a release that is not a hotfix, from someone off the list, from the requester, or signed by another key', () => {
    const refusedWith = (ctx: MessageContext, raw: unknown, reason: RegExp) => {
      const result = applyApproval(ctx, raw, 'cli', AT);
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason ?? '', reason);
      assert.equal(ctx.state.breakGlass?.length ?? 0, 0);
    };
    refusedWith(context(false), breakGlass('bob'), /not a hotfix/);
    refusedWith(context(true), breakGlass('mallory'), /mallory is not a break-glass approver of pipeline hot; they are bob, carol/);
    const selfCtx = context(true);
    selfCtx.breakGlassApprovers = ['dave'];
    refusedWith(selfCtx, breakGlass('dave'), /dave started this release/);
    refusedWith(context(true), breakGlass('bob', Signer.generate()), /unknown key/);
    refusedWith(context(true), breakGlass('bob', API, 'qa'), /stage "qa" is not in pipeline hot/);
    // An unsigned message cannot ask for break-glass at all: it is an ordinary (refused) approval.
    const claim = context(true);
    applyApproval(claim, { stage: 'prod', approver: 'bob', breakGlass: true }, 'ui', AT);
    assert.equal(claim.state.breakGlass, undefined);
  });

  it('refuses a pipeline whose breakGlass lists no approvers or one twice, naming the path', () => {
    for (const [yaml, path] of [
      ['breakGlass: { approvers: [] }', /breakGlass\.approvers/],
      ['breakGlass: { approvers: [bob, Bob] }', /breakGlass\.approvers/],
      ['breakGlass: { approvers: [bob], extra: 1 }', /breakGlass/],
    ] as const) {
      assert.throws(() => parsePipeline(`name: x\n${yaml}\nstages:\n  - env: prod\n`, 'x.yaml'), (err: unknown) => path.test(String(err)));
    }
  });
});
