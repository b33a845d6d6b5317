/**
 * Release statuses and what they mean to callers: which ones are final and
 * which exit code the CLI returns when a release ends in one.
 */

/** RELEASE_STATUSES lists every status a release can be in, in rough lifecycle order. */
export const RELEASE_STATUSES = [
  'running',
  'awaiting_approval',
  'frozen',
  'line_stopped',
  'waiting_for_lock',
  'deploying',
  'baking',
  'rolling_back',
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
  'approval_expired',
  'cancelled',
  'superseded',
  'errored',
] as const;

/** ReleaseStatus is where a release is, as shown by the status query and search attribute. */
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/**
 * TERMINAL_STATUSES are the statuses a release ends in; `errored` is a
 * technical failure, kept apart from the business outcomes.
 */
export const TERMINAL_STATUSES: readonly ReleaseStatus[] = [
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
  'approval_expired',
  'cancelled',
  'superseded',
  'errored',
];

/** isReleaseStatus tells whether a string is a known release status (e.g. a `--status` filter). */
export function isReleaseStatus(value: unknown): value is ReleaseStatus {
  return typeof value === 'string' && (RELEASE_STATUSES as readonly string[]).includes(value);
}

/** isTerminal tells whether a release in this status has ended. */
export function isTerminal(status: ReleaseStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** exitCodeForStatus is the CLI exit code for a release's status: 0 only for succeeded, else 1. */
export function exitCodeForStatus(status: ReleaseStatus): 0 | 1 {
  return status === 'succeeded' ? 0 : 1;
}
