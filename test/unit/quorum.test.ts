import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideApproval,
  initialQuorum,
  validateApprovalInput,
  type ApprovalMessage,
  type ApprovalPolicy,
  type QuorumState,
} from '../../domain/quorum';

const policy: ApprovalPolicy = { required: 2, approvers: ['alice', 'bob', 'carol'], selfApproval: false };
const REQUESTER = 'dave';

function approval(approver: string, extra: Partial<ApprovalMessage> = {}): ApprovalMessage {
  return { stage: 'prod', approver, at: '2025-01-06T10:00:00.000Z', ...extra };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe('initialQuorum', () => {
  it('starts empty and unmet for a policy that requires approvals', () => {
    assert.deepEqual(initialQuorum(policy), { required: 2, approvedBy: [], approvals: [], refused: [], met: false });
  });

  it('is met from the start when the policy requires no approvals', () => {
    assert.equal(initialQuorum({ ...policy, required: 0 }).met, true);
  });
});

describe('decideApproval', () => {
  it('meets a 2-of-3 quorum on the second distinct approver', () => {
    const first = decideApproval(policy, initialQuorum(policy), approval('alice'), REQUESTER);
    assert.equal(first.outcome, 'counted');
    assert.deepEqual(first.state.approvedBy, ['alice']);
    assert.equal(first.state.met, false);

    const second = decideApproval(policy, first.state, approval('carol'), REQUESTER);
    assert.equal(second.outcome, 'counted');
    assert.deepEqual(second.state.approvedBy, ['alice', 'carol']);
    assert.equal(second.state.met, true);
  });

  it('counts the same approver once and reports the duplicate', () => {
    const first = decideApproval(policy, initialQuorum(policy), approval('alice'), REQUESTER);
    const again = decideApproval(policy, first.state, approval('alice', { channel: 'cli' }), REQUESTER);
    assert.equal(again.outcome, 'duplicate');
    assert.match(again.reason ?? '', /alice has already approved/);
    assert.deepEqual(again.state.approvedBy, ['alice']);
    assert.equal(again.state.met, false);
    assert.deepEqual(again.state.refused, []);
  });

  it('refuses the requester approving their own release when selfApproval is off', () => {
    const selfPolicy: ApprovalPolicy = { ...policy, approvers: ['alice', 'bob', 'dave'] };
    const decision = decideApproval(selfPolicy, initialQuorum(selfPolicy), approval('dave'), 'dave');
    assert.equal(decision.outcome, 'refused');
    assert.match(decision.reason ?? '', /dave requested this release and may not approve it/);
    assert.deepEqual(decision.state.approvedBy, []);
    assert.deepEqual(decision.state.refused, [{ approver: 'dave', reason: decision.reason, at: '2025-01-06T10:00:00.000Z' }]);
  });

  it('refuses self-approval even when the requester name differs only in case', () => {
    const decision = decideApproval(policy, initialQuorum(policy), approval('alice'), 'Alice');
    assert.equal(decision.outcome, 'refused');
  });

  it('counts the requester when the policy allows self-approval', () => {
    const open: ApprovalPolicy = { ...policy, selfApproval: true };
    const decision = decideApproval(open, initialQuorum(open), approval('alice'), 'alice');
    assert.equal(decision.outcome, 'counted');
  });

  it('refuses an approver who is not listed and names the approvers', () => {
    const decision = decideApproval(policy, initialQuorum(policy), approval('mallory'), REQUESTER);
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'mallory is not an approver for this stage; approvers: alice, bob, carol');
    assert.deepEqual(decision.state.approvedBy, []);
    assert.equal(decision.state.refused.length, 1);
  });

  it('refuses an approval from a channel the policy does not allow', () => {
    const cliOnly: ApprovalPolicy = { ...policy, channels: ['cli', 'api'] };
    const decision = decideApproval(cliOnly, initialQuorum(cliOnly), approval('alice', { channel: 'ui' }), REQUESTER);
    assert.equal(decision.outcome, 'refused');
    assert.match(decision.reason ?? '', /only via cli, api; this one came via ui/);
  });

  it('refuses an approval without a channel when the policy restricts channels', () => {
    const cliOnly: ApprovalPolicy = { ...policy, channels: ['cli'] };
    assert.equal(decideApproval(cliOnly, initialQuorum(cliOnly), approval('alice'), REQUESTER).outcome, 'refused');
  });

  it('counts an approval from an allowed channel', () => {
    const cliOnly: ApprovalPolicy = { ...policy, channels: ['cli'] };
    assert.equal(decideApproval(cliOnly, initialQuorum(cliOnly), approval('alice', { channel: 'cli' }), REQUESTER).outcome, 'counted');
  });

  it('returns new state without mutating the policy, state or message', () => {
    const state: QuorumState = deepFreeze({
      required: 2,
      approvedBy: ['alice'],
      refused: [{ approver: 'x', reason: 'r', at: 't' }],
      met: false,
    });
    const frozenPolicy = deepFreeze({ ...policy });
    const counted = decideApproval(frozenPolicy, state, deepFreeze(approval('bob')), REQUESTER);
    const refused = decideApproval(frozenPolicy, state, deepFreeze(approval('eve')), REQUESTER);
    assert.notEqual(counted.state, state);
    assert.deepEqual(state.approvedBy, ['alice']);
    assert.deepEqual(counted.state.approvedBy, ['alice', 'bob']);
    assert.equal(refused.state.refused.length, 2);
    assert.equal(state.refused.length, 1);
  });
});

