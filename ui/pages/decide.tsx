/** The approve / reject form: sent as the logged-in user through POST /releases/:id/approvals; a refusal is shown with its reason. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';

/** Decide approves or rejects one stage of one release. */
export function Decide({ releaseId, stage, onDone }: { releaseId: string; stage: string; onDone?: () => void }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const id = `c-${releaseId}-${stage}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const send = async (decision: 'approve' | 'reject') => {
    if (decision === 'reject' && !comment.trim()) {
      setResult({ ok: false, text: 'A rejection needs a reason: write it in the comment.' });
      return;
    }
    setBusy(true);
    try {
      const answer = await call<{ outcome?: string; reason?: string; quorum?: { approvedBy: string[]; required: number } }>('POST', `/releases/${encodeURIComponent(releaseId)}/approvals`, {
        stage,
        decision,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      });
      if (decision === 'reject') setResult({ ok: true, text: `Rejected ${stage}.` });
      else if (answer.outcome === 'duplicate') setResult({ ok: false, text: answer.reason ?? 'Already counted.' });
      else setResult({ ok: true, text: `Approved ${stage}${answer.quorum ? ` (${answer.quorum.approvedBy.length} of ${answer.quorum.required})` : ''}.` });
      setComment('');
      onDone?.();
    } catch (err) {
      setResult({ ok: false, text: `Refused: ${err instanceof ApiError ? err.message : String(err)}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="decide" onSubmit={(e) => { e.preventDefault(); void send('approve'); }} data-testid={`decide-${stage}`}>
      <label for={id}>Comment for {stage}</label>
      <input id={id} value={comment} maxLength={2000} onInput={(e) => setComment((e.target as HTMLInputElement).value)} placeholder="optional for approval, required to reject" />
      <div class="buttons">
        <button type="submit" disabled={busy}>Approve {stage}</button>
        <button type="button" class="danger" disabled={busy} onClick={() => void send('reject')}>Reject {stage}</button>
      </div>
      {result && <p class={result.ok ? 'done' : 'error'} role={result.ok ? 'status' : 'alert'} data-testid="decision-result">{result.text}</p>}
    </form>
  );
}
