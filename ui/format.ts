/** Small formatting helpers, pure (unit-tested in test/unit/board-ui.test.ts). */

/** ago says how long before `now` a moment was, coarsely ("12s", "5m", "3h", "2d"). */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** when prints an ISO time as "YYYY-MM-DD HH:MM:SS UTC", or an empty string. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** words turns a status such as awaiting_approval into "awaiting approval". */
export function words(status: string): string {
  return status.replace(/_/g, ' ');
}

/** tone maps a status to the badge colour class. */
export function tone(status: string): 'ok' | 'bad' | 'wait' | 'busy' | 'idle' {
  if (['succeeded', 'ok'].includes(status)) return 'ok';
  if (['failed', 'rolled_back', 'rejected', 'approval_expired', 'errored', 'cancelled', 'superseded', 'rolling_back'].includes(status)) return 'bad';
  if (['awaiting_approval', 'waiting_for_lock', 'frozen', 'line_stopped'].includes(status)) return 'wait';
  if (['running', 'gating', 'deploying', 'baking'].includes(status)) return 'busy';
  return 'idle';
}

/** matchesFilter keeps a model when the filter text is empty or a case-insensitive part of its name. */
export function matchesFilter(name: string, filter: string): boolean {
  const f = filter.trim().toLowerCase();
  return f === '' || name.toLowerCase().includes(f);
}

/** temporalWorkflowUrl links a release's workflow (one run of it when runId is given) in the Temporal Web UI, or null when no UI is configured. */
export function temporalWorkflowUrl(base: string | null, namespace: string, workflowId: string, runId?: string): string | null {
  if (!base) return null;
  const run = runId ? `/${encodeURIComponent(runId)}` : '';
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${run}`;
}

/** stopScope says a stop's scope in words: `all` is every environment. */
export function stopScope(scope: string): string {
  return scope === 'all' ? 'every environment' : scope;
}

/** stopLine is one stop in words: where, by whom, since when and why. */
export function stopLine(stop: { scope: string; by: string; since: string; reason: string }): string {
  return `Line stopped for ${stopScope(stop.scope)} by ${stop.by} since ${when(stop.since)}: ${stop.reason}`;
}

/** mayRetry tells whether the page offers Retry: a release that ended in a retryable status, for a caller who may start releases. */
export function mayRetry(status: string, me: { releases?: boolean; retryableStatuses?: string[] } | undefined): boolean {
  return Boolean(me?.releases && me.retryableStatuses?.includes(status));
}

/** releaseHref is the board's page of a release. */
export function releaseHref(releaseId: string): string {
  return `#/releases/${encodeURIComponent(releaseId)}`;
}

/** modelHref is the board's page of a model. */
export function modelHref(model: string): string {
  return `#/models/${encodeURIComponent(model)}`;
}
