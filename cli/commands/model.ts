/**
 * `slipway model register|show|bind` and `slipway deployments`.
 */
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import type { PolicyStore } from '../../registry/policy';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerModelCommands adds the registry verbs. */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('model versions in the registry');

  model
    .command('register <model> <version>')
    .description('register an immutable model version (the same content again is a no-op)')
    .requiredOption('--artifact <uri>', 'where the weights are (s3://…, file://…, https://…)')
    .requiredOption('--sha256 <hex>', "the artifact's sha256 digest (64 hex characters)")
    .option('--size <bytes>', 'artifact size in bytes')
    .option('--format <format>', 'artifact format (onnx, safetensors, …)')
    .option('--metrics <file.json>', 'a JSON file of metric name -> number')
    .option('--code-commit <sha>', 'the code commit the version was built from')
    .option('--code-committed-at <time>', 'when that commit was made (ISO-8601), for lead time')
    .option('--data-snapshot <id>', 'the training data snapshot')
    .option('--prompt-version <v>', 'the prompt version shipped with it')
    .option('--parent <version>', 'the version this one was derived from')
    .option('--tag <key=value...>', 'tags (repeatable)')
    .option('--as <user>', 'who registers it (default SLIPWAY_USER or the OS user)')
    .addHelpText('after', `
Example:
  $ slipway model register fraud 1.4.0 --artifact s3://models/fraud/1.4.0.onnx \\
      --sha256 $(sha256sum model.onnx | cut -d' ' -f1) --metrics metrics.json --code-commit $GITHUB_SHA`)
    .action(
      verb(async (ctx, name: string, version: string, opts: Record<string, string | string[] | undefined>) => {
        const metrics = opts.metrics ? await readMetrics(String(opts.metrics)) : undefined;
        const tags = Object.fromEntries(((opts.tag as string[] | undefined) ?? []).map((t) => {
          const i = t.indexOf('=');
          if (i <= 0) throw new CliError(ExitCode.badInput, `--tag "${t}" must be key=value`);
          return [t.slice(0, i), t.slice(i + 1)];
        }));
        const size = opts.size === undefined ? undefined : Number(opts.size);
        if (size !== undefined && !Number.isInteger(size)) throw new CliError(ExitCode.badInput, `--size must be a whole number of bytes, got "${opts.size}"`);
        const by = ctx.requester(opts.as as string | undefined);
        const { version: stored, created } = await ctx.backend().registerVersion(
          name,
          {
            version,
            artifact: { uri: opts.artifact, sha256: opts.sha256, ...(size === undefined ? {} : { sizeBytes: size }), ...(opts.format ? { format: opts.format } : {}) },
            ...(opts.codeCommit ? { codeCommit: opts.codeCommit } : {}),
            ...(opts.codeCommittedAt ? { codeCommittedAt: opts.codeCommittedAt } : {}),
            ...(opts.dataSnapshot ? { dataSnapshot: opts.dataSnapshot } : {}),
            ...(opts.promptVersion ? { promptVersion: opts.promptVersion } : {}),
            ...(opts.parent ? { parentVersion: opts.parent } : {}),
            ...(metrics ? { metrics } : {}),
            ...(Object.keys(tags).length > 0 ? { tags } : {}),
          },
          by,
        );
        ctx.print({ created, version: stored }, () =>
          created ? `registered ${name}@${version} (sha256 ${stored.artifact.sha256.slice(0, 12)}…)` : `${name}@${version} is already registered with this content; nothing changed`,
        );
      }),
    );

  model
    .command('show <model>')
    .description('versions, what is live in each environment, and aliases')
    .action(
      verb(async (ctx, name: string) => {
        const described = await ctx.backend().describeModel(name);
        ctx.print(described, () => {
          const lines = [`model ${name}`, '', 'live:'];
          if (described.live.length === 0) lines.push('  (nothing live yet)');
          for (const p of described.live) lines.push(`  ${p.env.padEnd(12)} ${p.version ?? '(none)'}  since ${p.startedAt.toISOString()}${p.previousVersion ? `  (before: ${p.previousVersion})` : ''}`);
          lines.push('', 'versions (newest first):');
          for (const v of described.versions) {
            const metrics = Object.entries(v.metrics ?? {}).map(([k, n]) => `${k}=${n}`).join(' ');
            lines.push(`  ${v.version.padEnd(12)} ${v.registeredAt.toISOString()}  by ${v.registeredBy}  ${metrics}`);
          }
          if (described.aliases.length > 0) {
            lines.push('', 'aliases:');
            for (const a of described.aliases) lines.push(`  ${a.alias.padEnd(12)} ${a.version}${a.protected ? '  (protected)' : ''}`);
          }
          return lines.join('\n');
        });
      }),
    );

  model
    .command('bind <model>')
    .description("make a model's releases follow a pipeline on the server (its current revision at each start)")
    .requiredOption('--pipeline <name>', 'a pipeline applied with `slipway pipeline apply`')
    .option('--as <user>', 'who binds it (default SLIPWAY_USER or the OS user), recorded as unverified')
    .addHelpText('after', '\nExample:\n  $ slipway pipeline apply pipelines/fraud.yaml\n  $ slipway model bind fraud --pipeline fraud')
    .action(
      verb(async (ctx, name: string, opts: { pipeline: string; as?: string }) => {
        const { binding, changed } = ctx.api
          ? (ctx.requester(opts.as), await ctx.api.request<Awaited<ReturnType<PolicyStore['bindModel']>>>('PUT', `/models/${encodeURIComponent(name)}/binding`, { body: { pipeline: opts.pipeline } }))
          : await (await ctx.policy()).bindModel(name, opts.pipeline, ctx.directActor(opts.as));
        ctx.print({ changed, binding }, () =>
          changed
            ? `${name} now follows pipeline ${binding.pipeline}${binding.previousPipeline ? ` (was ${binding.previousPipeline})` : ''}`
            : `${name} already follows pipeline ${binding.pipeline}; nothing changed`,
        );
      }),
    );

  program
    .command('deployments <model>')
    .description('which version is live in each environment, and the deployment history')
    .option('--env <env>', 'only this environment')
    .option('--at <time>', 'what was live at this moment (ISO-8601), per environment')
    .option('--limit <n>', 'history entries to show', '20')
    .addHelpText('after', '\nExamples:\n  $ slipway deployments fraud\n  $ slipway deployments fraud --env prod --at 2026-11-20T10:00:00Z')
    .action(
      verb(async (ctx, name: string, opts: { env?: string; at?: string; limit: string }) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(ExitCode.badInput, '--limit must be a whole number from 1 to 1000');
        const backend = ctx.backend();
        if (opts.at !== undefined) {
          const at = new Date(opts.at);
          if (Number.isNaN(at.getTime())) throw new CliError(ExitCode.badInput, `--at must be an ISO-8601 time such as 2026-11-20T10:00:00Z, got "${opts.at}"`);
          const then = await backend.liveAt(name, at, opts.env);
          ctx.print(then, () => [`live at ${then.at}:`, ...then.environments.map((e) => `  ${e.env.padEnd(12)} ${e.version ?? '(nothing)'}`)].join('\n'));
          return;
        }
        const { live, history } = await backend.deployments(name, { env: opts.env, limit });
        ctx.print({ model: name, live, history }, () => {
          const lines = ['live:'];
          if (live.length === 0) lines.push('  (nothing live yet)');
          for (const p of live) lines.push(`  ${p.env.padEnd(12)} ${p.version ?? '(none)'}  since ${p.startedAt.toISOString()}`);
          lines.push('', 'history (newest first):');
          for (const d of history) {
            lines.push(`  ${d.env.padEnd(12)} ${(d.version ?? "(none)").padEnd(12)} ${d.startedAt.toISOString()} → ${d.endedAt?.toISOString() ?? 'now'}  ${d.health === 'failed' ? 'FAILED ' : ''}${d.reason}`);
          }
          return lines.join('\n');
        });
      }),
    );
}

async function readMetrics(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(ExitCode.badInput, `--metrics: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(ExitCode.badInput, `--metrics: ${file} is not valid JSON (${(err as Error).message}); expected {"accuracy": 0.93, …}`);
  }
}
