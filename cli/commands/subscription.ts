/**
 * `slipway subscription add|list|remove|deliveries`: receivers of release
 * events kept on the server. Through the API (admin to change) or directly
 * against the registry database; the validation and the audit are the
 * registry's SubscriptionStore either way.
 */
import type { Command } from 'commander';
import type { DeliveryView, SubscriptionView } from '../../registry/subscriptions';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerSubscriptionCommands adds the subscription verbs. */
export function registerSubscriptionCommands(program: Command): void {
  const subscription = program.command('subscription').description('receivers of signed release events (CloudEvents 1.0 or Slack), kept on the server');

  subscription
    .command('add')
    .description('send the chosen events to a URL, signed with the secret in a worker variable')
    .requiredOption('--url <url>', 'the receiver (https; http only on loopback)')
    .requiredOption('--events <patterns>', 'comma-separated event types or globs, e.g. "release.approval.*,release.ended" or "*"')
    .option('--format <format>', 'cloudevents (default) or slack (incoming-webhook JSON)', 'cloudevents')
    .option('--secret-env <NAME>', 'worker variable holding the HMAC secret (must start with SLIPWAY_EVENT_SECRET_); required for cloudevents')
    .option('--as <user>', 'who adds it (default SLIPWAY_USER or the OS user), recorded as unverified')
    .addHelpText('after', '\nExample:\n  $ slipway subscription add --url https://hooks.example.com/slipway --events "release.approval.*,release.ended" --secret-env SLIPWAY_EVENT_SECRET_OPS')
    .action(
      verb(async (ctx, opts: { url: string; events: string; format: string; secretEnv?: string; as?: string }) => {
        const body = { url: opts.url, events: opts.events.split(','), format: opts.format, ...(opts.secretEnv !== undefined ? { secretEnv: opts.secretEnv } : {}) };
        const added = ctx.api
          ? (ctx.requester(opts.as), await ctx.api.request<SubscriptionView>('POST', '/subscriptions', { body, dateKeys: ['createdAt'] }))
          : await (await ctx.subscriptions()).add(body, ctx.directActor(opts.as));
        ctx.print(added, () => `added ${added.id}: ${added.events.join(', ')} → ${added.url} (${added.format})`);
      }),
    );

  subscription
    .command('list')
    .description('every subscription (URLs redacted)')
    .action(
      verb(async (ctx) => {
        const subscriptions = ctx.api
          ? (await ctx.api.request<{ subscriptions: SubscriptionView[] }>('GET', '/subscriptions', { dateKeys: ['createdAt'] })).subscriptions
          : await (await ctx.subscriptions()).list();
        ctx.print({ subscriptions }, () =>
          subscriptions.length === 0
            ? 'no subscriptions; add one with `slipway subscription add --url <url> --events "*" --secret-env SLIPWAY_EVENT_SECRET_<NAME>`'
            : subscriptions.map((s) => `${s.id}  ${s.format.padEnd(11)} ${s.url}  ${s.events.join(',')}  secret ${s.secretEnv ?? '-'}  by ${s.createdBy}`).join('\n'),
        );
      }),
    );

  subscription
    .command('remove <id>')
    .description('stop sending events to a subscription')
    .option('--as <user>', 'who removes it (default SLIPWAY_USER or the OS user), recorded as unverified')
    .action(
      verb(async (ctx, id: string, opts: { as?: string }) => {
        const removed = ctx.api
          ? (ctx.requester(opts.as), await ctx.api.request<{ removed: string }>('DELETE', `/subscriptions/${encodeURIComponent(id)}`))
          : await (await ctx.subscriptions()).remove(id, ctx.directActor(opts.as));
        ctx.print(removed, () => `removed ${removed.removed}`);
      }),
    );

  subscription
    .command('deliveries')
    .description('the latest deliveries: status, attempts, last answer, next retry')
    .option('--subscription <id>', 'only this subscription\'s')
    .option('--limit <n>', 'how many (1-500)', '50')
    .action(
      verb(async (ctx, opts: { subscription?: string; limit: string }) => {
        if (!/^[1-9][0-9]{0,2}$/.test(opts.limit) || Number(opts.limit) > 500) throw new CliError(ExitCode.badInput, `--limit must be a whole number from 1 to 500, got "${opts.limit}"`);
        const limit = Number(opts.limit);
        const dateKeys = ['nextRetryAt', 'recordedAt', 'deliveredAt', 'updatedAt', 'at'];
        const deliveries = ctx.api
          ? (await ctx.api.request<{ deliveries: DeliveryView[] }>('GET', '/subscriptions/deliveries', { query: { subscription: opts.subscription, limit }, dateKeys })).deliveries
          : await (await ctx.subscriptions()).listDeliveries({ subscriptionId: opts.subscription, limit });
        ctx.print({ deliveries }, () =>
          deliveries.length === 0
            ? 'no deliveries yet'
            : deliveries
                .map((d) => {
                  const next = d.nextRetryAt ? `  next retry ${new Date(d.nextRetryAt).toISOString()}` : '';
                  const last = d.lastHttpStatus !== null ? `HTTP ${d.lastHttpStatus}` : (d.lastError ?? '-');
                  return `${d.status.padEnd(9)} ${String(d.attempts).padStart(2)} attempt(s)  ${last}${next}  ${d.eventType}  ${d.eventId}  → ${d.subscriptionId}`;
                })
                .join('\n'),
        );
      }),
    );
}
