/**
 * `slipway audit verify`: walks the audit chains in the registry database
 * and checks them against the signed checkpoints, trusting
 * SLIPWAY_API_PUBLIC_KEYS and the public halves of the configured keys.
 */
import type { Command } from 'commander';
import type { Registry } from '../../registry/registry';
import { configuredKeys } from '../../lib/keys';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerAuditCommands adds `audit verify`. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('check the tamper-evident audit log');

  audit
    .command('verify')
    .description('recompute every hash of the audit chains and check them against the signed checkpoints; exit 0 if intact, 1 on tampering')
    .option('--model <model>', "only this model's chain")
    .addHelpText('after', '\nTrusted keys: SLIPWAY_API_PUBLIC_KEYS (base64 raw Ed25519, comma-separated), plus SLIPWAY_API_SIGNING_KEY / SLIPWAY_AUDIT_SIGNING_KEY when set.\n\nExample:\n  $ slipway audit verify --model fraud --json')
    .action(
      verb(async (ctx, opts: { model?: string }) => {
        let result: Awaited<ReturnType<Registry['audit']['verifyAudit']>>;
        if (ctx.api) {
          // The API verifies against the keys it trusts; its answer is the same document.
          result = await ctx.api.request('GET', '/audit/verify', { query: { model: opts.model } });
        } else {
          let trustedKeys;
          try {
            trustedKeys = configuredKeys(ctx.config).trusted;
          } catch (err) {
            throw new CliError(ExitCode.badInput, (err as Error).message);
          }
          result = await (await ctx.registry()).audit.verifyAudit({ model: opts.model, trustedKeys });
        }
        ctx.print(result, () => {
          const signed = result.checkpointsChecked
            ? result.checkpoints.map((c) => `  ${c.chain}: ${c.newest ? `checkpoint at seq ${c.newest.seq} (${c.newest.at}, key ${c.newest.keyId})` : 'no signed checkpoint'}`).join('\n')
            : '  checkpoints not checked: no trusted keys (set SLIPWAY_API_PUBLIC_KEYS)';
          if (result.ok) return `audit log intact: ${result.checked} events checked\n${signed}`;
          const b = result.brokenAt!;
          return `audit log TAMPERED: chain ${b.chain}, event ${b.seq}: ${b.reason}\n(${result.checked} events checked before it)`;
        });
        return result.ok ? ExitCode.ok : ExitCode.releaseFailed;
      }),
    );
}
