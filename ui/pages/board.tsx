/** The board: every model × environment, live version, health, the release in flight and approvals waiting; polled every second. */
import { useState } from 'preact/hooks';
import { usePoll } from '../hooks';
import { ago, matchesFilter, modelHref, releaseHref, tone, when, words } from '../format';
import type { Board, Cell } from '../types';
import { Problem } from './common';

function CellView({ model, cell, now }: { model: string; cell: Cell; now: number }) {
  const { live, release } = cell;
  return (
    <td data-cell={`${model}/${cell.env}`}>
      {live?.version ? (
        <div class="live">
          <span class="version" data-testid="live-version">{live.version}</span>
          <span class={`badge ${live.health === 'ok' ? 'ok' : 'bad'}`} title={live.reason}>{live.health === 'ok' ? 'healthy' : 'failed'}</span>
          <span class="since" title={when(live.since)}>since {ago(live.since, now)} ago</span>
        </div>
      ) : (
        <div class="live none">nothing live</div>
      )}
      {release && (
        <a class={`release badge ${tone(release.status)}`} href={releaseHref(release.releaseId)} data-testid="cell-release">
          {release.version} · {words(release.status)}
          {release.canaryWeight !== null && release.status === 'deploying' ? ` ${release.canaryWeight}%` : ''}
          {release.approvals && release.status === 'awaiting_approval' ? ` ${release.approvals.approved}/${release.approvals.required}` : ''}
        </a>
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
                      <div><a href={releaseHref(f.releaseId)}>{f.version}</a> <span class={`badge ${tone(f.status)}`}>{words(f.status)}</span></div>
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
