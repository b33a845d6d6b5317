/**
 * The release workflow's public contract: its input, state, id, and the
 * messages the Temporal Web UI (Signals), the CLI/API (Update) and monitors
 * (Query) use. The CLI and API import these objects, never strings.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApproveUpdateInput, ApproveUpdateResult, ReleaseState } from '../../domain/release';

export type * from '../../domain/release';
export { SA_MODEL, SA_STAGE, SA_STATUS, SA_VERSION } from '../../domain/search-attributes';

/** approveSignal: `{"stage":"prod","approver":"alice","comment":"…"}` — what the Web UI sends. */
export const approveSignal = defineSignal<[unknown]>('approve');
/** rejectSignal: `{"stage":"prod","approver":"alice","comment":"why"}` ends the release `rejected`. */
export const rejectSignal = defineSignal<[unknown]>('reject');
/** approveUpdate is the validated approval CLI/API send, answered with the quorum state. */
export const approveUpdate = defineUpdate<ApproveUpdateResult, [ApproveUpdateInput]>('approve');
/** recheckLineSignal asks a release to ask the registry again about stops and quarantine; it carries no authority. */
export const recheckLineSignal = defineSignal<[]>('recheck-line');
/** statusQuery returns the whole ReleaseState. */
export const statusQuery = defineQuery<ReleaseState>('status');

/** releaseWorkflowId is the deterministic id of the release of model@version. */
export function releaseWorkflowId(model: string, version: string): string {
  return `release-${model}-${version}`;
}

/**
 * deployOpKey is the idempotency key of a release's deploy to one environment.
 * It names the run (the first run id of the workflow) as well as the release,
 * so starting a version again after its release ended deploys again instead of
 * finding the earlier run's deploy done. Pass runId null for releases recorded
 * before run-scoped keys.
 */
export function deployOpKey(releaseId: string, runId: string | null, env: string): string {
  return runId === null ? `${releaseId}:${env}:deploy` : `${releaseId}:${runId}:${env}:deploy`;
}

/** rollbackWorkflowId is the id of a rollback; `requestKey` makes a retried request idempotent. */
export function rollbackWorkflowId(model: string, env: string, requestKey: string): string {
  return `rollback-${model}-${env}-${requestKey}`;
}
