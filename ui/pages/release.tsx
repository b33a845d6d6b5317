/** A release's timeline: each stage's lock, freeze, gates, approvals, canary, bake and compensations; polled every second. */
import { useState } from 'preact/hooks';
import { ApiError, download } from '../api';
import { usePoll } from '../hooks';
import { mayRetry, modelHref, stopLine, temporalWorkflowUrl, when, words } from '../format';
import type { Me, Release, Stage } from '../types';
import { Decide } from './decide';
import { Retry } from './retry';
import { Problem, Status } from './common';

function StageView({ r, stage, me }: { r: Release; stage: Stage; me: Me | undefined }) {
  const mayDecide = me && (me.approves.includes('*') || me.approves.includes(stage.env));
  const q = stage.quorum;
  const held = r.waitingFor && r.waitingFor.env === stage.env ? r.waitingFor : null;
  const breakGlass = (r.breakGlass ?? []).filter((b) => b.stage === stage.env);
  return (
    <li class={`stage ${stage.status}`} data-stage={stage.env} data-status={stage.status}>
      <h3>
        {stage.env} <Status status={stage.status} />
        {stage.carriedOver && <> <span class="badge idle">carried over</span></>}
      </h3>
      {stage.carriedOver && (
        <p class="carried" data-testid="carried-over">
          Kept from run {stage.carriedOver.fromRunId}, because {stage.carriedOver.reason}
        </p>
      )}
      {(held || stage.status === 'line_stopped') && (
        <p class="held" data-testid="line-held">
          Held by a stopped line{held ? `: ${stopLine(held)}` : ''}. It carries on from here once the line is resumed.
        </p>
      )}
      {breakGlass.length > 0 && (
        <div class="break-glass" data-testid="break-glass">
          <h4>Break-glass approvals</h4>
          <ul>
            {breakGlass.map((b) => (
              <li>
                {b.approver} · {when(b.at)}{b.comment ? ` · “${b.comment}”` : ''}
                {b.usedAt ? ` · let the hotfix pass the stop on ${b.passedStop ?? 'this stage'} at ${when(b.usedAt)}` : ' · not used yet'}
              </li>
            ))}
          </ul>
        </div>
      )}
      <p class="times">
        {stage.startedAt ? `started ${when(stage.startedAt)}` : 'not started'}
        {stage.endedAt ? ` · ended ${when(stage.endedAt)}` : ''}
      </p>
      {stage.status === 'waiting_for_lock' && <p>Waiting for the {stage.env} lock: another release of this model holds it ({r.summary}).</p>}
      {stage.status === 'frozen' && <p>Waiting out a freeze window on {stage.env}.</p>}
      {stage.gates.length > 0 && (
        <table class="gates">
          <caption>Gates</caption>
          <thead><tr><th scope="col">Gate</th><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Threshold</th><th scope="col">Result</th></tr></thead>
          <tbody>
            {stage.gates.flatMap((g) =>
              (g.checks.length > 0 ? g.checks : [null]).map((c) => (
                <tr>
                  <td>{g.name} ({g.type})</td>
                  <td>{c?.metric ?? ''}</td>
                  <td>{c?.value ?? ''}</td>
                  <td>{c?.threshold ?? ''}</td>
                  <td>{c ? (c.passed ? 'passed' : `failed: ${c.reason}`) : g.passed ? 'passed' : `failed${g.error ? `: ${g.error}` : ''}`}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
      {q && (
        <div class="approvals">
          <h4>Approvals: {q.approvedBy.length} of {q.required}{q.met ? ' (quorum met)' : ''}</h4>
          {stage.approvalDeadline && !q.met && <p>Expires {when(stage.approvalDeadline)}</p>}
          <ul>
            {(q.approvals ?? q.approvedBy.map((a) => ({ approver: a, channel: null, verified: false, at: '' }))).map((a) => (
              <li>
                {a.approver} · {when(a.at)} · via {a.channel ?? 'unknown'} · <strong>{a.verified ? 'verified' : 'not verified'}</strong>
                {'comment' in a && a.comment ? ` · “${a.comment}”` : ''}
              </li>
            ))}
            {q.refused.map((x) => <li class="refused">refused {x.approver} ({when(x.at)}): {x.reason}</li>)}
          </ul>
        </div>
      )}
      {stage.rejectedBy && <p class="error">Rejected by {stage.rejectedBy.approver} ({stage.rejectedBy.verified ? 'verified' : 'not verified'}, via {stage.rejectedBy.channel ?? 'unknown'}) {when(stage.rejectedBy.at)}: {stage.rejectedBy.reason}</p>}
      {stage.status === 'awaiting_approval' && mayDecide && <Decide releaseId={r.releaseId} stage={stage.env} />}
      {stage.canaryWeight !== null && <p>Canary weight: {stage.canaryWeight}%</p>}
      {stage.deployedVersion && <p>Deployed {stage.deployedVersion}{stage.previousVersion ? ` (was ${stage.previousVersion})` : ''}</p>}
      {stage.healthChecks.length > 0 && (
        <details>
          <summary>Health checks ({stage.healthChecks.filter((h) => h.healthy).length}/{stage.healthChecks.length} healthy)</summary>
          <ul>{stage.healthChecks.map((h) => <li>{when(h.at)} · {h.healthy ? 'healthy' : 'unhealthy'} · {h.detail}</li>)}</ul>
        </details>
      )}
      {stage.error && <p class="error">{stage.error}</p>}
    </li>
  );
}

/** ReleasePage renders GET /releases/:id as a timeline. */
export function ReleasePage({ id, me }: { id: string; me: Me | undefined }) {
  const rel = usePoll<Release>(`/releases/${encodeURIComponent(id)}`);
  const [evidenceError, setEvidenceError] = useState('');
  const r = rel.data;
  const temporalUrl = me ? temporalWorkflowUrl(me.temporalUiUrl, me.namespace, id) : null;
  const earlierRunUrl = me && r?.retryOf ? temporalWorkflowUrl(me.temporalUiUrl, me.namespace, id, r.retryOf.runId) : null;
  return (
    <section aria-labelledby="release-title">
      <h1 id="release-title">{id}</h1>
      <Problem error={rel.error} />
      {r && (
        <>
          <p class="summary" data-testid="release-status">
            <Status status={r.status} /> {r.hotfix && <><span class="badge hotfix" data-testid="hotfix">hotfix</span> </>}{r.summary}
          </p>
          {me?.releases && <Retry releaseId={r.releaseId} offer={mayRetry(r.status, me)} onDone={rel.refresh} />}
          <dl class="facts">
            <dt>Model</dt><dd><a href={modelHref(r.model)}>{r.model}</a> {r.version}</dd>
            <dt>Pipeline</dt><dd>{r.pipeline}{r.pipelineRevision ? ` rev ${r.pipelineRevision}` : ''}</dd>
            <dt>Requested by</dt><dd>{r.requester?.user ?? r.requestedBy} ({r.requester?.verified ? `verified${r.requester.via ? ` by ${r.requester.via}` : ''}` : 'not verified'})</dd>
            <dt>Started</dt><dd>{when(r.startedAt)}</dd>
            {r.endedAt && <><dt>Ended</dt><dd>{when(r.endedAt)}{r.outcome ? ` · ${words(r.outcome.status)}: ${r.outcome.reason}` : ''}</dd></>}
            {r.traceId && <><dt>Trace</dt><dd>{r.traceId}</dd></>}
            {r.retryOf && (
              <>
                <dt>Retry of</dt>
                <dd data-testid="retry-of">
                  {earlierRunUrl ? <a href={earlierRunUrl} target="_blank" rel="noopener noreferrer">run {r.retryOf.runId}</a> : `run ${r.retryOf.runId}`}
                  {` (started ${when(r.retryOf.startedAt)}, ended ${words(r.retryOf.status)}${r.retryOf.stage ? ` at ${r.retryOf.stage}` : ''})`}
                  {` · ${r.retryOf.reason}`}
                  {r.retryOf.changes.length > 0 ? ` · changed since: ${r.retryOf.changes.join('; ')}` : ''}
                </dd>
              </>
            )}
          </dl>
          <p class="links">
            {temporalUrl && <a href={temporalUrl} target="_blank" rel="noopener noreferrer">Open in the Temporal Web UI</a>}{' '}
            <button type="button" class="link" onClick={() => download(`/releases/${encodeURIComponent(id)}/evidence`, `${id}.evidence.json`).catch((e: unknown) => setEvidenceError(e instanceof ApiError ? e.message : String(e)))}>
              Download evidence bundle
            </button>
          </p>
          {evidenceError && <p class="error" role="alert">{evidenceError}</p>}
          <h2>Stages</h2>
          <ol class="timeline">{r.stages.map((s) => <StageView r={r} stage={s} me={me} />)}</ol>
          {/* The undo stack is registered before each deploy; an entry matters once it ran, or while the release rolls back. */}
          {r.compensations.some((c) => c.status !== 'pending' || r.status === 'rolling_back') && (
            <>
              <h2>Compensations</h2>
              <ul>{r.compensations.filter((c) => c.status !== 'pending' || r.status === 'rolling_back').map((c) => <li>{c.env}: undo {c.version} · {words(c.status)} after {c.attempts} attempt(s){c.restoredTo ? ` · restored ${c.restoredTo}` : ''}{c.error ? ` · ${c.error}` : ''}</li>)}</ul>
            </>
          )}
          {r.ignoredMessages.length > 0 && (
            <>
              <h2>Ignored messages</h2>
              <ul>{r.ignoredMessages.map((m) => <li>{when(m.at)} · {m.kind} via {m.channel}: {m.reason}</li>)}</ul>
            </>
          )}
        </>
      )}
    </section>
  );
}
