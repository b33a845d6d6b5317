/**
 * `slipway demo`: the three-release demo (good / worse / fails live) on the
 * local serving target, against the running stack, with its own worker.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { verb } from '../verb';
import { printErr, printOut } from '../terminal';

/** registerDemoCommand adds `slipway demo`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('register fraud v1-v3, send live traffic, and release them: v1 promoted after approval, v2 stopped by its eval gate, v3 rolled back by canary analysis')
    .option('--model <name>', 'model name to use', 'fraud')
    .option('--approve-as <user>', 'approve v1 as this user instead of waiting for you (alice or bob)')
    .addHelpText('after', '\nExample (with `npx slipway dev --no-demo` running):\n  $ npx slipway demo\n  $ npx slipway demo --approve-as alice --json')
    .action(
      verb(async (ctx, opts: { model: string; approveAs?: string }) => {
        // Loaded on use: a worker and model servers are heavy, and other verbs should start fast.
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- require: tsx resolves it under CommonJS, dynamic import() does not
        const { createSlipwayWorker } = require('../../workers/worker') as typeof import('../../workers/worker');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runDemo } = require('../../demo/run-demo') as typeof import('../../demo/run-demo');
        const service = await ctx.releases();
        const workDir = path.resolve(__dirname, '..', '..', '.slipway', 'demo');
        const taskQueue = `${ctx.config.taskQueue}-demo`;
        const { worker, close, supervisor } = await createSlipwayWorker({
          temporalAddress: ctx.temporal().address,
          temporalTransport: ctx.temporal().transport,
          namespace: ctx.temporal().namespace,
          taskQueue,
          db: service.registry.db,
          codecKeys: ctx.config.codecKeys,
          localServingDir: path.join(workDir, 'serving'),
        });
        const running = worker.run();
        try {
          const outcome = await runDemo({
            service: service.onTaskQueue(taskQueue),
            supervisor: supervisor!,
            workDir,
            model: opts.model,
            autoApproveAs: opts.approveAs,
            print: (line) => (ctx.json ? printErr(line) : printOut(line)),
          });
          ctx.print(outcome, () => 'demo: done');
        } finally {
          worker.shutdown();
          await running;
          await close();
        }
      }),
    );
}
