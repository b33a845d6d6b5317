/** The Retry button of a release that ended failed, rejected, approval_expired or cancelled: POST /releases/:id/retry as the logged-in user; a refusal is shown with the API's reason. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';

/** Retry starts a new run of one release; the page's polling then shows it. The button shows only when `offer`; the last answer stays once the new run is in flight. */
export function Retry({ releaseId, offer, onDone }: { releaseId: string; offer: boolean; onDone?: () => void }) {
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
  if (!offer && !result) return null;
  return (
    <div class="retry" data-testid="retry">
      {offer && <button type="button" disabled={busy} onClick={() => void send()}>Retry from the failed stage</button>}
      {result && <p class={result.ok ? 'done' : 'error'} role={result.ok ? 'status' : 'alert'} data-testid="retry-result">{result.text}</p>}
    </div>
  );
}
