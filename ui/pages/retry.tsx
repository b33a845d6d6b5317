/** The Retry button of a release that ended failed, rejected, approval_expired or cancelled: POST /releases/:id/retry as the logged-in user; a refusal is shown with the API's reason. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';

/** Retry starts a new run of one release; the page's polling then shows it. */
export function Retry({ releaseId, onDone }: { releaseId: string; onDone?: () => void }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const send = async () => {
    setBusy(true);
    try {
      const answer = await call<{ runId?: string }>('POST', `/releases/${encodeURIComponent(releaseId)}/retry`, {});
      setResult({ ok: true, text: `Retry started${answer.runId ? ` (run ${answer.runId})` : ''}.` });
      onDone?.();
    } catch (err) {
      setResult({ ok: false, text: `Refused: ${err instanceof ApiError ? err.message : String(err)}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="retry" data-testid="retry">
      <button type="button" disabled={busy} onClick={() => void send()}>Retry from the failed stage</button>
      {result && <p class={result.ok ? 'done' : 'error'} role={result.ok ? 'status' : 'alert'} data-testid="retry-result">{result.text}</p>}
    </div>
  );
}
