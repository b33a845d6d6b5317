/**
 * Approval quorum: validating the raw `approve` signal/update argument and
 * deciding whether one approval counts toward a stage's quorum.
 *
 * Pure and dependency-free (no zod) so the workflow bundle stays small. The
 * workflow records the channel (`ui` for the Signal from the Temporal Web UI,
 * `api`/`cli` for the Update) and the time itself; callers send only
 * `{ stage, approver, comment? }`.
 */

/** ApprovalChannel is where an approval came from. */
export type ApprovalChannel = 'api' | 'cli' | 'ui';

/** ApprovalPolicy is a stage's approval rule from the pipeline YAML. */
export type ApprovalPolicy = {
  required: number;
  approvers: string[];
  // The release's requester may approve it only when this is true.
  selfApproval: boolean;
  // Absent means every channel is accepted.
  channels?: ApprovalChannel[];
};

/** ApprovalMessage is one validated approval as the workflow records it. */
export type ApprovalMessage = {
  stage: string;
  approver: string;
  comment?: string;
  channel?: ApprovalChannel;
  /** True when the API signed it (channel `api` on server-policy releases). */
  verified?: boolean;
  /** ISO-8601 time the workflow received it (workflow time, so replay-safe). */
  at: string;
};

/** ApprovalRecord is one counted approval: who, how it arrived, whether its identity was verified. */
export type ApprovalRecord = { approver: string; channel: ApprovalChannel | null; verified: boolean; at: string; comment?: string };

/** ApprovalInput is the validated argument of the `approve` signal/update. */
export type ApprovalInput = { stage: string; approver: string; comment?: string };

/** QuorumState is a stage's approval progress, kept in the release state. */
export type QuorumState = {
  required: number;
  approvedBy: string[];
  /** The counted approvals in order, with channel and verification (absent in states recorded before it). */
  approvals?: ApprovalRecord[];
  // Kept so "who tried to approve and why it did not count" stays answerable.
  refused: { approver: string; reason: string; at: string }[];
  met: boolean;
};

/** ApprovalDecision is what one approval did to the quorum. */
export type ApprovalDecision = {
  state: QuorumState;
  outcome: 'counted' | 'duplicate' | 'refused';
  reason?: string;
};

/** APPROVAL_NAME_MAX_LENGTH is the longest stage or approver name accepted. */
export const APPROVAL_NAME_MAX_LENGTH = 128;

/** APPROVAL_COMMENT_MAX_LENGTH is the longest approval comment accepted. */
export const APPROVAL_COMMENT_MAX_LENGTH = 2000;

const NAME_PATTERN = /^[A-Za-z0-9._@-]+$/;
const ALLOWED_KEYS = ['stage', 'approver', 'comment'] as const;
const EXAMPLE = '{"stage":"prod","approver":"alice","comment":"looks good"}';

/** validateApprovalInput checks the raw approve argument; errors name the field and the fix. */
export function validateApprovalInput(
  input: unknown,
): { ok: true; value: ApprovalInput } | { ok: false; error: string } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, error: `approval must be a JSON object like ${EXAMPLE}; got ${describeType(input)}` };
  }
  const record = input as Record<string, unknown>;
  const errors: string[] = [];

  const unknownKeys = Object.keys(record).filter((k) => !(ALLOWED_KEYS as readonly string[]).includes(k));
  if (unknownKeys.length > 0) {
    const names = unknownKeys.map((k) => JSON.stringify(truncate(k, 40))).join(', ');
    errors.push(`unknown field${unknownKeys.length > 1 ? 's' : ''} ${names}: remove ${unknownKeys.length > 1 ? 'them' : 'it'}; allowed fields are ${ALLOWED_KEYS.join(', ')}`);
  }

  const stageError = nameError('stage', record['stage'], 'the environment to approve, e.g. "prod"');
  if (stageError) errors.push(stageError);
  const approverError = nameError('approver', record['approver'], 'your user name, e.g. "alice"');
  if (approverError) errors.push(approverError);

  const comment = record['comment'];
  if ('comment' in record && comment !== undefined) {
    if (typeof comment !== 'string') {
      errors.push(`comment must be a string when given; got ${describeType(comment)}: pass text or leave the field out`);
    } else if (comment.length > APPROVAL_COMMENT_MAX_LENGTH) {
      errors.push(`comment is ${comment.length} characters long; shorten it to at most ${APPROVAL_COMMENT_MAX_LENGTH}`);
    }
  }

  if (errors.length > 0) return { ok: false, error: errors.join('; ') };
  const value: ApprovalInput = { stage: record['stage'] as string, approver: record['approver'] as string };
  if (typeof comment === 'string') value.comment = comment;
  return { ok: true, value };
}

