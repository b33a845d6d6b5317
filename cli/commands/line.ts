/**
 * `slipway stop|resume` (stop the line for one environment or all) and
 * `slipway model quarantine|unquarantine`. Through the API they act as the
 * token's user and need its grants; directly they are recorded as unverified.
 */
import type { Command } from 'commander';
import { scopeLabel } from '../../domain/line-controls';
import { verb } from '../verb';

interface ScopeOptions {
  env?: string;
  all?: boolean;
  reason?: string;
  as?: string;
}

/** registerLineCommands adds stop, resume and the quarantine verbs of `model` (registered after it). */
export function registerLineCommands(program: Command): void {
  program
    .command('stop')
    .description('stop the line: releases finish the step they are in, then wait before their next deploy in that scope')
    .option('--env <env>', 'the environment to stop')
    .option('--all', 'stop every environment')
    .requiredOption('--reason <text>', 'why (recorded in the audit log and shown on every held release)')
    .option('--as <user>', 'who stops it (default SLIPWAY_USER or the OS user; through the API, the token)')
    .addHelpText('after', '\nExamples:\n  $ slipway stop --env prod --reason "incident 42: latency"\n  $ slipway stop --all --reason "region outage"')
    .action(
      verb(async (ctx, opts: ScopeOptions) => {
        const { stop, changed } = await ctx.backend().stopLine({ scope: { env: opts.env, all: opts.all }, reason: opts.reason ?? '', by: ctx.requester(opts.as) });
        ctx.print({ stop, changed }, () =>
          changed ? `line stopped for ${scopeLabel(stop.scope)}: ${stop.reason}` : `the line was already stopped for ${scopeLabel(stop.scope)} by ${stop.by} since ${stop.since}: ${stop.reason}; nothing changed`,
        );
      }),
    );

  program
    .command('resume')
    .description('lift a stop; the releases it held carry on')
    .option('--env <env>', 'the environment to resume')
    .option('--all', 'lift the stop on every environment (the one made with `stop --all`)')
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--as <user>', 'who resumes it (default SLIPWAY_USER or the OS user; through the API, the token)')
    .addHelpText('after', '\nExample:\n  $ slipway resume --env prod --reason "incident 42 resolved"')
    .action(
      verb(async (ctx, opts: ScopeOptions) => {
        const { resumed, woken } = await ctx.backend().resumeLine({ scope: { env: opts.env, all: opts.all }, ...(opts.reason === undefined ? {} : { reason: opts.reason }), by: ctx.requester(opts.as) });
        ctx.print({ resumed, woken }, () => `line resumed for ${scopeLabel(resumed.scope)} (stopped by ${resumed.by} since ${resumed.since}); ${woken} held release(s) told to carry on`);
      }),
    );

  const model = program.commands.find((c) => c.name() === 'model');
  if (!model) throw new Error('registerLineCommands must run after registerModelCommands');
  for (const [name, description] of [
    ['quarantine', 'mark a version so it can never be released or rolled back to; its running release stops and compensates'],
    ['unquarantine', 'lift a quarantine (the version may be released again, through its gates)'],
  ] as const) {
    model
      .command(`${name} <model> <version>`)
      .description(description)
      .requiredOption('--reason <text>', 'why (recorded in the audit log)')
      .option('--as <user>', 'who does it (default SLIPWAY_USER or the OS user; through the API, the token)')
      .addHelpText('after', `\nExample:\n  $ slipway model ${name} fraud 1.4.0 --reason "leaks PII in outputs"`)
      .action(
        verb(async (ctx, modelName: string, version: string, opts: { reason: string; as?: string }) => {
          const req = { model: modelName, version, reason: opts.reason, by: ctx.requester(opts.as) };
          if (name === 'quarantine') {
            const { quarantine, changed } = await ctx.backend().quarantine(req);
            ctx.print({ quarantine, changed }, () => (changed ? `${modelName}@${version} quarantined: ${quarantine.reason}` : `${modelName}@${version} was already quarantined by ${quarantine.by} since ${quarantine.since}; nothing changed`));
          } else {
            const { lifted } = await ctx.backend().unquarantine(req);
            ctx.print({ lifted }, () => `${modelName}@${version} is no longer quarantined (was since ${lifted.since}, by ${lifted.by})`);
          }
        }),
      );
  }
}
