/**
 * How a gate answers. A verdict: `passed: false` when the model is not good
 * enough, or when the gate's own config or files are wrong (asking again
 * cannot change either). When it could not ask at all (a timeout, HTTP 5xx,
 * a refused connection) it throws a retryable GateUnavailable instead, so the
 * gate activity's retry policy asks again.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { GateResult } from '../workflows/release/api';
import { FailureType } from '../domain/failures';

/** gateUnavailable is the retryable failure a gate throws when it could not ask: the gate activity's retry policy asks again. */
export function gateUnavailable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.GateUnavailable);
}

/** failedVerdict is a gate's answer when it could not judge for a reason retrying cannot change (bad config, missing file, refused request). */
export function failedVerdict(type: string, name: string, error: string): GateResult {
  return { type, name, passed: false, checks: [], error };
}
