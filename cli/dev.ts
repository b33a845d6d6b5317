/**
 * `slipway dev`: the embedded stack — Temporal dev server with its Web UI, the
 * registry database, a worker and the HTTP API — until Ctrl-C.
 */
import path from 'node:path';
import type { Command } from 'commander';

/** registerDevCommand adds `slipway dev` to the program. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('start the embedded stack (Temporal + Web UI, registry DB, worker, API) and print its URLs')
    .option('--temporal-port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--mongo-port <port>', 'registry database port (when Slipway starts one)', '27017')
    .option('--api-port <port>', 'HTTP API port (default SLIPWAY_API_PORT or 8787)')
    .option('--no-demo', 'do not run the three-release demo on start')
    .option('--data-dir <dir>', 'where the servers keep their data', path.resolve(__dirname, '..', '.slipway', 'data'))
    .addHelpText('after', '\nExample:\n  $ npx slipway dev\n  $ npx slipway dev --temporal-port 7300 --ui-port 8300')
    .action(async (opts: { temporalPort: string; uiPort: string; mongoPort: string; apiPort?: string; dataDir: string; demo: boolean }) => {
      // Loaded on use: the worker, API and servers are heavy, and every other verb should start fast.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- require: tsx resolves it under CommonJS, dynamic import() does not
      const { runDev } = require('./dev-run') as typeof import('./dev-run');
      await runDev(opts);
    });
}
