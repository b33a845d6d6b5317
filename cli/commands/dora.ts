/**
 * `slipway dora`: the four DORA keys per model and environment over a
 * look-back period, each with its DORA 2023 performance band.
 */
import type { Command } from 'commander';
import { ALL_ENVIRONMENTS, DEFAULT_DORA_SINCE, DORA_SOURCE, doraPeriod, type DoraBand, type DoraMetrics, type DoraReport } from '../../domain/dora';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerDoraCommand adds `slipway dora [--model <m>] [--env <env>] [--since <duration>] [--all-envs]`. */
export function registerDoraCommand(program: Command): void {
  program
    .command('dora')
    .description('DORA metrics per model and environment: deployment frequency, lead time, change failure rate, recovery time')
    .option('--model <model>', 'only this model (default: every model)')
    .option('--env <env>', 'only this environment (default: every environment)')
    .option('--since <duration>', 'look back this far from now, e.g. 7d, 30d, 90d', DEFAULT_DORA_SINCE)
    .option('--all-envs', "also show each model pooled over all its environments (env '*')")
    .addHelpText('after', `
Lead time is measured from a version's --code-committed-at (see \`slipway model register\`).
Bands follow the ${DORA_SOURCE.report} by ${DORA_SOURCE.publisher}; --json includes the exact boundaries.

Examples:
  $ slipway dora
  $ slipway dora --model fraud --env prod --since 90d
  $ slipway dora --model fraud --all-envs --json`)
    .action(
      verb(async (ctx, opts: { model?: string; env?: string; since: string; allEnvs?: boolean }) => {
        try {
          doraPeriod(new Date(), opts.since);
        } catch (err) {
          throw new CliError(ExitCode.badInput, `--since: ${(err as Error).message}`);
        }
        const report = await ctx.backend().dora({ model: opts.model, env: opts.env, since: opts.since, allEnvs: Boolean(opts.allEnvs) });
        ctx.print({ since: opts.since, ...report }, () => formatDoraReport(report, opts.since));
      }),
    );
}

/** formatDoraReport renders a DoraReport as the human table `slipway dora` prints. */
export function formatDoraReport(report: DoraReport, since: string): string {
  const lines = [`DORA metrics for the last ${since}: ${report.period.from} → ${report.period.to}`, ''];
  if (report.metrics.length === 0) {
    lines.push('  (no deployments recorded for this selection)');
  } else {
    const header = ['MODEL', 'ENV', 'DEPLOYS', 'RESTORES', 'PER DAY', 'LEAD TIME p50 / p90', 'CHANGE FAILURE RATE', 'RECOVERY p50 / p90'];
    const rows = report.metrics.map((m) => [
      m.model,
      m.env === ALL_ENVIRONMENTS ? '* (all)' : m.env,
      String(m.deployments),
      String(m.restores),
      withBand(m.deploymentFrequency.perDay.toFixed(2), m.deploymentFrequency.band),
      withBand(m.leadTime.medianMs === null ? '—' : `${shortDuration(m.leadTime.medianMs)} / ${shortDuration(m.leadTime.p90Ms!)}`, m.leadTime.band),
      withBand(m.changeFailureRate.rate === null ? '—' : `${m.changeFailureRate.failed}/${m.deployments} ${(m.changeFailureRate.rate * 100).toFixed(1)}%`, m.changeFailureRate.band),
      withBand(m.recoveryTime.medianMs === null ? '—' : `${shortDuration(m.recoveryTime.medianMs)} / ${shortDuration(m.recoveryTime.p90Ms!)}`, m.recoveryTime.band),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    lines.push(render(header), ...rows.map(render));
    // The pooled rows only repeat their environments' notes.
    const notes = report.metrics.filter((m) => m.env !== ALL_ENVIRONMENTS).flatMap(notesFor);
    if (notes.length > 0) lines.push('', ...notes);
  }
  lines.push(
    '',
    'Deploys are changes shipped; restores (rollbacks, compensations) are not counted as deploys.',
    `Bands: ${DORA_SOURCE.report}, ${DORA_SOURCE.publisher} (${DORA_SOURCE.url}); --json shows the boundaries.`,
  );
  return lines.join('\n');
}

function notesFor(m: DoraMetrics): string[] {
  const where = `${m.model}/${m.env}`;
  const notes: string[] = [];
  if (m.leadTime.withoutCommitTime > 0) {
    notes.push(`${where}: ${m.leadTime.withoutCommitTime} deployment(s) had no commit time and give no lead time (register with --code-committed-at)`);
  }
  if (m.leadTime.commitAfterDeploy > 0) notes.push(`${where}: ${m.leadTime.commitAfterDeploy} deployment(s) started before their recorded commit time; left out of lead time`);
  if (m.recoveryTime.unrecovered > 0) notes.push(`${where}: ${m.recoveryTime.unrecovered} failed deployment(s) not restored yet`);
  return notes;
}

function withBand(value: string, band: DoraBand | null): string {
  return band === null ? value : `${value} ${band}`;
}

/** shortDuration writes a duration compactly for tables, e.g. 45s, 30m, 2h15m, 3d4h (smaller units truncated). */
export function shortDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min}m`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h}h` : `${h}h${min % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}
