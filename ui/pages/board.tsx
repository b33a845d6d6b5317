/** The board: every model × environment, live version, health, the release in flight and approvals waiting; polled every second. */
import { useState } from 'preact/hooks';
import { usePoll } from '../hooks';
import { ago, matchesFilter, modelHref, releaseHref, stopLine, stopScope, tone, when, words } from '../format';
import type { Board, Cell, LineStop, QuarantineMark } from '../types';
import { Problem } from './common';

function Quarantined({ mark }: { mark: QuarantineMark | null | undefined }) {
  if (!mark) return null;
  return <span class="badge bad" data-testid="quarantined" title={`quarantined by ${mark.by} since ${when(mark.since)}: ${mark.reason}`}>quarantined</span>;
}

/** StopBanners shows every stop in force, one banner each. */
function StopBanners({ stops }: { stops: LineStop[] }) {
  if (stops.length === 0) return null;
  return (
    <ul class="stops" aria-label="Stops in force">
      {stops.map((s) => (
        <li class="stop-banner" role="status" data-testid="stop-banner" data-scope={s.scope}>
          <strong>{stopLine(s)}</strong>
          <span class="meta"> Releases wait before their next deploy {s.scope === 'all' ? 'anywhere' : `to ${s.scope}`} until it is resumed.</span>
        </li>
      ))}
    </ul>
  );
}

function CellView({ model, cell, now }: { model: string; cell: Cell; now: number }) {
  const { live, release, stopped } = cell;
  return (
    <td data-cell={`${model}/${cell.env}`} class={stopped ? 'stopped' : undefined} data-stopped={stopped ? stopped.scope : undefined}>
      {stopped && <span class="badge wait" data-testid="cell-stopped" title={stopLine(stopped)}>line stopped ({stopScope(stopped.scope)})</span>}
      {live?.version ? (
        <div class="live">
          <span class="version" data-testid="live-version">{live.version}</span>
          <span class={`badge ${live.health === 'ok' ? 'ok' : 'bad'}`} title={live.reason}>{live.health === 'ok' ? 'healthy' : 'failed'}</span>
          <Quarantined mark={live.quarantined} />
          <span class="since" title={when(live.since)}>since {ago(live.since, now)} ago</span>
        </div>
      ) : (
        <div class="live none">nothing live</div>
      )}
      {release && (
        <div class="cell-release">
          <a class={`release badge ${tone(release.status)}`} href={releaseHref(release.releaseId)} data-testid="cell-release">
            {release.version} · {words(release.status)}
            {release.canaryWeight !== null && release.status === 'deploying' ? ` ${release.canaryWeight}%` : ''}
            {release.approvals && release.status === 'awaiting_approval' ? ` ${release.approvals.approved}/${release.approvals.required}` : ''}
          </a>
          {release.hotfix && <span class="badge hotfix" data-testid="hotfix">hotfix</span>}
          <Quarantined mark={release.quarantined} />
          {release.waitingFor && <p class="held" data-testid="cell-held">held: {release.waitingFor.reason} ({release.waitingFor.by})</p>}
        </div>
      )}
    </td>
  );
}

/** BoardPage renders GET /board with model and environment filters. */
export function BoardPage() {
  const board = usePoll<Board>('/board');
  const [modelFilter, setModelFilter] = useState('');
  const [envFilter, setEnvFilter] = useState('');
  const b = board.data;
  const now = b ? Date.parse(b.generatedAt) : Date.now();
  const envs = b ? b.environments.filter((e) => envFilter === '' || e === envFilter) : [];
  const rows = b ? b.rows.filter((r) => matchesFilter(r.model, modelFilter)) : [];
  return (
    <section aria-labelledby="board-title">
      <h1 id="board-title">Release board</h1>
      <div class="filters">
        <label>
          Model <input type="search" value={modelFilter} onInput={(e) => setModelFilter((e.target as HTMLInputElement).value)} placeholder="filter by name" />
        </label>
        <label>
          Environment{' '}
          <select value={envFilter} onChange={(e) => setEnvFilter((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {b?.environments.map((e) => <option value={e}>{e}</option>)}
          </select>
        </label>
        {b && (
          <span class="meta" aria-live="polite">
            {b.rows.length} model{b.rows.length === 1 ? '' : 's'} · {b.approvalsWaiting} approval{b.approvalsWaiting === 1 ? '' : 's'} waiting
          </span>
        )}
      </div>
      <StopBanners stops={b?.stops ?? []} />
      <Problem error={board.error} />
      {!b && !board.error && <p>Loading…</p>}
      {b && (
        <div class="table-wrap">
          <table class="board" data-testid="board" data-generated-at={b.generatedAt}>
            <caption class="sr-only">Live version and release in flight per model and environment</caption>
            <thead>
              <tr>
                <th scope="col">Model</th>
                {envs.map((e) => <th scope="col">{e}</th>)}
                <th scope="col">In flight</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr data-model={r.model}>
                  <th scope="row"><a href={modelHref(r.model)}>{r.model}</a></th>
                  {r.cells.filter((c) => envs.includes(c.env)).map((c) => <CellView model={r.model} cell={c} now={now} />)}
                  <td>
                    {r.inFlight.map((f) => (
                      <div data-testid="in-flight" data-release={f.releaseId}>
                        <a href={releaseHref(f.releaseId)}>{f.version}</a> <span class={`badge ${tone(f.status)}`}>{words(f.status)}</span>
                        {f.hotfix && <> <span class="badge hotfix" data-testid="hotfix">hotfix</span></>}
                        {f.waitingFor && <p class="held" data-testid="held-reason">held by a stopped line at {f.waitingFor.env}: {f.waitingFor.reason}</p>}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p>No model matches.</p>}
        </div>
      )}
    </section>
  );
}