/** initialQuorum is the empty quorum for a stage's policy. */
export function initialQuorum(policy: ApprovalPolicy): QuorumState {
  return { required: policy.required, approvedBy: [], approvals: [], refused: [], met: policy.required <= 0 };
}

/**
 * decideApproval applies one approval to a quorum and returns the new state
 * (inputs are never mutated): refused when the approver is not listed, is the
 * requester (or the change's author) without selfApproval, or used a channel
 * the policy does not allow; duplicate when already counted; otherwise counted.
 */
export function decideApproval(
  policy: ApprovalPolicy,
  state: QuorumState,
  msg: ApprovalMessage,
  requester: string | readonly string[],
): ApprovalDecision {
  const refusal = refusalReason(policy, msg, typeof requester === 'string' ? [requester] : requester);
  if (refusal !== undefined) {
    return {
      state: { ...copyState(state), refused: [...state.refused.map((r) => ({ ...r })), { approver: msg.approver, reason: refusal, at: msg.at }] },
      outcome: 'refused',
      reason: refusal,
    };
  }
  if (state.approvedBy.includes(msg.approver)) {
    return {
      state: copyState(state),
      outcome: 'duplicate',
      reason: `${msg.approver} has already approved this stage; each approver counts once (${state.approvedBy.length} of ${state.required})`,
    };
  }
  const approvedBy = [...state.approvedBy, msg.approver];
  const copy = copyState(state);
  copy.approvals?.push({ approver: msg.approver, channel: msg.channel ?? null, verified: msg.verified === true, at: msg.at, ...(msg.comment === undefined ? {} : { comment: msg.comment }) });
  return {
    state: { ...copy, approvedBy, met: approvedBy.length >= state.required },
    outcome: 'counted',
  };
}

function refusalReason(policy: ApprovalPolicy, msg: ApprovalMessage, requesters: readonly string[]): string | undefined {
  if (!policy.approvers.includes(msg.approver)) {
    const list = policy.approvers.length > 0 ? policy.approvers.join(', ') : '(none)';
    return `${msg.approver} is not an approver for this stage; approvers: ${list}`;
  }
  // Case-insensitive on purpose: refusing "Alice" approving alice's release is
  // the safe direction if identity providers disagree on case.
  if (!policy.selfApproval) {
    const same = (name: string | undefined) => name !== undefined && msg.approver.toLowerCase() === name.toLowerCase();
    if (same(requesters[0])) return `${msg.approver} requested this release and may not approve it (self-approval is off for this stage); ask another approver`;
    if (requesters.slice(1).some(same)) return `${msg.approver} authored the change this release ships and may not approve it (self-approval is off for this stage); ask another approver`;
  }
  if (policy.channels !== undefined && (msg.channel === undefined || !policy.channels.includes(msg.channel))) {
    return `approvals for this stage are accepted only via ${policy.channels.join(', ') || '(no channel)'}; this one came via ${msg.channel ?? 'an unknown channel'}`;
  }
  return undefined;
}

function copyState(state: QuorumState): QuorumState {
  return {
    required: state.required,
    approvedBy: [...state.approvedBy],
    ...(state.approvals ? { approvals: state.approvals.map((a) => ({ ...a })) } : {}),
    refused: state.refused.map((r) => ({ ...r })),
    met: state.met,
  };
}

function nameError(field: 'stage' | 'approver', value: unknown, what: string): string | undefined {
  if (value === undefined) return `${field} is missing: set it to ${what}`;
  if (typeof value !== 'string') return `${field} must be a string (${what}); got ${describeType(value)}`;
  if (value.length === 0) return `${field} is empty: set it to ${what}`;
  if (value.length > APPROVAL_NAME_MAX_LENGTH) {
    return `${field} is ${value.length} characters long; at most ${APPROVAL_NAME_MAX_LENGTH} are allowed`;
  }
  if (!NAME_PATTERN.test(value)) {
    return `${field} ${JSON.stringify(truncate(value, 40))} may contain only letters, digits and . _ @ -`;
  }
  return undefined;
}

function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
