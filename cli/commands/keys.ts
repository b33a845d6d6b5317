/**
 * `slipway keys`: the API's Ed25519 signing key. `generate` writes a new
 * private key (mode 0600); `public` prints the public half that workers and
 * auditors trust (SLIPWAY_API_PUBLIC_KEYS). Needs no server.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { Signer } from '../../lib/signing';
import { CliError } from '../context';
import { ExitCode } from '../exit-codes';
import { verb } from '../verb';

/** registerKeysCommands adds `slipway keys generate <file>` and `slipway keys public <file>`. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("the API's signing key: generate one, print its public half");
  keys
    .command('generate <file>')
    .description('write a new Ed25519 private key (PKCS#8 PEM, mode 0600) for SLIPWAY_API_SIGNING_KEY; refuses to overwrite')
    .action(
      verb(async (ctx, file: string) => {
        const signer = Signer.generate();
        try {
          fs.writeFileSync(file, signer.pem(), { mode: 0o600, flag: 'wx' });
        } catch (err) {
          throw new CliError(ExitCode.badInput, `<file>: cannot write ${file}: ${(err as Error).message}`);
        }
        ctx.print({ file, keyId: signer.keyId, publicKey: signer.publicKey }, () => `wrote ${file}\nSLIPWAY_API_PUBLIC_KEYS=${signer.publicKey}   (key id ${signer.keyId})`);
      }),
    );
  keys
    .command('public <file>')
    .description('print the public key (for SLIPWAY_API_PUBLIC_KEYS) of a private key file')
    .action(
      verb(async (ctx, file: string) => {
        let signer: Signer;
        try {
          signer = Signer.fromPemFile(file, '<file>');
        } catch (err) {
          throw new CliError(ExitCode.badInput, (err as Error).message);
        }
        ctx.print({ keyId: signer.keyId, publicKey: signer.publicKey }, () => signer.publicKey);
      }),
    );
}
