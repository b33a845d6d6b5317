/**
 * `slipway release start|status|list`, `approve`, `reject`, `rollback`.
 */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../domain/duration';
import { exitCodeForStatus, isReleaseStatus, isTerminal } from '../../domain/outcome';
import { configuredKeys } from '../../lib/keys';
import { buildEvidence } from '../../registry/evidence';
import type { SlipwayBackend } from '../backend';
import type { ReleaseState } from '../../workflows/release/api';
import { CliError, type CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { printErr, printJson, printOut, safeForTerminal } from '../terminal';
import { verb } from '../verb';

/** registerReleaseCommands adds the release, approval and rollback verbs. */
export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('start, follow and list releases');

  release
    .command('start <model> <version>')
    .description('start promoting a registered version through a pipeline (a running release of it is returned as is)')
    .option('--pipeline <name>', 'bind the model to this pipeline first (from SLIPWAY_PIPELINES, the built-in "default", or the server); without it, the model\'s binding, or "default" for a model never bound')
    .option('--as <user>', 'the requester, who may not approve their own release (default SLIPWAY_USER or the OS user)')
    .option('--wait', 'follow the release to its end; exit 0 if it succeeded, 1 if not')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 4), e.g. 30m', '24h')
    .option('--hotfix', 'a hotfix: may pass a stopped line with a break-glass approval (counts only through the API, which signs it)')
    .addHelpText('after', '\nExamples:\n  $ slipway release start fraud 1.4.0 --wait\n  $ slipway release start fraud 1.4.0 --pipeline fast --as ci-bot --json')
    .action(
      verb(async (ctx, model: string, version: string, opts: { pipeline?: string; as?: string; wait?: boolean; timeout: string; hotfix?: boolean }) => {
        const timeoutMs = parseTimeout(opts.timeout);
        const backend = ctx.backend();
        const started = await backend.startRelease({ model, version, pipeline: opts.pipeline, by: ctx.requester(opts.as), ...(opts.hotfix ? { hotfix: true } : {}) });
        if (!opts.wait) {
          ctx.print(started, () => `${started.alreadyRunning ? 'already running' : 'started'}: ${started.releaseId} (pipeline ${started.pipeline})\nfollow it: slipway release status ${started.releaseId} --watch`);
          return;
        }
        if (!ctx.json) printOut(`started ${started.releaseId} (pipeline ${started.pipeline})`);
        const final = await follow(ctx, backend, started.releaseId, timeoutMs);
        if (ctx.json) ctx.print({ ...started, status: final.status, stages: final.stages, outcome: final.outcome, state: final }, () => '');
        return exitCodeForStatus(final.status);
      }),
    );

  release
    .command('retry <release-id>')
    .description('start a new run of a release that ended failed, rejected, approval_expired or cancelled, keeping the stages that passed if the version, pipeline and what is live there are unchanged')
    .option('--from <env>', 'start at this stage (at or before the first stage that must run again)')
    .option('--as <user>', 'the requester (default SLIPWAY_USER or the OS user)')
    .option('--wait', 'follow the new run to its end; exit 0 if it succeeded, 1 if not')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 4), e.g. 30m', '24h')
    .addHelpText('after', '\nExamples:\n  $ slipway release retry release-fraud-1.4.0\n  $ slipway release retry release-fraud-1.4.0 --from staging --wait')
    .action(
      verb(async (ctx, releaseId: string, opts: { from?: string; as?: string; wait?: boolean; timeout: string }) => {
        const timeoutMs = parseTimeout(opts.timeout);
        const backend = ctx.backend();
        const started = await backend.retryRelease({ releaseId, from: opts.from, by: ctx.requester(opts.as) });
        const r = started.retryOf;
        const text = () =>
          [
            `retrying ${started.releaseId}: run ${started.runId} retries run ${r.runId} (${r.status}${r.stage ? ` at ${r.stage}` : ''})`,
            `  kept: ${started.carriedOver.join(', ') || '(nothing)'}; starting at ${r.startFrom ?? '(nothing left to run)'}: ${r.reason}`,
            ...r.changes.map((c) => `  changed: ${c}`),
            ...(started.refused ? [`  refused by the worker: ${started.refused}`] : []),
            ...(started.decidedBy === 'client' ? ['  (planned here; no worker answered yet: `slipway release status` shows what it kept)'] : []),
            `follow it: slipway release status ${started.releaseId} --watch`,
          ].join('\n');
        if (!opts.wait) {
          ctx.print(started, text);
          return;
        }
        if (!ctx.json) process.stdout.write(`${text()}\n`);
        const final = await follow(ctx, backend, started.releaseId, timeoutMs);
        if (ctx.json) ctx.print({ ...started, status: final.status, stages: final.stages, outcome: final.outcome, state: final }, () => '');
        return exitCodeForStatus(final.status);
      }),
    );

  release
    .command('status <release-id>')
    .description('where a release stands: stages, gates, approvals, outcome')
    .option('--watch', 'follow it until it ends')
    .option('--timeout <duration>', 'with --watch: give up after this long (exit 4)', '24h')
    .action(
      verb(async (ctx, releaseId: string, opts: { watch?: boolean; timeout: string }) => {
        const timeoutMs = parseTimeout(opts.timeout);
        const backend = ctx.backend();
        if (opts.watch) {
          const final = await follow(ctx, backend, releaseId, timeoutMs);
          if (ctx.json) ctx.print(final, () => '');
          return exitCodeForStatus(final.status);
        }
        const state = await backend.releaseStatus(releaseId);
        ctx.print(state, () => describe(state));
      }),
    );

  release
    .command('list')
    .description('recorded releases, newest first')
    .option('--model <model>', 'only this model')
    .option('--status <status>', 'only this status (e.g. awaiting_approval)')
    .option('--limit <n>', 'how many', '20')
    .action(
      verb(async (ctx, opts: { model?: string; status?: string; limit: string }) => {
        if (opts.status !== undefined && !isReleaseStatus(opts.status)) throw new CliError(ExitCode.badInput, `--status "${opts.status}" is not a release status (e.g. running, awaiting_approval, succeeded, rolled_back)`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError(ExitCode.badInput, '--limit must be a whole number from 1 to 500');
        const releases = await ctx.backend().listReleases({ model: opts.model, status: opts.status, limit });
        ctx.print({ releases }, () =>
          releases.length === 0 ? '(no releases)' : releases.map((r) => `${r.releaseId.padEnd(36)} ${r.status.padEnd(18)} ${r.currentStage ?? '-'}  ${r.summary}`).join('\n'),
        );
      }),
    );

  release
    .command('evidence <release-id>')
    .description('print the signed evidence bundle of a release (schema slipway.evidence/v1, see docs/evidence.md)')
    .action(
      verb(async (ctx, releaseId: string) => {
        let bundle: Awaited<ReturnType<typeof buildEvidence>>;
        if (ctx.api) {
          bundle = await ctx.api.request('GET', `/releases/${encodeURIComponent(releaseId)}/evidence`);
        } else {
          let keys;
          try {
            keys = configuredKeys(ctx.config);
          } catch (err) {
            throw new CliError(ExitCode.badInput, (err as Error).message);
          }
          const service = await ctx.releases();
          const state = await service.status(releaseId);
          bundle = await buildEvidence(service.registry, state, { signer: keys.api ?? keys.audit });
        }
        if (!bundle.signature) printErr('slipway: the evidence bundle is unsigned (signature: null); set SLIPWAY_API_SIGNING_KEY to sign it');
        // The bundle is a JSON document either way: people save it, tools read it.
        printJson(bundle);
      }),
    );

  program
    .command('approve <release-id>')
    .description('approve a stage of a release (sent as a validated Update; answers with the quorum)')
    .requiredOption('--stage <env>', 'the stage (environment) to approve')
    .option('--as <user>', 'the approver (default SLIPWAY_USER or the OS user)')
    .option('--comment <text>', 'why')
    .option('--break-glass', "let a hotfix pass a stopped line at this stage (the pipeline's breakGlass approvers, through the API only)")
    .addHelpText('after', '\nExample:\n  $ slipway approve release-fraud-1.4.0 --stage prod --as alice --comment "eval looks good"')
    .action(
      verb(async (ctx, releaseId: string, opts: { stage: string; as?: string; comment?: string; breakGlass?: boolean }) => {
        const result = await ctx.backend().approve({ releaseId, stage: opts.stage, comment: opts.comment, by: ctx.requester(opts.as), ...(opts.breakGlass ? { breakGlass: true } : {}) });
        ctx.print(result, () =>
          result.outcome === 'counted'
            ? `approval counted: ${result.quorum?.approvedBy.length} of ${result.quorum?.required} for ${result.stage}${result.quorum?.met ? ' — quorum met' : ''}`
            : `approval ${result.outcome}: ${result.reason}`,
        );
        return result.outcome === 'refused' ? ExitCode.badInput : ExitCode.ok;
      }),
    );

  program
    .command('reject <release-id>')
    .description('reject a stage of a release; the release ends rejected and undoes its deploys')
    .requiredOption('--stage <env>', 'the stage (environment) to reject')
    .requiredOption('--reason <text>', 'why (recorded in the release and the audit log)')
    .option('--as <user>', 'the approver rejecting it (default SLIPWAY_USER or the OS user)')
    .action(
      verb(async (ctx, releaseId: string, opts: { stage: string; as?: string; reason: string }) => {
        const { rejectedBy } = await ctx.backend().reject({ releaseId, stage: opts.stage, reason: opts.reason, by: ctx.requester(opts.as) });
        ctx.print({ releaseId, stage: opts.stage, rejectedBy, sent: true }, () => `rejection sent for ${releaseId} at ${opts.stage}; follow it with slipway release status ${releaseId}`);
      }),
    );

  program
    .command('rollback <model>')
    .description('restore the last known good version (or --to) in one environment, through the same lock and target')
    .requiredOption('--env <env>', 'the environment to roll back')
    .option('--to <version>', 'the version to restore (default: last known good)')
    .option('--as <user>', 'who asks (default SLIPWAY_USER or the OS user)')
    .option('--reason <text>', 'why')
    .option('--wait', 'wait for the rollback to finish')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 4), e.g. 10m', '24h')
    .action(
      verb(async (ctx, model: string, opts: { env: string; to?: string; as?: string; reason?: string; wait?: boolean; timeout: string }) => {
        const timeoutMs = parseTimeout(opts.timeout);
        const started = await ctx.backend().rollback({ model, env: opts.env, toVersion: opts.to, reason: opts.reason, by: ctx.requester(opts.as) });
        const { workflowId } = started;
        if (!opts.wait) {
          ctx.print({ workflowId }, () => `rollback started: ${workflowId}`);
          return;
        }
        // Aborting cancels the wait's long-poll too, so the process ends as soon as we give up.
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), Math.min(timeoutMs, 2 ** 31 - 1));
        try {
          const done = await started.wait(abort.signal);
          ctx.print({ workflowId, ...done }, () => (done.status === 'noop' ? `${model}@${opts.env} already runs ${done.to}; nothing to do` : `${model}@${opts.env}: ${done.from ?? '(nothing)'} → ${done.to}`));
        } catch (err) {
          if (abort.signal.aborted) throw new CliError(ExitCode.timedOut, `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${workflowId}; it goes on in the background`);
          // The API being unreachable or refusing keeps its own exit code; only the rollback's own failure is exit 1.
          if (err instanceof CliError) throw err;
          const cause = (err as { cause?: { message?: string } }).cause?.message;
          throw new CliError(ExitCode.releaseFailed, `rollback failed: ${cause ?? (err as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
}

function parseTimeout(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(ExitCode.badInput, `--timeout: ${(err as Error).message}`);
  }
}

/** follow polls the status until the release ends, drawing progress for people and plain lines for CI. */
async function follow(ctx: CliContext, backend: SlipwayBackend, releaseId: string, timeoutMs: number): Promise<ReleaseState> {
  const deadline = Date.now() + timeoutMs;
  const tty = process.stdout.isTTY && !ctx.json;
  let last = '';
  for (;;) {
    const state = await backend.releaseStatus(releaseId);
    // The line holds gate messages and names from the server; only the CLI's own \r and erase-line may drive the terminal.
    const line = safeForTerminal(progressLine(state));
    if (!ctx.json && line !== last) {
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    }
    if (isTerminal(state.status)) {
      if (tty) process.stdout.write('\n');
      if (!ctx.json) printOut(describe(state));
      return state;
    }
    if (Date.now() > deadline) throw new CliError(ExitCode.timedOut, `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${releaseId} (still ${state.status}: ${state.summary})`);
    await sleep(500);
  }
}

function progressLine(state: ReleaseState): string {
  const marks: Record<string, string> = { succeeded: '✔', failed: '✖', rolled_back: '↺', skipped: '-', pending: '·' };
  const stages = state.stages.map((s) => `${marks[s.status] ?? '▶'} ${s.env}${s.status in marks ? '' : ` (${s.status})`}`).join('  ');
  return `[${state.status}] ${stages} — ${state.summary}`;
}

function describe(state: ReleaseState): string {
  const lines = [
    `${state.releaseId}: ${state.status}`,
    `  ${state.summary}`,
    `  model ${state.model}@${state.version}, pipeline ${state.pipeline} (${state.pipelineHash.slice(0, 12)}), requested by ${state.requestedBy}`,
  ];
  if (state.retryOf) lines.push(`  retry of run ${state.retryOf.runId} (${state.retryOf.status}), started at ${state.retryOf.startFrom ?? '(nothing left)'} (${state.retryOf.reason})${state.retryOf.changes.length ? `; changed: ${state.retryOf.changes.join('; ')}` : ''}`);
  for (const s of state.stages) {
    lines.push(`  ${s.env.padEnd(10)} ${s.status}${s.carriedOver ? ` (kept from run ${s.carriedOver.fromRunId})` : ''}${s.error ? ` — ${s.error}` : ''}`);
    for (const g of s.gates) lines.push(`      gate ${g.name}: ${g.passed ? 'passed' : 'FAILED'}${g.error ? ` (${g.error})` : ''}`);
    if (s.quorum) lines.push(`      approvals ${s.quorum.approvedBy.length}/${s.quorum.required}${s.quorum.approvedBy.length ? ` by ${s.quorum.approvedBy.join(', ')}` : ''}`);
  }
  for (const c of state.compensations.filter((x) => x.status !== 'pending')) lines.push(`  undo ${c.env}: ${c.status}${c.restoredTo ? ` → ${c.restoredTo}` : ''}${c.error ? ` (${c.error})` : ''}`);
  for (const m of state.ignoredMessages) lines.push(`  ignored ${m.kind} via ${m.channel}: ${m.reason}`);
  return lines.join('\n');
}
