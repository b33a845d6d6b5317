/** The approvals inbox: the stages waiting for the logged-in user's approval (GET /board/inbox). */
import { usePoll } from '../hooks';
import { releaseHref, when } from '../format';
import type { InboxItem } from '../types';
import { Decide } from './decide';
import { Problem } from './common';

/** InboxPage lists what waits for me, each with approve / reject. */
export function InboxPage() {
  const inbox = usePoll<{ user: string; items: InboxItem[] }>('/board/inbox');
  const d = inbox.data;
  return (
    <section aria-labelledby="inbox-title">
      <h1 id="inbox-title">Waiting for my approval</h1>
      <Problem error={inbox.error} />
      {d && d.items.length === 0 && <p data-testid="inbox-empty">Nothing waits for {d.user}.</p>}
      <ul class="inbox">
        {d?.items.map((i) => (
          <li data-testid="inbox-item" data-release={i.releaseId}>
            <h2><a href={releaseHref(i.releaseId)}>{i.model} {i.version}</a> → {i.stage}</h2>
            <p>Requested by {i.requestedBy} · {i.approved} of {i.required} approvals{i.approvedBy.length ? ` (${i.approvedBy.join(', ')})` : ''}{i.approvalDeadline ? ` · expires ${when(i.approvalDeadline)}` : ''}</p>
            <Decide releaseId={i.releaseId} stage={i.stage} onDone={inbox.refresh} />
          </li>
        ))}
      </ul>
    </section>
  );
}
