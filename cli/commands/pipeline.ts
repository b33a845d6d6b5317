/**
 * `slipway pipeline apply|list|show`: pipelines kept on the server, each
 * change a numbered revision. Direct mode (the registry database from the
 * config); the logic is the registry's PolicyStore, which the API's
 * /pipelines routes call too.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { PolicyStore } from '../../registry/policy';
import { MAX_PIPELINE_SOURCE_LENGTH } from '../../domain/pipeline';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerPipelineCommands adds the pipeline verbs. */
export function registerPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('pipelines kept on the server: applied, versioned, audited');

  pipeline
    .command('apply <file>')
    .description('check a pipeline file and make it the next revision of its pipeline (the same content again changes nothing)')
    .option('--as <user>', 'who applies it (default SLIPWAY_USER or the OS user), recorded as unverified')
    .addHelpText('after', '\nExample:\n  $ slipway pipeline apply pipelines/fraud.yaml\n  $ slipway model bind fraud --pipeline fraud')
    .action(
      verb(async (ctx, file: string, opts: { as?: string }) => {
        const source = await readPipelineFile(file);
        const applied = ctx.api
          ? (ctx.requester(opts.as), await ctx.api.request<Awaited<ReturnType<PolicyStore['applyPipeline']>>>('PUT', '/pipelines', { body: { source, file: path.basename(file) } }))
          : await (await ctx.policy()).applyPipeline(source, file, ctx.directActor(opts.as));
        ctx.print(applied, () =>
          applied.changed
            ? `applied ${applied.name} as revision ${applied.revision} (sha256 ${applied.hash.slice(0, 12)}…)`
            : `${applied.name} revision ${applied.revision} already has this content; nothing changed`,
        );
      }),
    );

  pipeline
    .command('list')
    .description('every pipeline on the server with its current revision')
    .action(
      verb(async (ctx) => {
        const pipelines = ctx.api
          ? (await ctx.api.request<{ pipelines: Awaited<ReturnType<PolicyStore['listPipelines']>> }>('GET', '/pipelines', { dateKeys: ['appliedAt'] })).pipelines
          : await (await ctx.policy()).listPipelines();
        ctx.print({ pipelines }, () =>
          pipelines.length === 0
            ? 'no pipelines on the server yet; add one with `slipway pipeline apply <file.yaml>`'
            : pipelines.map((p) => `${p.name.padEnd(24)} rev ${String(p.revision).padEnd(4)} ${p.hash.slice(0, 12)}  ${p.appliedAt.toISOString()}  by ${p.appliedBy}`).join('\n'),
        );
      }),
    );

  pipeline
    .command('show <name>')
    .description('a pipeline: its text, hash, revision, and who applied it when')
    .option('--revision <n>', 'an earlier revision instead of the current one')
    .action(
      verb(async (ctx, name: string, opts: { revision?: string }) => {
        let revision: number | undefined;
        if (opts.revision !== undefined) {
          revision = Number(opts.revision);
          if (!/^[1-9][0-9]*$/.test(opts.revision)) throw new CliError(ExitCode.badInput, `--revision must be a whole number >= 1, got "${opts.revision}"`);
        }
        const shown = ctx.api
          ? await ctx.api.request<Awaited<ReturnType<PolicyStore['showPipeline']>>>('GET', `/pipelines/${encodeURIComponent(name)}`, { query: { revision }, dateKeys: ['appliedAt'] })
          : await (await ctx.policy()).showPipeline(name, revision);
        ctx.print(shown, () =>
          [`pipeline ${shown.name} revision ${shown.revision}`, `sha256 ${shown.hash}`, `applied ${shown.appliedAt.toISOString()} by ${shown.appliedBy} from ${shown.file}`, '', shown.source.trimEnd()].join('\n'),
        );
      }),
    );
}

async function readPipelineFile(file: string): Promise<string> {
  try {
    // Checked before reading so a huge file is never loaded.
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new CliError(ExitCode.badInput, `${file} is not a file: give the pipeline's *.yaml file`);
    if (stat.size > MAX_PIPELINE_SOURCE_LENGTH) throw new CliError(ExitCode.badInput, `${file} is ${stat.size} bytes; a pipeline file may be at most ${MAX_PIPELINE_SOURCE_LENGTH}`);
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(ExitCode.badInput, `cannot read ${file}: ${(err as Error).message}`);
  }
}