describe('validateApprovalInput', () => {
  it('accepts a well-formed approval with a comment', () => {
    assert.deepEqual(validateApprovalInput({ stage: 'prod', approver: 'alice', comment: 'looks good' }), {
      ok: true,
      value: { stage: 'prod', approver: 'alice', comment: 'looks good' },
    });
  });

  it('accepts an approval without a comment and adds no comment key', () => {
    const result = validateApprovalInput({ stage: 'prod-eu.1', approver: 'alice.smith@example.com' });
    assert.deepEqual(result, { ok: true, value: { stage: 'prod-eu.1', approver: 'alice.smith@example.com' } });
  });

  function expectError(input: unknown, ...patterns: RegExp[]): void {
    const result = validateApprovalInput(input);
    assert.equal(result.ok, false, `expected ${JSON.stringify(input)?.slice(0, 80)} to be rejected`);
    if (!result.ok) for (const p of patterns) assert.match(result.error, p);
  }

  it('rejects an array and says a JSON object is expected', () => {
    expectError([{ stage: 'prod', approver: 'alice' }], /approval must be a JSON object/, /got an array/);
  });

  it('rejects a number, a string and null', () => {
    expectError(42, /approval must be a JSON object/, /got a number/);
    expectError('{"stage":"prod"}', /got a string/);
    expectError(null, /got null/);
    expectError(undefined, /got nothing/);
  });

  it('rejects a missing stage naming the field', () => {
    expectError({ approver: 'alice' }, /stage is missing/);
  });

  it('rejects a missing approver naming the field', () => {
    expectError({ stage: 'prod' }, /approver is missing/);
  });

  it('rejects an unknown key and names it', () => {
    expectError({ stage: 'prod', approver: 'alice', approvers: ['bob'] }, /unknown field "approvers"/, /allowed fields are stage, approver, comment/);
  });

  it('rejects a __proto__ key from parsed JSON as unknown', () => {
    expectError(JSON.parse('{"stage":"prod","approver":"alice","__proto__":{"admin":true}}'), /unknown field "__proto__"/);
  });

  it('rejects a 10,000-character approver naming the field and the limit', () => {
    expectError({ stage: 'prod', approver: 'a'.repeat(10_000) }, /approver is 10000 characters long; at most 128/);
  });

  it('rejects a query operator object as approver', () => {
    expectError({ stage: 'prod', approver: { $gt: '' } }, /approver must be a string/, /got an object/);
  });

  it('rejects names with characters outside letters, digits and . _ @ -', () => {
    expectError({ stage: 'prod', approver: '$gt' }, /approver "\$gt" may contain only/);
    expectError({ stage: 'prod env', approver: 'alice' }, /stage "prod env" may contain only/);
  });

  it('rejects an empty stage', () => {
    expectError({ stage: '', approver: 'alice' }, /stage is empty/);
  });

  it('rejects a non-string or overlong comment', () => {
    expectError({ stage: 'prod', approver: 'alice', comment: 5 }, /comment must be a string/);
    expectError({ stage: 'prod', approver: 'alice', comment: null }, /comment must be a string/);
    expectError({ stage: 'prod', approver: 'alice', comment: 'x'.repeat(2001) }, /comment is 2001 characters long/);
  });

  it('accepts a comment of exactly 2000 characters and a name of exactly 128', () => {
    assert.equal(validateApprovalInput({ stage: 'prod', approver: 'a'.repeat(128), comment: 'x'.repeat(2000) }).ok, true);
  });

  it('reports every problem at once', () => {
    expectError({ stage: 7, approver: '', extra: 1 }, /unknown field "extra"/, /stage must be a string/, /approver is empty/);
  });
});
