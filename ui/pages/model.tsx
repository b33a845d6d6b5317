/** A model: versions with metrics and lineage, what was live when per environment, DORA figures, and rollback for those allowed. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import { usePoll } from '../hooks';
import { releaseHref, when } from '../format';
import type { Me, Quarantine } from '../types';
import { Problem } from './common';

interface Version { version: string; metrics?: Record<string, number>; codeCommit?: string; dataSnapshot?: string; promptVersion?: string; parentVersion?: string; registeredAt: string; registeredBy: string }
interface Move { _id: string; env: string; version: string | null; startedAt: string; endedAt?: string | null; health: 'ok' | 'failed'; releaseId: string | null; by: string; reason: string }
interface Dora { metrics: { env: string; deployments: number; deploymentFrequency: { perDay: number }; leadTime: { medianMs: number | null }; changeFailureRate: { rate: number | null }; recoveryTime: { medianMs: number | null } }[] }

const CHARTS: { label: string; unit: string; pick: (m: Dora['metrics'][number]) => number | null }[] = [
  { label: 'Deployments per day', unit: '/day', pick: (m) => m.deploymentFrequency.perDay },
  { label: 'Lead time (median)', unit: 'h', pick: (m) => (m.leadTime.medianMs === null ? null : m.leadTime.medianMs / 3_600_000) },
  { label: 'Change failure rate', unit: '%', pick: (m) => (m.changeFailureRate.rate === null ? null : m.changeFailureRate.rate * 100) },
  { label: 'Recovery time (median)', unit: 'h', pick: (m) => (m.recoveryTime.medianMs === null ? null : m.recoveryTime.medianMs / 3_600_000) },
];

function DoraCharts({ dora }: { dora: Dora }) {
  const rows = dora.metrics.filter((m) => m.env !== '*');
  if (rows.length === 0) return <p>No deployments in the last 30 days.</p>;
  return (
    <div class="charts">
      {CHARTS.map((c) => {
        const values = rows.map((m) => c.pick(m));
        const max = Math.max(1e-9, ...values.map((v) => v ?? 0));
        return (
          <figure>
            <figcaption>{c.label}</figcaption>
            <svg viewBox={`0 0 220 ${rows.length * 22}`} role="img" aria-label={`${c.label} per environment: ${rows.map((m, i) => `${m.env} ${values[i] === null ? 'no data' : (values[i] as number).toFixed(2) + c.unit}`).join(', ')}`}>
              {rows.map((m, i) => (
                <g>
                  <text x="0" y={i * 22 + 15} class="chart-label">{m.env}</text>
                  <rect x="60" y={i * 22 + 4} height="14" width={values[i] === null ? 0 : Math.max(1, ((values[i] as number) / max) * 110)} class="chart-bar" />
                  <text x="175" y={i * 22 + 15} class="chart-value">{values[i] === null ? '–' : `${(values[i] as number).toFixed(1)}${c.unit}`}</text>
                </g>
              ))}
            </svg>
          </figure>
        );
      })}
    </div>
  );
}

function Rollback({ model, env, live, history, quarantined }: { model: string; env: string; live: string | null; history: Move[]; quarantined: (version: string) => boolean }) {
  // Offered: versions that were live here before, not marked failed and not quarantined; the server checks again (POST /rollbacks).
  const candidates = [...new Set(history.filter((h) => h.env === env && h.health === 'ok' && h.version && h.version !== live && !quarantined(h.version)).map((h) => h.version!))];
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const id = `rb-${env}`;
  const send = async (e: Event) => {
    e.preventDefault();
    try {
      const res = await call<{ workflowId: string }>('POST', '/rollbacks', { model, env, ...(to ? { toVersion: to } : {}), ...(reason.trim() ? { reason: reason.trim() } : {}) });
      setMsg({ ok: true, text: `Rollback started (${res.workflowId}); the timeline shows it when it lands.` });
    } catch (err) {
      setMsg({ ok: false, text: `Refused: ${err instanceof ApiError ? err.message : String(err)}` });
    }
  };
  if (candidates.length === 0) return null;
  return (
    <form class="rollback" onSubmit={send} data-testid={`rollback-${env}`}>
      <label for={`${id}-to`}>Roll {env} back to</label>
      <select id={`${id}-to`} value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
        <option value="">last known good</option>
        {candidates.map((c) => <option value={c}>{c}</option>)}
      </select>
      <label for={`${id}-reason`}>Reason</label>
      <input id={`${id}-reason`} value={reason} maxLength={2000} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <button type="submit" class="danger">Roll back {env}</button>
      {msg && <p class={msg.ok ? 'done' : 'error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
    </form>
  );
}

/** ModelPage renders GET /models/:model, its deployment history and GET /dora for it. */
export function ModelPage({ model, me }: { model: string; me: Me | undefined }) {
  const m = encodeURIComponent(model);
  const desc = usePoll<{ versions: Version[]; live: Move[] }>(`/models/${m}`, 2000);
  const hist = usePoll<{ history: Move[] }>(`/models/${m}/deployments?limit=200`, 1000);
  const dora = usePoll<Dora>(`/dora?model=${m}&since=30d`, 30_000);
  const quarantines = usePoll<{ quarantines: Quarantine[] }>(`/quarantines?model=${m}`, 2000);
  const quarantineOf = (version: string) => quarantines.data?.quarantines.find((q) => q.version === version);
  const envs = [...new Set((hist.data?.history ?? []).map((h) => h.env))].sort();
  const mayRollBack = (env: string) => Boolean(me && (me.rollsBack.includes('*') || me.rollsBack.includes(env)));
  return (
    <section aria-labelledby="model-title">
      <h1 id="model-title">{model}</h1>
      <Problem error={desc.error ?? hist.error} />
      <h2>Deployment history</h2>
      {envs.map((env) => {
        const moves = (hist.data?.history ?? []).filter((h) => h.env === env);
        const live = desc.data?.live.find((l) => l.env === env)?.version ?? null;
        return (
          <div class="env-history" data-env={env}>
            <h3>{env} · live {live ?? 'nothing'}</h3>
            <ol class="timeline" data-testid={`history-${env}`}>
              {moves.map((h) => (
                <li class={h.health === 'failed' ? 'failed' : ''}>
                  <strong>{h.version ?? 'nothing'}</strong> from {when(h.startedAt)} {h.endedAt ? `to ${when(h.endedAt)}` : '(live)'} · {h.reason} · by {h.by}
                  {h.health === 'failed' ? ' · marked failed' : ''}
                  {h.releaseId && <> · <a href={releaseHref(h.releaseId)}>release</a></>}
                </li>
              ))}
            </ol>
            {mayRollBack(env) && <Rollback model={model} env={env} live={live} history={moves} quarantined={(v) => Boolean(quarantineOf(v))} />}
          </div>
        );
      })}
      <h2>DORA, last 30 days</h2>
      {dora.data ? <DoraCharts dora={dora.data} /> : <Problem error={dora.error} />}
      <h2>Versions</h2>
      <div class="table-wrap">
        <table>
          <thead><tr><th scope="col">Version</th><th scope="col">Metrics</th><th scope="col">Lineage</th><th scope="col">Registered</th></tr></thead>
          <tbody>
            {desc.data?.versions.map((v) => {
              const q = quarantineOf(v.version);
              return (
                <tr data-version={v.version}>
                  <th scope="row">
                    {v.version}
                    {q && <> <span class="badge bad" data-testid="quarantined" title={`by ${q.by} since ${when(q.since)}`}>quarantined</span><p class="held">quarantined by {q.by} since {when(q.since)}: {q.reason}</p></>}
                  </th>
                  <td>{Object.entries(v.metrics ?? {}).map(([k, x]) => `${k} ${x}`).join(', ')}</td>
                  <td>{[v.parentVersion && `from ${v.parentVersion}`, v.codeCommit && `code ${v.codeCommit}`, v.dataSnapshot && `data ${v.dataSnapshot}`, v.promptVersion && `prompt ${v.promptVersion}`].filter(Boolean).join(' · ')}</td>
                  <td>{when(v.registeredAt)} by {v.registeredBy}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
