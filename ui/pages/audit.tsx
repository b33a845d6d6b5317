/** Audit: the hash chain's verification (GET /audit/verify) and a release's signed evidence bundle (GET /releases/:id/evidence). */
import { useState } from 'preact/hooks';
import { ApiError, download } from '../api';
import { usePoll } from '../hooks';
import { Problem } from './common';

/** AuditPage shows whether the audit chain verifies and downloads evidence bundles. */
export function AuditPage() {
  const verify = usePoll<{ ok: boolean; checked: number; brokenAt?: unknown; checkpointsChecked?: number }>('/audit/verify', 15_000);
  const [id, setId] = useState('');
  const [error, setError] = useState('');
  const v = verify.data;
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit</h1>
      <Problem error={verify.error} />
      {v && (
        <p data-testid="audit-verify" class={v.ok ? 'done' : 'error'}>
          {v.ok ? 'The audit chain verifies' : 'The audit chain is BROKEN'}: {v.checked} events checked
          {v.checkpointsChecked !== undefined ? `, ${v.checkpointsChecked} signed checkpoints` : ''}
          {v.brokenAt ? `; first break at ${JSON.stringify(v.brokenAt)}` : ''}.
        </p>
      )}
      <form class="evidence" onSubmit={(e) => { e.preventDefault(); setError(''); download(`/releases/${encodeURIComponent(id.trim())}/evidence`, `${id.trim()}.evidence.json`).catch((err: unknown) => setError(err instanceof ApiError ? err.message : String(err))); }}>
        <label for="evidence-id">Release id</label>
        <input id="evidence-id" value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} placeholder="release-fraud-1.4.0" />
        <button type="submit" disabled={!id.trim()}>Download evidence bundle</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
    </section>
  );
}
