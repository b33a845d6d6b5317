/**
 * The `slipway` command line: for CI scripts and people.
 */
import { Command } from 'commander';
import { registerAuditCommands } from './commands/audit';
import { registerDemoCommand } from './commands/demo';
import { registerDoraCommand } from './commands/dora';
import { registerKeysCommands } from './commands/keys';
import { registerLineCommands } from './commands/line';
import { registerModelCommands } from './commands/model';
import { registerPipelineCommands } from './commands/pipeline';
import { registerReleaseCommands } from './commands/release';
import { registerSubscriptionCommands } from './commands/subscription';
import { errorBody } from './context';
import { registerDevCommand } from './dev';
import { printErr, printJson } from './terminal';

/** buildProgram assembles every verb; exported so tests can parse without a subprocess. */
export function buildProgram(): Command {
  const program = new Command('slipway')
    .description('Release-promotion engine for AI models: registry, gates, approvals, rollback')
    .option('--json', 'print one JSON document on stdout (errors too), for scripts and CI')
    // With SLIPWAY_API_URL, verbs go through the API as this token's identity; prefer SLIPWAY_TOKEN (argv is visible to other users).
    .option('--token <token>', 'API bearer token or CI ID token (default SLIPWAY_TOKEN); needs SLIPWAY_API_URL')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 (bad input), per the CLI contract, not commander's default 1;
    // under --json they are one JSON document on stdout too, like every other error.
    .exitOverride((err) => {
      if (err.exitCode !== 0 && program.opts().json) printJson(errorBody(err));
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  registerDevCommand(program);
  registerModelCommands(program);
  registerLineCommands(program);
  registerPipelineCommands(program);
  registerReleaseCommands(program);
  registerDoraCommand(program);
  registerAuditCommands(program);
  registerDemoCommand(program);
  registerKeysCommands(program);
  registerSubscriptionCommands(program);
  return program;
}

/** run parses argv and executes the verb; unexpected errors exit 1 with a one-line message. */
export async function run(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    printErr(`slipway: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
