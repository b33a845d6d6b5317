/**
 * The release's activity proxies, one per retry profile, each typed with only
 * the activities it may call: a deploy can never be sent with the gate profile
 * by mistake. Changing a profile changes what is scheduled, so replay tests
 * cover it.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { SlipwayActivities } from '../../activities';
import { FailureType } from '../../domain/failures';

type Only<K extends keyof SlipwayActivities> = Pick<SlipwayActivities, K>;

/** retryingUntilDone: idempotent registry work (snapshots, leases, health reads) retried through a database outage. */
export const retryingUntilDone = proxyActivities<Only<'recordRelease' | 'acquireEnvLock' | 'requestEnvLock' | 'confirmEnvLease' | 'checkHealth' | 'loadReleasePolicy' | 'planRetry'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: [FailureType.InvalidInput, FailureType.ModelVersionNotFound, FailureType.VersionConflict] },
});

/** retrying5Times: gates, which may call slow outside services. */
export const retrying5Times = proxyActivities<Only<'runGate'>>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.ModelVersionNotFound, FailureType.InvalidInput] },
});

/** retrying10TimesHeartbeating: deploys, which heartbeat so a dead worker is noticed within seconds. */
export const retrying10TimesHeartbeating = proxyActivities<Only<'deploy'>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [FailureType.ModelVersionNotFound, FailureType.InvalidInput, FailureType.UnknownTarget] },
});

/** retrying20Times: undoing a deploy; what still fails after that is reported in the release state. */
export const retrying20Times = proxyActivities<Only<'undoDeploy'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});
